/** The deliveries service's background work (recover), with an injected send. */
import { describe, expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { createDeliveriesService } from "../../src/api/deliveries/service.ts";
import type { SendNow } from "../../src/lib/send-now.ts";
import { ServiceUnavailableError } from "../../src/lib/errors.ts";

function service(failedIds: string[], sendNow: SendNow) {
  return createDeliveriesService({
    deliveries: {
      countFailedSince: async () => failedIds.length,
      failedIdsSince: async (_e: string, _s: number, afterId: string, limit: number) => failedIds.filter((id) => id > afterId).slice(0, limit),
    } as any,
    attempts: {} as any,
    events: {} as any,
    endpoints: { getWithDeleted: async () => ({ id: "wh_1", enabled: true, deletedAt: null }) } as any,
    eventsService: {} as any,
    catalog: [],
    clock: manualClock(0),
    sendNow,
    sendNowFallbackMs: 60_000,
  });
}

describe("recover", () => {
  test("a replay that cannot be recorded neither stops the others nor escapes as an unhandled rejection", async () => {
    const tried: string[] = [];
    let unhandled: unknown = null;
    const onUnhandled = (reason: unknown) => (unhandled = reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const ids = ["dlv_1", "dlv_2", "dlv_3", "dlv_4", "dlv_5", "dlv_6"];
      const svc = service(ids, async (id) => {
        tried.push(id);
        await Bun.sleep(1);
        if (id === "dlv_2") throw new ServiceUnavailableError("STORAGE_UNAVAILABLE", "disk full");
        return { sent: { deliveryId: id, success: true, statusCode: 200, durationMs: 1, error: null } };
      });
      expect(await svc.recover("org_1", "wh_1", 0)).toEqual({ deliveries: 6 });
      await Bun.sleep(50);
      expect(tried.sort()).toEqual(ids);
      expect(unhandled).toBeNull();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  test("an invalid since is a validation error", async () => {
    const svc = service([], async () => ({ refused: "delivery_gone" }));
    await expect(svc.recover("org_1", "wh_1", Number.NaN)).rejects.toThrow("since must be an ISO-8601 date-time.");
  });
});
