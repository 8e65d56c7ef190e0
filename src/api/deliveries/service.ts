/**
 * Delivery logs, replay, recover and test sends (seeds 002 and 004). Sending is injected (the
 * dispatcher's one attempt path), so this module knows nothing of HTTP clients or schedulers.
 */
import type { Clock } from "../../lib/clock.ts";
import { NotFoundError, UnprocessableError, ValidationError } from "../../lib/errors.ts";
import type { EventTypeCatalog } from "../../event-catalog.ts";
import type { AttemptsRepo } from "../../store/repositories/attempts.ts";
import type { DeliveriesRepo, DeliveryFilter } from "../../store/repositories/deliveries.ts";
import type { EndpointsRepo } from "../../store/repositories/endpoints.ts";
import type { EventsRepo } from "../../store/repositories/events.ts";
import type { EventsService } from "../events/service.ts";
import { attemptView, deliveryLogView } from "./view.ts";

export interface AttemptSummary {
  deliveryId: string;
  success: boolean;
  statusCode: number | null;
  durationMs: number;
  error: { code: string; message: string } | null;
}

export type SendNow = (deliveryId: string, trigger: "replay" | "test") => Promise<AttemptSummary | null>;

export interface DeliveriesServiceDeps {
  deliveries: DeliveriesRepo;
  attempts: AttemptsRepo;
  events: EventsRepo;
  endpoints: EndpointsRepo;
  eventsService: EventsService;
  catalog: EventTypeCatalog;
  clock: Clock;
  sendNow: SendNow;
  /** Longer than any attempt can run: how far out a test sent at once is due, should it be lost. */
  sendNowFallbackMs: number;
}

export const MAX_PAGE_SIZE = 100;
/**
 * Paging by `page` skips rows one by one, and an exact total counts every match: both grow with
 * the log. So `page` reaches this many rows back (further back, `before` pages by id at the same
 * cost anywhere), and `total` counts this far.
 */
export const MAX_PAGE_OFFSET = 10_000;
export const MAX_COUNTED = 10_000;
/**
 * What one response of the log holds, in bytes and not only rows: a list entry shows this much of
 * the payload (the rest is on GET of the one delivery), and that GET shows the latest attempts.
 * With the stored-response caps, an entry holds about 13 KiB of payload, response and error text.
 */
export const LIST_PAYLOAD_BYTES = 4096;
export const MAX_ATTEMPT_LOG = 100;
/** The payload shown should a delivery's event row be missing. */
const NO_BODY = { text: "", cut: false };
/** Recover replays at most this many deliveries per call; call again for the rest. */
export const MAX_RECOVER = 1000;
const RECOVER_CONCURRENCY = 4;
/** The event type of a test sent to every endpoint when none is named. */
export const TEST_EVENT = "webhook.test";

export function createDeliveriesService(deps: DeliveriesServiceDeps) {
  function requireEndpoint(orgId: string, endpointId: string) {
    const endpoint = deps.endpoints.get(orgId, endpointId);
    if (!endpoint) throw new NotFoundError("Webhook endpoint");
    return endpoint;
  }

  function requireDelivery(orgId: string, endpointId: string, deliveryId: string) {
    requireEndpoint(orgId, endpointId);
    const delivery = deps.deliveries.get(endpointId, deliveryId);
    if (!delivery) throw new NotFoundError("Delivery");
    return delivery;
  }

  return {
    list(orgId: string, endpointId: string, page: number, limit: number, filter: DeliveryFilter) {
      const offset = (page - 1) * limit;
      if (offset >= MAX_PAGE_OFFSET) {
        throw new ValidationError(
          `page: at most ${MAX_PAGE_OFFSET} deliveries back; page further with before=<pagination.nextBefore>.`,
          "page",
        );
      }
      requireEndpoint(orgId, endpointId);
      // One row more than asked says whether there is more, whatever the count stopped at.
      const rows = deps.deliveries.page(endpointId, filter, offset, limit + 1);
      const hasMore = rows.length > limit;
      if (hasMore) rows.pop();
      const counted = deps.deliveries.countUpTo(endpointId, filter, MAX_COUNTED + 1);
      // A character is at least one byte: this many characters always cover the preview.
      const bodies = deps.events.bodies(rows.map((r) => r.eventId), LIST_PAYLOAD_BYTES);
      const latest = deps.attempts.latestFor(rows.map((r) => r.id));
      return {
        items: rows.map((d) => deliveryLogView(d, bodies.get(d.eventId) ?? NO_BODY, latest.get(d.id), LIST_PAYLOAD_BYTES)),
        pagination: {
          page,
          limit,
          total: Math.min(counted, MAX_COUNTED),
          totalExact: counted <= MAX_COUNTED,
          hasMore,
          nextBefore: hasMore ? rows.at(-1)!.id : null,
        },
      };
    },

    get(orgId: string, endpointId: string, deliveryId: string) {
      const d = requireDelivery(orgId, endpointId, deliveryId);
      const attempts = deps.attempts.latestForDelivery(d.id, MAX_ATTEMPT_LOG);
      const body = deps.events.bodies([d.eventId]).get(d.eventId) ?? NO_BODY;
      return { ...deliveryLogView(d, body, attempts.at(-1)), attemptLog: attempts.map(attemptView) };
    },

    async replay(orgId: string, endpointId: string, deliveryId: string): Promise<AttemptSummary> {
      requireDelivery(orgId, endpointId, deliveryId);
      const summary = await deps.sendNow(deliveryId, "replay");
      if (!summary) throw new NotFoundError("Delivery");
      return summary;
    },

    /** Replays every failed delivery created since `since`, in the background; returns how many. */
    recover(orgId: string, endpointId: string, since: number): { deliveries: number } {
      if (!Number.isFinite(since)) throw new ValidationError("since must be an ISO-8601 date-time.", "since");
      requireEndpoint(orgId, endpointId);
      const ids = deps.deliveries.failedSince(endpointId, since, MAX_RECOVER).map((d) => d.id);
      const queue = [...ids];
      // Nobody awaits this work: one replay that cannot be recorded (storage fault, shutdown) must
      // neither stop the others nor become an unhandled rejection. It stays failed, to recover again.
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) await deps.sendNow(id, "replay").catch(() => null);
      };
      void Promise.all(Array.from({ length: RECOVER_CONCURRENCY }, worker));
      return { deliveries: ids.length };
    },

    /** Seed 002: a synthetic event of this type sent to one endpoint now; the outcome comes back. */
    async testEndpoint(orgId: string, endpointId: string, type: string): Promise<AttemptSummary & { eventId: string }> {
      const endpoint = requireEndpoint(orgId, endpointId);
      if (!endpoint.enabled) throw new UnprocessableError("ENDPOINT_DISABLED", "The endpoint is disabled; enable it (isActive: true) to send it a test.");
      if (type !== TEST_EVENT && !deps.catalog.some((e) => e.name === type)) {
        throw new ValidationError(`event: unknown event type "${type}"; see GET /api/v1/event-types.`, "event");
      }
      const { result, due } = await deps.eventsService.publishTest(orgId, type, [endpointId], deps.sendNowFallbackMs);
      const summary = due[0] ? await deps.sendNow(due[0].id, "test") : null;
      if (!summary) throw new NotFoundError("Webhook endpoint");
      return { ...summary, eventId: result.id };
    },

    /** Seed 004: a test event to every enabled endpoint of the org, delivered like any other. */
    async testAll(orgId: string, type = TEST_EVENT): Promise<{ messageId: string; deliveries: number }> {
      if (type !== TEST_EVENT && !deps.catalog.some((e) => e.name === type)) {
        throw new ValidationError(`event: unknown event type "${type}"; see GET /api/v1/event-types.`, "event");
      }
      const { result, due } = await deps.eventsService.publishTest(orgId, type);
      deps.eventsService.schedule(due);
      return { messageId: result.id, deliveries: due.length };
    },
  };
}
export type DeliveriesService = ReturnType<typeof createDeliveriesService>;
