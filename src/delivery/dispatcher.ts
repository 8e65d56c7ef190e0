/**
 * The dispatcher: takes due deliveries, runs each attempt (load → sign → send → record →
 * reschedule) under a global, a per-org and a per-endpoint concurrency limit, in the fair
 * queue's order, and hands each outcome to the outcome recorder. Scheduled attempts,
 * replays, recovers and test sends all wait in that one queue for those same slots.
 */
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/logger.ts";
import type { SendNowResult, SendUrgency } from "../lib/send-now.ts";
import type { WebhookdMetrics } from "../lib/metrics.ts";
import type { DeliveriesReads, DeliveryForAttempt, DueDelivery, EndpointCache, EndpointRow } from "../store/port.ts";
import { FairQueue } from "./fair-queue.ts";
import type { AttemptResult, HttpClient } from "./http-client.ts";
import type { RetryDecision, RetryPolicy } from "./retry-policy.ts";
import type { OutcomeRecorder } from "./outcome-recorder.ts";
import { webhookHeaders } from "./webhook-request.ts";

export interface DispatcherDeps {
  deliveries: Pick<DeliveriesReads, "forAttempt">;
  endpointCache: EndpointCache;
  recorder: OutcomeRecorder;
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
  /**
   * Called once for every delivery handed to `enqueue`, when the dispatcher is done with it:
   * with its retry when one is due later, else with null (finished, skipped or gone).
   */
  onSettled: (id: string, retry: DueDelivery | null) => void;
  /** Cluster mode: whether this node still holds the row's lease; a scheduled row is started only then (a node waking from a pause sends nothing it lost). */
  holds?: (id: string) => boolean;
}

type Job =
  | { kind: "scheduled"; due: DueDelivery }
  | { kind: "manual"; d: DeliveryForAttempt; trigger: "replay" | "test"; settle: (r: SendNowResult) => void; fail: (err: unknown) => void };

const jobOrg = (job: Job) => (job.kind === "scheduled" ? job.due.orgId : job.d.orgId);
const jobEndpoint = (job: Job) => (job.kind === "scheduled" ? job.due.endpointId : job.d.endpointId);
const STOPPED: SendNowResult = { refused: "endpoint_stopped" };

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
  const live = (endpoint: EndpointRow | undefined) => (endpoint && endpoint.enabled && endpoint.deletedAt === null ? endpoint : undefined);
  /** At once from the cache when it has the endpoint (the hot path: no promise), else read. */
  function liveEndpoint(endpointId: string): EndpointRow | undefined | Promise<EndpointRow | undefined> {
    const cached = deps.endpointCache.peek(endpointId);
    return cached ? live(cached) : deps.endpointCache.get(endpointId).then(live);
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
    const stillWanted = async () => (await liveEndpoint(endpoint.id)) !== undefined;
    const result = await deps.client.send({ url: endpoint.url, headers, body: d.body, timeoutMs: deps.attemptTimeoutMs, stillWanted });
    deps.metrics.attemptDuration.observe(result.durationMs / 1000);
    return { result, at };
  }

/** `sent` frees the endpoint's slot as soon as the response is in; recording runs after. */
  async function runScheduled(due: DueDelivery, sent: () => void): Promise<DueDelivery | null> {
    if (deps.holds && !deps.holds(due.id)) return null;
    // A first attempt straight from publish carries its row; an endpoint stopped since is caught
    // just below, and a row changed since (a replay) by recordOutcome's status guard.
    const d = due.preloaded ?? (await deps.deliveries.forAttempt(due.id));
    if (!d || d.status !== "pending") return null;
    const found = liveEndpoint(d.endpointId);
    const endpoint = found instanceof Promise ? await found : found;
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
      const { applied, disabled, handedBack } = await deps.recorder.scheduled(d, endpoint, result, at, decision, nextAttemptAt);
      if (disabled) {
        const why = disabled === "gone" ? "its receiver answered 410 Gone" : "consecutive failed deliveries";
        deps.logger.warn(`endpoint disabled: ${why}`, { endpointId: endpoint.id, orgId: endpoint.orgId, reason: disabled });
      }
      if (!applied) return null;
      if (nextAttemptAt !== null) {
        deps.metrics.retriesScheduled.inc();
        return handedBack ? null : { id: d.id, orgId: d.orgId, endpointId: d.endpointId, nextAttemptAt };
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
    const endpoint = await liveEndpoint(d.endpointId);
    if (!endpoint) return STOPPED;
    const { result, at } = await send(d, endpoint);
    sent();
    if (result.error?.code === "cancelled") return STOPPED;
    deps.metrics.attempts.inc({ outcome: result.error?.code ?? "ok", trigger });
    await deps.recorder.manual(d, endpoint, trigger, result, at);
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
   * The endpoint's and the org's slots are free once the response is in: those limits bound
   * requests at receivers, where a slow one holds its slots. The global slot is held until the
   * outcome is committed, so the attempts that a crash can make us send again stay bounded by
   * WEBHOOKD_CONCURRENCY; an outcome waiting for its commit holds it for one group commit.
   */
  function start(job: Job): void {
    inflight++;
    let sent = false;
    const markSent = () => {
      if (sent) return;
      sent = true;
      queue.releaseEndpoint(jobEndpoint(job));
      queue.releaseOrg(jobOrg(job));
      pump();
    };
    track(runJob(job, markSent)).finally(() => {
      markSent();
      inflight--;
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
    async sendNow(deliveryId: string, trigger: "replay" | "test", urgency: SendUrgency = "interactive"): Promise<SendNowResult> {
      const d = await deps.deliveries.forAttempt(deliveryId);
      if (!d) return { refused: "delivery_gone" };
      if (!(await liveEndpoint(d.endpointId))) return STOPPED;
      return new Promise<SendNowResult>((settle, fail) => {
        queue.push({ kind: "manual", d, trigger, settle, fail }, urgency === "interactive");
        pump();
      });
    },

    /** An endpoint changed (on any node): if it is stopped now, nothing queued for it is sent. */
    async endpointChanged(endpointId: string): Promise<void> {
      if (!(await liveEndpoint(endpointId))) dropEndpoint(endpointId);
    },

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
