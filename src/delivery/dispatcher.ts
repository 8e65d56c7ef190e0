/**
 * The dispatcher: takes due deliveries, runs each attempt (load → sign → send → record →
 * reschedule) under a global, a per-org and a per-endpoint concurrency limit, in the fair
 * queue's order, and records outcomes through the group-commit batcher. Scheduled attempts,
 * replays, recovers and test sends all wait in that one queue for those same slots.
 */
import type { Clock } from "../lib/clock.ts";
import { newId } from "../lib/ids.ts";
import type { Logger } from "../lib/logger.ts";
import type { SendNowResult, SendUrgency } from "../lib/send-now.ts";
import type { WebhookdMetrics } from "../lib/metrics.ts";
import type { AttemptTrigger } from "../store/schema.ts";
import type { EndpointCache } from "../store/endpoint-cache.ts";
import type { WriteBatcher } from "../store/write-batcher.ts";
import type { AttemptsRepo } from "../store/repositories/attempts.ts";
import type { DeliveriesRepo, DeliveryForAttempt, DueDelivery } from "../store/repositories/deliveries.ts";
import type { EndpointRow, EndpointsRepo } from "../store/repositories/endpoints.ts";
import { FairQueue } from "./fair-queue.ts";
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
  orgConcurrency: number;
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

type Job =
  | { kind: "scheduled"; due: DueDelivery }
  | { kind: "manual"; d: DeliveryForAttempt; trigger: "replay" | "test"; settle: (r: SendNowResult) => void; fail: (err: unknown) => void };

const jobOrg = (job: Job) => (job.kind === "scheduled" ? job.due.orgId : job.d.orgId);
const jobEndpoint = (job: Job) => (job.kind === "scheduled" ? job.due.endpointId : job.d.endpointId);
const STOPPED: SendNowResult = { refused: "endpoint_stopped" };

const endpointKey = (endpointId: string) => `endpoint-counters:${endpointId}`;

/** If recording an outcome fails (disk full, locked), try the delivery again this much later. */
const RECORD_FAILURE_RETRY_MS = 5_000;

export function createDispatcher(deps: DispatcherDeps) {
  const queue = new FairQueue<Job>({ orgOf: jobOrg, endpointOf: jobEndpoint, orgCap: deps.orgConcurrency, endpointCap: deps.endpointConcurrency });
  let inflight = 0;
  let running = true;
  const settling = new Set<Promise<unknown>>();

  function track<T>(p: Promise<T>): Promise<T> {
    settling.add(p);
    p.finally(() => settling.delete(p)).catch(() => {});
    return p;
  }

  /** The endpoint, if deliveries may still be sent to it (enabled, not deleted). */
  function liveEndpoint(endpointId: string): EndpointRow | undefined {
    const endpoint = deps.endpointCache.get(endpointId);
    return endpoint && endpoint.enabled && endpoint.deletedAt === null ? endpoint : undefined;
  }

  async function send(d: DeliveryForAttempt, endpoint: EndpointRow): Promise<{ result: AttemptResult; at: number }> {
    const at = deps.clock();
    const headers = webhookHeaders({
      eventId: d.eventId,
      eventType: d.eventType,
      body: d.body,
      secrets: deps.signingSecrets(endpoint),
      at,
      userAgent: deps.userAgent,
    });
    // Disabled or deleted while its address was looked up: nothing is sent ("cancelled").
    const stillWanted = () => liveEndpoint(endpoint.id) !== undefined;
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
      if (!applied || d.isTest) return { applied, disabled: null, cancelled: 0 };
      if (decision.kind === "succeeded") touchEndpoint(endpoint.id, at, true);
      else if (decision.kind === "retry") touchEndpoint(endpoint.id, at, false);
      else {
        // The run of failures counts from the successes recorded before this one.
        deps.batcher.flushCoalesced(endpointKey(endpoint.id));
        const run = deps.endpoints.recordExhausted(endpoint.id, at);
        const reason = decision.kind === "gone" ? "gone" : deps.disableAfter > 0 && run && run.consecutiveFailures >= deps.disableAfter ? "too_many_failures" : null;
        if (run && run.enabled && reason) {
          deps.endpoints.autoDisable(endpoint.id, at, reason);
          // Inside the write: a publish later in this transaction must not fan out to it.
          deps.endpointCache.invalidate(endpoint.orgId, endpoint.id);
          const cancelled = deps.cancellation.firstBatch(endpoint.id, at);
          return { applied, disabled: reason, cancelled };
        }
      }
      return { applied, disabled: null, cancelled: 0 };
    };
  }

  /** `sent` frees the endpoint's slot as soon as the response is in; recording runs after. */
  async function runScheduled(due: DueDelivery, sent: () => void): Promise<DueDelivery | null> {
    // A first attempt straight from publish carries its row; an endpoint stopped since is caught
    // just below, and a row changed since (a replay) by recordOutcome's status guard.
    const d = due.preloaded ?? deps.deliveries.forAttempt(due.id);
    if (!d || d.status !== "pending") return null;
    const endpoint = liveEndpoint(d.endpointId);
    if (!endpoint) return null;
    const { result, at } = await send(d, endpoint);
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
        const why = disabled === "gone" ? "its receiver answered 410 Gone" : "consecutive failed deliveries";
        deps.logger.warn(`endpoint disabled: ${why}`, { endpointId: endpoint.id, orgId: endpoint.orgId, reason: disabled });
        deps.cancellation.committed(endpoint.id, at, cancelled);
        dropEndpoint(endpoint.id);
      }
      if (!applied) return null;
      if (nextAttemptAt !== null) {
        deps.metrics.retriesScheduled.inc();
        return { id: d.id, orgId: d.orgId, endpointId: d.endpointId, nextAttemptAt };
      }
      deps.metrics.deliveries.inc({ outcome: decision.kind === "succeeded" ? "succeeded" : "failed" });
      return null;
    } catch (err) {
      // The row is still pending with its old due time: try it again a little later.
      deps.logger.error("could not record a delivery attempt; will try the delivery again", { deliveryId: d.id, error: String(err) });
      return { id: d.id, orgId: d.orgId, endpointId: d.endpointId, nextAttemptAt: deps.clock() + RECORD_FAILURE_RETRY_MS };
    }
  }

  /** One attempt outside the schedule (replay, test), recorded; refused when the endpoint stopped meanwhile. */
  async function runManual(d: DeliveryForAttempt, trigger: "replay" | "test", sent: () => void): Promise<SendNowResult> {
    const endpoint = liveEndpoint(d.endpointId);
    if (!endpoint) return STOPPED;
    const { result, at } = await send(d, endpoint);
    sent();
    if (result.error?.code === "cancelled") return STOPPED;
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
    return { sent: { deliveryId: d.id, success: result.ok, statusCode: result.statusCode, durationMs: Math.round(result.durationMs), error: result.error } };
  }

  function runJob(job: Job, sent: () => void): Promise<unknown> {
    if (job.kind === "manual") return runManual(job.d, job.trigger, sent).then(job.settle, job.fail);
    const { due } = job;
    return runScheduled(due, sent).then(
      (retry) => deps.onSettled(due.id, retry),
      (err) => {
        deps.logger.error("delivery attempt crashed", { deliveryId: due.id, error: String(err) });
        deps.onSettled(due.id, { id: due.id, orgId: due.orgId, endpointId: due.endpointId, nextAttemptAt: deps.clock() + RECORD_FAILURE_RETRY_MS });
      },
    );
  }

  /** What is queued for a stopped endpoint is never sent: scheduled rows were cancelled with the stop. */
  function dropEndpoint(endpointId: string): void {
    for (const job of queue.removeEndpoint(endpointId)) {
      if (job.kind === "manual") job.settle(STOPPED);
      else deps.onSettled(job.due.id, null);
    }
  }

  /**
   * The endpoint's slot is free once its response is in: the per-endpoint limit bounds requests
   * at the receiver. The global and the org's slot are held until the outcome is committed, so
   * the attempts that a crash can make us send again stay bounded by WEBHOOKD_CONCURRENCY.
   */
  function start(job: Job): void {
    inflight++;
    let sent = false;
    const markSent = () => {
      if (sent) return;
      sent = true;
      queue.releaseEndpoint(jobEndpoint(job));
      pump();
    };
    track(runJob(job, markSent)).finally(() => {
      markSent();
      inflight--;
      queue.releaseOrg(jobOrg(job));
      pump();
    });
  }

  function pump(): void {
    // While draining for shutdown nothing new starts: queued work stays pending in the store and
    // is due again after restart (an attempt started now would outlive the store).
    while (running && inflight < deps.concurrency) {
      const job = queue.take();
      if (!job) break;
      start(job);
    }
  }

  return {
    enqueue(due: DueDelivery[]): void {
      for (const d of due) queue.push({ kind: "scheduled", due: d });
      pump();
    },

    /**
     * Sends one delivery outside the schedule (replay, test) through the same queue and slots as
     * every other attempt, and resolves once it is recorded.
     */
    sendNow(deliveryId: string, trigger: "replay" | "test", urgency: SendUrgency = "interactive"): Promise<SendNowResult> {
      const d = deps.deliveries.forAttempt(deliveryId);
      if (!d) return Promise.resolve({ refused: "delivery_gone" });
      if (!liveEndpoint(d.endpointId)) return Promise.resolve(STOPPED);
      return new Promise<SendNowResult>((settle, fail) => {
        queue.push({ kind: "manual", d, trigger, settle, fail }, urgency === "interactive");
        pump();
      });
    },

    /** An endpoint was disabled or deleted: nothing queued for it is sent. */
    dropEndpoint,

    /**
     * Gives back the newest scheduled delivery an org has waiting (never one in flight, nor a
     * replay), so the scheduler can make room in memory for another org's.
     */
    evictQueued(orgId: string): DueDelivery | undefined {
      const job = queue.evictNewest(orgId, (j) => j.kind === "scheduled");
      return job?.kind === "scheduled" ? job.due : undefined;
    },

    /** Deliveries held in memory here: queued and in flight. */
    get backlog(): number {
      return queue.size + inflight;
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
