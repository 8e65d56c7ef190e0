import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import crypto from "node:crypto";
import { Webhook } from "standardwebhooks";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";

/** Seed 001's verification code, verbatim apart from types. */
function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  const expected = crypto.createHmac("sha256", secret).update(payload).digest("hex");
  const expectedSig = `sha256=${expected}`;
  return signature.length === expectedSig.length && crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSig));
}

let s: TestServer;
let r: Receiver;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "100ms,200ms,300ms", WEBHOOKD_DISABLE_AFTER: "2" });
  r = startReceiver();
});
afterAll(async () => {
  r.stop();
  await s.stop();
});

describe("publish and deliver", () => {
  test("a published event arrives signed, verifiable by seed 001's code and by standardwebhooks", async () => {
    const { key } = await s.newTenant();
    const created = await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url + "/hook", events: ["call.ended"] } });
    const secret = created.body.data.secret as string;
    const before = r.received.length;
    const pub = await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { id: "abc123", duration: 45 } } });
    expect(pub.status).toBe(202);
    expect(pub.body.data).toMatchObject({ event: "call.ended", deliveries: 1, duplicate: false });
    const [got] = (await r.waitFor(before + 1)).slice(before);
    const body = got!.body;
    expect(JSON.parse(body)).toEqual({ event: "call.ended", timestamp: pub.body.data.timestamp, data: { id: "abc123", duration: 45 } });
    // Seed 001's handler re-serializes req.body: that must give the same bytes.
    expect(JSON.stringify(JSON.parse(body))).toBe(body);
    expect(verifyWebhookSignature(JSON.stringify(JSON.parse(body)), got!.headers["x-webhook-signature"]!, secret)).toBe(true);
    expect(() => new Webhook(secret).verify(body, got!.headers)).not.toThrow();
    expect(got!.headers["webhook-id"]).toBe(pub.body.data.id);
    expect(got!.headers["x-webhook-event"]).toBe("call.ended");
    expect(got!.headers["user-agent"]).toMatch(/^webhookd\//);
  });

  test("410 Gone from the receiver disables the endpoint at once (reason gone), and that delivery is not retried", async () => {
    const gone = startReceiver((req) => ({ status: req.body.includes('"n":1') ? 410 : 200, delayMs: req.body.includes('"n":1') ? 0 : 300 }));
    try {
      const { key } = await s.newTenant();
      const id = (await s.api("POST", "/api/v1/webhooks", { key, body: { url: gone.url + "/hook" } })).body.data.id as string;
      for (const n of [1, 2, 3]) await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n } } });
      const ep = await eventually(async () => {
        const e = (await s.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data;
        return e.status === "disabled" ? e : null;
      });
      expect(ep).toMatchObject({ isActive: false, disabledReason: "gone", consecutiveFailures: 1, failureCount: 1 });
      await Bun.sleep(500); // the retry schedule is 100 ms: a retry of the 410 would have come by now
      expect(gone.received.filter((x) => x.body.includes('"n":1'))).toHaveLength(1);
      const failed = (await s.api("GET", `/api/v1/webhooks/${id}/deliveries?status=failed`, { key })).body.data;
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ attempts: 1, statusCode: 410 });
      const seed003 = await fetch(`${s.url}/v1/webhook_endpoints/${id}`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.json());
      expect(seed003).toMatchObject({ status: "disabled", disabled_reason: "gone" });
    } finally {
      gone.stop();
    }
  });

  test("a failing receiver gets retries on schedule, then the endpoint is disabled after 2 exhausted deliveries", async () => {
    const { key } = await s.newTenant();
    const fail = startReceiver(() => ({ status: 500 }));
    try {
      const created = await s.api("POST", "/api/v1/webhooks", { key, body: { url: fail.url } });
      const id = created.body.data.id;
      await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: 1 } } });
      const four = await fail.waitFor(4);
      expect(new Set(four.map((x) => x.headers["webhook-id"])).size).toBe(1);
      const gaps = [1, 2, 3].map((i) => four[i]!.at - four[i - 1]!.at);
      [100, 200, 300].forEach((want, i) => expect(gaps[i]!).toBeGreaterThanOrEqual(want * 0.9 - 5));
      const ep1 = await eventually(async () => {
        const e = (await s.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data;
        return e.failureCount === 1 ? e : null;
      });
      expect(ep1).toMatchObject({ consecutiveFailures: 1, isActive: true });
      await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: 2 } } });
      const ep2 = await eventually(async () => {
        const e = (await s.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data;
        return e.status === "disabled" ? e : null;
      });
      expect(ep2).toMatchObject({ isActive: false, disabledReason: "too_many_failures", consecutiveFailures: 2, failureCount: 2 });
      expect(ep2.disabledAt).toBeString();
      const log = await s.api("GET", `/api/v1/webhooks/${id}/deliveries?success=false`, { key });
      expect(log.body.data).toHaveLength(2);
      expect(log.body.data[0]).toMatchObject({ status: "failed", attempts: 4, statusCode: 500, success: false });
      expect(log.body.pagination).toEqual({ page: 1, limit: 20, total: 2, hasMore: false, totalExact: true, nextBefore: null });
      // Replay brings a failed delivery back once the receiver is healthy and the endpoint enabled again.
      fail.respond(() => ({ status: 200 }));
      expect((await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { isActive: true } })).status).toBe(200);
      const replay = await s.api("POST", `/api/v1/webhooks/${id}/deliveries/${log.body.data[0].id}/replay`, { key });
      expect(replay.status).toBe(200);
      expect(replay.body.data).toMatchObject({ success: true, statusCode: 200 });
      const detail = await s.api("GET", `/api/v1/webhooks/${id}/deliveries/${log.body.data[0].id}`, { key });
      expect(detail.body.data.status).toBe("succeeded");
      expect(detail.body.data.attempts).toBe(4);
      expect(detail.body.data.attemptLog.map((a: any) => a.trigger)).toEqual(["scheduled", "scheduled", "scheduled", "scheduled", "replay"]);
    } finally {
      fail.stop();
    }
  });
});
