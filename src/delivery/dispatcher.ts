/**
 * The dispatcher: takes due deliveries, runs each attempt (load → sign → send → record →
 * reschedule) under a global and a per-endpoint concurrency limit, and records outcomes through
 * the group-commit batcher. Scheduled attempts, replays and test sends share one attempt path.
 */
import type { Clock } from "../lib/clock.ts";
import { newId } from "../lib/ids.ts";
import type { Logger } from "../lib/logger.ts";
import type { WebhookdMetrics } from "../lib/metrics.ts";
import type { AttemptTrigger } from "../store/schema.ts";
import type { EndpointCache } from "../store/endpoint-cache.ts";
import type { WriteBatcher } from "../store/write-batcher.ts";
import type { AttemptsRepo } from "../store/repositories/attempts.ts";
import type { DeliveriesRepo, DeliveryForAttempt, DueDelivery } from "../store/repositories/deliveries.ts";
import type { EndpointRow, EndpointsRepo } from "../store/repositories/endpoints.ts";
import type { AttemptResult, HttpClient } from "./http-client.ts";
import type { RetryDecision, RetryPolicy } from "./retry-policy.ts";
import type { PendingCancellation } from "../store/pending-canceller.ts";
import { webhookHeaders } from "./webhook-request.ts";

export interface DispatcherDeps {
  deliveries: DeliveriesRepo;
  attempts: AttemptsRepo;
  endpoints: EndpointsRepo;
  endpointCache: EndpointCache;
  batcher: WriteBatcher;
  client: HttpClient;
  policy: RetryPolicy;
  /** Plaintext secrets that sign for this endpoint now (current first). */
  signingSecrets: (endpoint: EndpointRow) => string[];
  clock: Clock;
  logger: Logger;
  metrics: WebhookdMetrics;
  userAgent: string;
  concurrency: number;
  endpointConcurrency: number;
  attemptTimeoutMs: number;
  disableAfter: number;
  /** Cancels the pending deliveries of an endpoint this disables. */
  cancellation: PendingCancellation;
  /**
   * Called once for every delivery handed to `enqueue`, when the dispatcher is done with it:
   * with its retry when one is due later, else with null (finished, skipped or gone).
   */
  onSettled: (id: string, retry: DueDelivery | null) => void;
}


const endpointKey = (endpointId: string) => `endpoint-counters:${endpointId}`;

/** If recording an outcome fails (disk full, locked), try the delivery again this much later. */
const RECORD_FAILURE_RETRY_MS = 5_000;

export function createDispatcher(deps: DispatcherDeps) {
  const ready: DueDelivery[] = [];
  let readyHead = 0;
  const parked = new Map<string, DueDelivery[]>();
  const inflightByEndpoint = new Map<string, number>();
  let inflight = 0;
  let parkedCount = 0;
  /** Endpoints whose slot freed while they had parked work: resumed before new work. */
  const resumable: string[] = [];
  let running = true;
  const settling = new Set<Promise<unknown>>();

  function track<T>(p: Promise<T>): Promise<T> {
    settling.add(p);
    p.finally(() => settling.delete(p)).catch(() => {});
    return p;
  }

  async function send(d: DeliveryForAttempt, endpoint: EndpointRow, stillWanted?: () => boolean): Promise<{ result: AttemptResult; at: number }> {
    const at = deps.clock();
    const headers = webhookHeaders({
      eventId: d.eventId,
      eventType: d.eventType,
      body: d.body,
      secrets: deps.signingSecrets(endpoint),
      at,
      userAgent: deps.userAgent,
    });
    const result = await deps.client.send({ url: endpoint.url, headers, body: d.body, timeoutMs: deps.attemptTimeoutMs, stillWanted });
    deps.metrics.attemptDuration.observe(result.durationMs / 1000);
    return { result, at };
  }

  function attemptRow(d: DeliveryForAttempt, endpoint: EndpointRow, trigger: AttemptTrigger, number: number, r: AttemptResult, at: number) {
    deps.attempts.insert({
      id: newId("att", at),
      deliveryId: d.id,
      endpointId: endpoint.id,
      trigger,
      attemptNumber: number,
      url: endpoint.url,
      statusCode: r.statusCode,
      durationMs: Math.round(r.durationMs),
      errorCode: r.error?.code ?? null,
      errorMessage: r.error?.message ?? null,
      responseHeaders: r.responseHeaders,
      responseBody: r.responseBody,
      createdAt: at,
    });
  }

  /**
   * An attempt's mark on its endpoint (last triggered; a success also ends the run of failures),
   * in a batch's ops. One endpoint gets many per commit, so they are merged into one UPDATE.
   */
  function touchEndpoint(endpointId: string, at: number, success: boolean): void {
    deps.batcher.coalesce<{ reset: boolean; at: number }>(
      endpointKey(endpointId),
      (previous) => ({ reset: success || (previous?.reset ?? false), at }),
      (s) => (s.reset ? deps.endpoints.recordSuccess(endpointId, s.at) : deps.endpoints.recordTriggered(endpointId, s.at)),
    );
  }

  function outcomeFields(r: AttemptResult, at: number) {
    return {
      lastAttemptAt: at,
      lastStatusCode: r.statusCode,
      lastDurationMs: Math.round(r.durationMs),
      lastErrorCode: r.error?.code ?? null,
      lastErrorMessage: r.error?.message ?? null,
    };
  }

  /**
   * A scheduled attempt's bookkeeping, in one savepoint of the group commit. `nextAttemptAt` is
   * the retry's due time (null when there is none).
   */
  function recordScheduled(d: DeliveryForAttempt, endpoint: EndpointRow, r: AttemptResult, at: number, decision: RetryDecision, nextAttemptAt: number | null) {
    const number = d.attempts + 1;
    const status = decision.kind === "succeeded" ? "succeeded" : decision.kind === "retry" ? "pending" : "failed";
    return () => {
      attemptRow(d, endpoint, "scheduled", number, r, at);
      const applied = deps.deliveries.recordOutcome({ id: d.id, status, attempts: number, nextAttemptAt, ...outcomeFields(r, at) }, at, "pending");
      if (!applied || d.isTest) return { applied, disabled: false, cancelled: 0 };
      if (decision.kind === "succeeded") touchEndpoint(endpoint.id, at, true);
      else if (decision.kind === "retry") touchEndpoint(endpoint.id, at, false);
      else {
        // The run of failures counts from the successes recorded before this one.
        deps.batcher.flushCoalesced(endpointKey(endpoint.id));
        const run = deps.endpoints.recordExhausted(endpoint.id, at);
        if (run && run.enabled && deps.disableAfter > 0 && run.consecutiveFailures >= deps.disableAfter) {
          deps.endpoints.autoDisable(endpoint.id, at);
          // Inside the write: a publish later in this transaction must not fan out to it.
          deps.endpointCache.invalidate(endpoint.orgId, endpoint.id);
          const cancelled = deps.cancellation.firstBatch(endpoint.id, at);
          return { applied, disabled: true, cancelled };
        }
      }
      return { applied, disabled: false, cancelled: 0 };
    };
  }

  /** `sent` frees the endpoint's slot as soon as the response is in; recording runs after. */
  async function runScheduled(due: DueDelivery, sent: () => void): Promise<DueDelivery | null> {
    // A first attempt straight from publish carries its row; an endpoint stopped since is caught
    // just below, and a row changed since (a replay) by recordOutcome's status guard.
    const d = due.preloaded ?? deps.deliveries.forAttempt(due.id);
    if (!d || d.status !== "pending") return null;
    const endpoint = deps.endpointCache.get(d.endpointId);
    if (!endpoint || !endpoint.enabled || endpoint.deletedAt !== null) return null;
    const { result, at } = await send(d, endpoint, () => {
      const now = deps.endpointCache.get(endpoint.id);
      return !!now && now.enabled && now.deletedAt === null;
    });
    sent();
    // Stopped while its address was looked up: nothing was sent, and the row is cancelled.
    if (result.error?.code === "cancelled") return null;
    // Backoff counts from the failure, not from the start of the attempt: otherwise an attempt
    // that ran into the timeout would be retried the moment it ended (and Retry-After is
    // relative to the response anyway).
    const finishedAt = deps.clock();
    // A test delivery gets one attempt; it never retries nor counts against the endpoint.
    const decision: RetryDecision = d.isTest
      ? result.ok ? { kind: "succeeded" } : { kind: "exhausted" }
      : deps.policy.decide(d.attempts + 1, result.ok ? { ok: true } : { ok: false, statusCode: result.statusCode ?? undefined, retryAfter: result.retryAfter }, finishedAt);
    const nextAttemptAt = decision.kind === "retry" ? finishedAt + decision.delayMs : null;
    deps.metrics.attempts.inc({ outcome: result.error?.code ?? "ok", trigger: "scheduled" });
    try {
      // "relaxed": an outcome lost to a power cut only means the delivery is sent again.
      const { applied, disabled, cancelled } = await deps.batcher.submit(recordScheduled(d, endpoint, result, at, decision, nextAttemptAt), "relaxed");
      if (disabled) {
        deps.logger.warn("endpoint disabled after consecutive failed deliveries", { endpointId: endpoint.id, orgId: endpoint.orgId });
        deps.cancellation.committed(endpoint.id, at, cancelled);
      }
      if (!applied) return null;
      if (nextAttemptAt !== null) {
        deps.metrics.retriesScheduled.inc();
        return { id: d.id, endpointId: d.endpointId, nextAttemptAt };
      }
      deps.metrics.deliveries.inc({ outcome: decision.kind === "succeeded" ? "succeeded" : "failed" });
      return null;
    } catch (err) {
      // The row is still pending with its old due time: try it again a little later.
      deps.logger.error("could not record a delivery attempt; will try the delivery again", { deliveryId: d.id, error: String(err) });
      return { id: d.id, endpointId: d.endpointId, nextAttemptAt: deps.clock() + RECORD_FAILURE_RETRY_MS };
    }
  }

  /** One attempt outside the schedule (replay, test), recorded; null when the delivery or endpoint is gone. */
  async function sendNowUntracked(deliveryId: string, trigger: "replay" | "test"): Promise<{ deliveryId: string; success: boolean; statusCode: number | null; durationMs: number; error: AttemptResult["error"] } | null> {
    const d = deps.deliveries.forAttempt(deliveryId);
    if (!d) return null;
    const endpoint = deps.endpointCache.get(d.endpointId);
    if (!endpoint || endpoint.deletedAt !== null) return null;
    const { result, at } = await send(d, endpoint);
    deps.metrics.attempts.inc({ outcome: result.error?.code ?? "ok", trigger });
    await deps.batcher.submit(() => {
      // Replays never touch the retry counters; a success still ends a failed delivery.
      attemptRow(d, endpoint, trigger, trigger === "test" ? 1 : d.attempts, result, at);
      const fields = { id: d.id, attempts: trigger === "test" ? 1 : d.attempts, nextAttemptAt: null, ...outcomeFields(result, at) };
      if (trigger === "test") {
        deps.deliveries.recordOutcome({ ...fields, status: result.ok ? "succeeded" : "failed" }, at, d.status);
      } else if (result.ok) {
        deps.deliveries.recordOutcome({ ...fields, status: "succeeded" }, at, d.status);
        touchEndpoint(endpoint.id, at, true);
      } else {
        // Status, attempts and any retry stay as they were; the log shows this latest answer.
        deps.deliveries.recordLastAttempt({ id: d.id, ...outcomeFields(result, at) }, at);
        touchEndpoint(endpoint.id, at, false);
      }
    });
    return { deliveryId: d.id, success: result.ok, statusCode: result.statusCode, durationMs: Math.round(result.durationMs), error: result.error };
  }

  /**
   * The endpoint's slot is free once its response is in: the per-endpoint limit bounds requests
   * at the receiver. The global slot is held until the outcome is committed, so the attempts
   * that a crash can make us send again stay bounded by WEBHOOKD_CONCURRENCY.
   */
  function endpointDone(endpointId: string): void {
    const n = (inflightByEndpoint.get(endpointId) ?? 1) - 1;
    if (n === 0) inflightByEndpoint.delete(endpointId);
    else inflightByEndpoint.set(endpointId, n);
    if (parked.has(endpointId)) resumable.push(endpointId);
    pump();
  }

  function globalDone(): void {
    inflight--;
    pump();
  }

  function start(due: DueDelivery): void {
    inflight++;
    inflightByEndpoint.set(due.endpointId, (inflightByEndpoint.get(due.endpointId) ?? 0) + 1);
    let sent = false;
    const markSent = () => {
      if (sent) return;
      sent = true;
      endpointDone(due.endpointId);
    };
    track(
      runScheduled(due, markSent).then(
        (retry) => deps.onSettled(due.id, retry),
        (err) => {
          deps.logger.error("delivery attempt crashed", { deliveryId: due.id, error: String(err) });
          deps.onSettled(due.id, { id: due.id, endpointId: due.endpointId, nextAttemptAt: deps.clock() + RECORD_FAILURE_RETRY_MS });
        },
      ),
    ).finally(() => {
      markSent();
      globalDone();
    });
  }

  /** Parked work of an endpoint that has a free slot again, if any. */
  function nextResumed(): DueDelivery | undefined {
    while (resumable.length) {
      const endpointId = resumable.shift()!;
      const waiting = parked.get(endpointId);
      if (!waiting?.length || (inflightByEndpoint.get(endpointId) ?? 0) >= deps.endpointConcurrency) continue;
      parkedCount--;
      const due = waiting.shift()!;
      if (waiting.length === 0) parked.delete(endpointId);
      else resumable.push(endpointId);
      return due;
    }
    return undefined;
  }

  function pump(): void {
    // While draining for shutdown nothing new starts: queued work stays pending in the store and
    // is due again after restart (an attempt started now would outlive the store).
    while (running && inflight < deps.concurrency) {
      const resumed = nextResumed();
      if (resumed) {
        start(resumed);
        continue;
      }
      if (readyHead >= ready.length) break;
      const due = ready[readyHead++]!;
      if ((inflightByEndpoint.get(due.endpointId) ?? 0) >= deps.endpointConcurrency) {
        // One slow endpoint must not hold global slots: its work waits aside.
        const list = parked.get(due.endpointId);
        if (list) list.push(due);
        else parked.set(due.endpointId, [due]);
        parkedCount++;
        continue;
      }
      start(due);
    }
    if (readyHead > 1024 && readyHead * 2 > ready.length) {
      ready.splice(0, readyHead);
      readyHead = 0;
    }
  }

  return {
    enqueue(due: DueDelivery[]): void {
      for (const d of due) ready.push(d);
      pump();
    },

    /** Sends one delivery now, outside the schedule (replay, test), and records it. */
    sendNow(deliveryId: string, trigger: "replay" | "test"): Promise<{ deliveryId: string; success: boolean; statusCode: number | null; durationMs: number; error: AttemptResult["error"] } | null> {
      // Tracked whole, recording included, so a shutdown drain waits until it is on disk.
      return track(sendNowUntracked(deliveryId, trigger));
    },

    /** Deliveries held in memory here: queued, parked and in flight. */
    get backlog(): number {
      return ready.length - readyHead + parkedCount + inflight;
    },
    get inflight(): number {
      return inflight;
    },

    /** Stops starting attempts and waits up to `timeoutMs` for those in flight to be recorded. */
    async drain(timeoutMs: number): Promise<boolean> {
      running = false;
      const all = Promise.all([...settling]).then(() => true);
      const timer = new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref());
      return Promise.race([all, timer]);
    },
  };
}
export type Dispatcher = ReturnType<typeof createDispatcher>;
