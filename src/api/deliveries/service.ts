/**
 * Delivery logs, replay, recover and test sends (seeds 002 and 004). Sending is injected (the
 * dispatcher's one queue and attempt path), so this module knows nothing of HTTP clients or
 * schedulers.
 */
import type { Clock } from "../../lib/clock.ts";
import { isId } from "../../lib/ids.ts";
import { ConflictError, EndpointDeletedError, EndpointDisabledError, NotFoundError, ValidationError } from "../../lib/errors.ts";
import type { AttemptSummary, SendNow, SendNowResult } from "../../lib/send-now.ts";
import type { EventTypeCatalog } from "../../event-catalog.ts";
import type { AttemptsReads, DeliveriesReads, DeliveryFilter, EndpointRow, EndpointsReads, EventsReads } from "../../store/port.ts";
import type { EventsService } from "../events/service.ts";
import { attemptView, deliveryLogView } from "./view.ts";


export interface DeliveriesServiceDeps {
  deliveries: DeliveriesReads;
  attempts: AttemptsReads;
  events: EventsReads;
  endpoints: EndpointsReads;
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
/** A recover reads and queues this many ids at a time: its memory is one page, not the whole run. */
const RECOVER_PAGE = 100;
/** The event type of a test sent to every endpoint when none is named. */
export const TEST_EVENT = "webhook.test";

export function createDeliveriesService(deps: DeliveriesServiceDeps) {
  /** Endpoints with a recover running: one at a time each. */
  const recovering = new Set<string>();

  /** The org's endpoint, deleted ones included: seed 002 keeps their logs for the retention window. */
  async function requireEndpoint(orgId: string, endpointId: string): Promise<EndpointRow> {
    const endpoint = await deps.endpoints.getWithDeleted(orgId, endpointId);
    if (!endpoint) throw new NotFoundError("Webhook endpoint");
    return endpoint;
  }

  /** Sending needs a live, enabled endpoint; reading its log does not. */
  function requireEnabled(endpoint: EndpointRow, what: string): void {
    if (endpoint.deletedAt !== null) throw new EndpointDeletedError();
    if (!endpoint.enabled) throw new EndpointDisabledError(what);
  }

  /** The outcome of a send, or the error saying why nothing was sent. */
  function summaryOf(result: SendNowResult, gone: () => Error): AttemptSummary {
    if ("sent" in result) return result.sent;
    throw result.refused === "endpoint_stopped" ? new EndpointDisabledError("send to it") : gone();
  }

  /** Replays a recover's deliveries page by page; stops early if the endpoint is stopped. */
  async function replayFailed(endpointId: string, since: number, total: number): Promise<void> {
    let afterId = "";
    for (let left = total; left > 0; ) {
      const ids = await deps.deliveries.failedIdsSince(endpointId, since, afterId, Math.min(RECOVER_PAGE, left));
      if (ids.length === 0) return;
      // One replay that cannot be recorded (storage fault, shutdown) must not stop the others.
      const results = await Promise.all(ids.map((id) => deps.sendNow(id, "replay", "background").catch(() => null)));
      if (results.some((r) => r && "refused" in r && r.refused === "endpoint_stopped")) return;
      left -= ids.length;
      afterId = ids.at(-1)!;
    }
  }

  async function requireDelivery(orgId: string, endpointId: string, deliveryId: string) {
    const endpoint = await requireEndpoint(orgId, endpointId);
    // A path id of the wrong shape (junk, NUL, huge) is simply not found, without a query.
    const delivery = isId("dlv", deliveryId) ? await deps.deliveries.get(endpointId, deliveryId) : undefined;
    if (!delivery) throw new NotFoundError("Delivery");
    return { endpoint, delivery };
  }

  return {
    async list(orgId: string, endpointId: string, page: number, limit: number, filter: DeliveryFilter) {
      const offset = (page - 1) * limit;
      if (offset >= MAX_PAGE_OFFSET) {
        throw new ValidationError(
          `page: at most ${MAX_PAGE_OFFSET} deliveries back; page further with before=<pagination.nextBefore>.`,
          "page",
        );
      }
      await requireEndpoint(orgId, endpointId);
      // One row more than asked says whether there is more, whatever the count stopped at.
      const rows = await deps.deliveries.page(endpointId, filter, offset, limit + 1);
      const hasMore = rows.length > limit;
      if (hasMore) rows.pop();
      const counted = await deps.deliveries.countUpTo(endpointId, filter, MAX_COUNTED + 1);
      // A character is at least one byte: this many characters always cover the preview.
      const bodies = await deps.events.bodies(rows.map((r) => r.eventId), LIST_PAYLOAD_BYTES);
      const latest = await deps.attempts.latestFor(rows.map((r) => r.id));
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

    async get(orgId: string, endpointId: string, deliveryId: string) {
      const d = (await requireDelivery(orgId, endpointId, deliveryId)).delivery;
      const attempts = await deps.attempts.latestForDelivery(d.id, MAX_ATTEMPT_LOG);
      const body = (await deps.events.bodies([d.eventId])).get(d.eventId);
      return { ...deliveryLogView(d, body ?? NO_BODY, attempts.at(-1)), attemptLog: attempts.map((a) => attemptView(a, d, body?.text ?? null)) };
    },

    async replay(orgId: string, endpointId: string, deliveryId: string): Promise<AttemptSummary> {
      // An unknown delivery is a 404 first, whatever the endpoint's state.
      requireEnabled((await requireDelivery(orgId, endpointId, deliveryId)).endpoint, "replay its deliveries");
      return summaryOf(await deps.sendNow(deliveryId, "replay"), () => new NotFoundError("Delivery"));
    },

    /**
     * Replays every failed delivery created since `since` (up to MAX_RECOVER), in the background,
     * through the dispatcher's queue and limits; returns how many. One recover per endpoint at a
     * time: a second while one runs is a 409, so a loop of calls cannot multiply the sends.
     */
    async recover(orgId: string, endpointId: string, since: number): Promise<{ deliveries: number }> {
      if (!Number.isFinite(since)) throw new ValidationError("since must be an ISO-8601 date-time.", "since");
      requireEnabled(await requireEndpoint(orgId, endpointId), "recover its deliveries");
      if (recovering.has(endpointId)) {
        throw new ConflictError("RECOVER_IN_PROGRESS", "A recover of this endpoint is still running; try again once it has finished.");
      }
      // Taken before the count's await: two recovers arriving together cannot both start.
      recovering.add(endpointId);
      let total: number;
      try {
        total = await deps.deliveries.countFailedSince(endpointId, since, MAX_RECOVER);
      } catch (error) {
        recovering.delete(endpointId);
        throw error;
      }
      if (total === 0) {
        recovering.delete(endpointId);
        return { deliveries: 0 };
      }
      // Nobody awaits this work; a failed replay stays failed, to recover again.
      void replayFailed(endpointId, since, total)
        .catch(() => {})
        .finally(() => recovering.delete(endpointId));
      return { deliveries: total };
    },

    /** Seed 002: a synthetic event of this type sent to one endpoint now; the outcome comes back. */
    async testEndpoint(orgId: string, endpointId: string, type: string): Promise<AttemptSummary & { eventId: string }> {
      requireEnabled(await requireEndpoint(orgId, endpointId), "send it a test");
      if (type !== TEST_EVENT && !deps.catalog.some((e) => e.name === type)) {
        throw new ValidationError(`event: unknown event type "${type}"; see GET /api/v1/event-types.`, "event");
      }
      const { result, due } = await deps.eventsService.publishTest(orgId, type, [endpointId], deps.sendNowFallbackMs);
      const gone = () => new NotFoundError("Webhook endpoint");
      if (!due[0]) throw gone();
      return { ...summaryOf(await deps.sendNow(due[0].id, "test"), gone), eventId: result.id };
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
