/**
 * Publishing: validate, match subscriptions, then write the event and one delivery per
 * matching endpoint in the shared group-commit transaction. Resolves only after the commit,
 * so a 2xx means the rows are on disk; then hands the new deliveries to the scheduler.
 */
import type { Clock } from "../../lib/clock.ts";
import { NotFoundError, PayloadTooLargeError, RateLimitedError, ValidationError } from "../../lib/errors.ts";
import type { RateLimiter } from "../../lib/token-bucket.ts";
import { newId } from "../../lib/ids.ts";
import { webhookBodyOf } from "../../lib/webhook-body.ts";
import { exampleData, type EventTypeCatalog } from "../../event-catalog.ts";
import type { DeliveriesReads, DeliveryRow, DueDelivery, EndpointCache, EventRow, EventsReads, NewDelivery, StoreTx, StoreWrite } from "../../store/port.ts";
import { filtersMatch } from "../webhooks/endpoint-rules.ts";
import { idempotencyKeyReused } from "../idempotency/service.ts";

export interface PublishInput {
  event: string;
  data: Record<string, unknown>;
  id?: string;
}

export interface PublishResult {
  id: string;
  event: string;
  timestamp: string;
  deliveries: number;
  /** True when this id was published before: nothing new was sent. */
  duplicate: boolean;
}

export interface EventsServiceDeps {
  events: EventsReads;
  deliveries: DeliveriesReads;
  endpointCache: EndpointCache;
  write: StoreWrite;
  catalog: EventTypeCatalog;
  clock: Clock;
  maxPayloadBytes: number;
  /** The per-org publish rate (events per second, keyed by org id); null when off. */
  orgPublishRate: RateLimiter | null;
  /** Committed deliveries that are due now. */
  onScheduled: (due: DueDelivery[]) => void;
  /** How many new events (not duplicates) a publish committed: for metrics. */
  onPublished?: (count: number) => void;
}

export const MAX_BATCH = 1000;

/**
 * Bodies up to this size travel with their new deliveries to the first attempt, saving a read
 * per delivery; the scheduler's in-memory cap (50,000) keeps that under ~50 MB at worst.
 */
const PRELOAD_MAX_BODY = 1024;

/**
 * Client ids and Idempotency-Keys dedupe in separate namespaces, so one never shadows the other.
 * Both are org-wide: an event belongs to the org, whichever of its keys publishes it.
 */
function dedupeKey(clientId?: string, idempotencyKey?: string): string | null {
  if (clientId !== undefined) return `id:${clientId}`;
  if (idempotencyKey !== undefined) return `key:${idempotencyKey}`;
  return null;
}

/**
 * An Idempotency-Key promises the first response only to the same request; a client id names
 * the event itself, so a repeated id is a duplicate whatever it carries.
 */
function mustMatchRequest(dedupe: string): boolean {
  return dedupe.startsWith("key:");
}


export function createEventsService(deps: EventsServiceDeps) {
  const known = new Set(deps.catalog.map((e) => e.name));

  /** Returns `data` serialized, which the body reuses. */
  function validate(input: PublishInput, label: string): string {
    if (!known.has(input.event)) {
      throw new ValidationError(`${label}event: unknown event type "${input.event}"; see GET /api/v1/event-types.`, `${label}event`);
    }
    const dataJson = JSON.stringify(input.data);
    const size = Buffer.byteLength(dataJson);
    if (size > deps.maxPayloadBytes) {
      throw new PayloadTooLargeError(`${label}data is ${size} bytes; the limit is ${deps.maxPayloadBytes}.`);
    }
    return dataJson;
  }

  /** Runs inside the batch transaction: everything for one event, or nothing. */
  /** `dueInMs` delays the new deliveries' due time (a test sent at once keeps its row out of the schedule). */
  function write(orgId: string, input: PublishInput, dataJson: string, dedupeKey: string | null, isTest: boolean, only?: string[], dueInMs = 0) {
    const now = deps.clock();
    const timestamp = new Date(now).toISOString();
    const row: EventRow = {
      id: newId("evt", now),
      orgId,
      type: input.event,
      body: webhookBodyOf(input.event, timestamp, dataJson),
      dedupeKey,
      isTest,
      createdAt: now,
    };
    return async (tx: StoreTx): Promise<{ result: PublishResult; due: DueDelivery[] }> => {
      if (!(await tx.events.insertIfNew(row))) {
        const existing = (await tx.events.findByDedupeKey(orgId, dedupeKey!))!;
        const publishedAt = new Date(existing.createdAt).toISOString();
        // The same event and data give the same body with the first publish's timestamp.
        if (mustMatchRequest(dedupeKey!) && existing.body !== webhookBodyOf(input.event, publishedAt, dataJson)) throw idempotencyKeyReused();
        const count = (await tx.deliveries.listForEvent(existing.id)).length;
        return { result: { id: existing.id, event: existing.type, timestamp: publishedAt, deliveries: count, duplicate: true }, due: [] };
      }
      const targets = (await deps.endpointCache.liveForOrg(orgId))
        // A test goes to the endpoints named, or to every enabled one (seed 004), whatever their filters.
        .filter((e) => e.enabled && (only ? only.includes(e.id) : isTest || filtersMatch(e.events, input.event)));
      const preload = row.body.length <= PRELOAD_MAX_BODY;
      const rows: NewDelivery[] = targets.map((e) => ({ id: newId("dlv", now), orgId, eventId: row.id, endpointId: e.id, eventType: input.event, dueAt: now + dueInMs, createdAt: now }));
      await tx.deliveries.insertMany(rows);
      const due = rows.map(({ id, endpointId }): DueDelivery => {
        const preloaded = preload
          ? { id, orgId, eventId: row.id, endpointId, eventType: input.event, status: "pending" as const, attempts: 0, body: row.body, isTest }
          : undefined;
        return { id, orgId, endpointId, nextAttemptAt: now, preloaded };
      });
      return { result: { id: row.id, event: row.type, timestamp, deliveries: due.length, duplicate: false }, due };
    };
  }

  /** Charged per event, after validation: a refused request costs nothing. */
  function admit(orgId: string, events: number): void {
    const r = deps.orgPublishRate?.take(orgId, events);
    if (r && !r.allowed) throw new RateLimitedError(r.resetSeconds, "This organization's publish rate");
  }

  type PublishOp = (tx: StoreTx) => Promise<{ result: PublishResult; due: DueDelivery[] }>;
  async function commit(ops: PublishOp[]): Promise<PublishResult[]> {
    const done = await deps.write(async (tx) => {
      const results = [];
      for (const op of ops) results.push(await op(tx));
      return results;
    });
    deps.onPublished?.(done.filter((d) => !d.result.duplicate).length);
    deps.onScheduled(done.flatMap((d) => d.due));
    return done.map((d) => d.result);
  }

  return {
    async publish(orgId: string, input: PublishInput, idempotencyKey?: string): Promise<PublishResult> {
      const dataJson = validate(input, "");
      admit(orgId, 1);
      const [result] = await commit([write(orgId, input, dataJson, dedupeKey(input.id, idempotencyKey), false)]);
      return result!;
    },

    /** All or nothing: one invalid item rejects the batch, naming its index. */
    async publishBatch(orgId: string, inputs: PublishInput[]): Promise<PublishResult[]> {
      if (inputs.length === 0 || inputs.length > MAX_BATCH) throw new ValidationError(`events must hold 1 to ${MAX_BATCH} items.`, "events");
      const dataJsons = inputs.map((input, i) => validate(input, `events[${i}].`));
      const ids = inputs.map((i) => i.id).filter((id): id is string => id !== undefined);
      if (new Set(ids).size !== ids.length) throw new ValidationError("events: the same id appears twice in the batch.", "events");
      admit(orgId, inputs.length);
      return commit(inputs.map((input, i) => write(orgId, input, dataJsons[i]!, dedupeKey(input.id), false)));
    },

    /**
     * A synthetic test event for the given endpoints (or every enabled one), whatever their
     * filters. Not scheduled here: the caller sends it now or hands it to `schedule`. A caller
     * that sends it now passes `dueInMs` past the attempt's timeout: the row is then never due
     * while that send runs (no second send from the scheduler), yet due again after a crash.
     */
    async publishTest(orgId: string, type: string, endpointIds?: string[], dueInMs = 0): Promise<{ result: PublishResult; due: DueDelivery[] }> {
      const data = exampleData(deps.catalog, type);
      return deps.write(write(orgId, { event: type, data }, JSON.stringify(data), null, true, endpointIds, dueInMs));
    },

    schedule: (due: DueDelivery[]) => deps.onScheduled(due),

    async get(orgId: string, id: string): Promise<{ event: EventRow; deliveries: DeliveryRow[] }> {
      const event = await deps.events.get(orgId, id);
      if (!event) throw new NotFoundError("Event");
      return { event, deliveries: await deps.deliveries.listForEvent(id) };
    },
  };
}
export type EventsService = ReturnType<typeof createEventsService>;
