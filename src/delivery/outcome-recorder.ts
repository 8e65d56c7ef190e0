/**
 * The outcome recorder: writes what an attempt came to (its attempt row, the delivery's new
 * status, the endpoint's counters) in one write, and stops an endpoint that has failed too often
 * or answered 410 Gone. Knows nothing of queues or HTTP.
 */
import { newId } from "../lib/ids.ts";
import type { AttemptTrigger, DeliveryForAttempt, EndpointRow, NodeLeases, StoreTx, StoreWrite } from "../store/port.ts";
import type { EndpointStop } from "./endpoint-stop.ts";
import type { AttemptResult } from "./http-client.ts";
import type { RetryDecision } from "./retry-policy.ts";
import { storedRequestHeaders } from "./webhook-request.ts";

export interface OutcomeRecorderDeps {
  write: StoreWrite;
  /** Exhausted deliveries in a row after which an endpoint is disabled; 0 never disables. */
  disableAfter: number;
  stop: EndpointStop;
  /**
   * Cluster mode: this node's leases. A scheduled outcome applies only while the row is still
   * this node's (a node paused past its lease cannot overwrite the result of the node that took
   * the row over); a retry keeps the lease when `keepsRetry` says this node keeps it, and is
   * given back to the table otherwise.
   */
  lease?: NodeLeases & { keepsRetry(nextAttemptAt: number): boolean };
}

export interface ScheduledOutcome {
  /** False when the row had left `pending` meanwhile (cancelled, replayed): nothing was changed. */
  applied: boolean;
  /** Why the endpoint was stopped by this outcome, if it was. */
  disabled: "gone" | "too_many_failures" | null;
  /** The retry went back to the table for whichever node claims it when due: this node no longer holds the row. */
  handedBack: boolean;
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

export function createOutcomeRecorder(deps: OutcomeRecorderDeps) {
  function insertAttempt(tx: StoreTx, d: DeliveryForAttempt, endpoint: EndpointRow, trigger: AttemptTrigger, number: number, r: AttemptResult, at: number) {
    return tx.attempts.insert({
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
      requestHeaders: r.requestHeaders && storedRequestHeaders(r.requestHeaders),
      createdAt: at,
    });
  }

  return {
    /**
     * A scheduled attempt's bookkeeping. `nextAttemptAt` is the retry's due time (null when there
     * is none). "relaxed": an outcome lost to a power cut only means the delivery is sent again.
     */
    async scheduled(d: DeliveryForAttempt, endpoint: EndpointRow, r: AttemptResult, at: number, decision: RetryDecision, nextAttemptAt: number | null): Promise<ScheduledOutcome> {
      const number = d.attempts + 1;
      const status = decision.kind === "succeeded" ? "succeeded" : decision.kind === "retry" ? "pending" : "failed";
      const { lease } = deps;
      // Decided once, outside the op (which may run more than once): the fence and the answer agree.
      const keepUntil = lease && nextAttemptAt !== null && lease.keepsRetry(nextAttemptAt) ? nextAttemptAt + lease.leaseMs : null;
      const fence = lease && { owner: lease.owner, keepUntil };
      const outcome = await deps.write(async (tx) => {
        // Issued together: neither waits on the other (PostgreSQL pipelines them on the transaction's connection).
        const [, applied] = await Promise.all([
          insertAttempt(tx, d, endpoint, "scheduled", number, r, at),
          tx.deliveries.recordOutcome({ id: d.id, status, attempts: number, nextAttemptAt, ...outcomeFields(r, at) }, at, "pending", fence),
        ]);
        // A test delivery gets one attempt; it never counts against the endpoint.
        if (!applied || d.isTest) return { applied, disabled: null, cancelled: 0 };
        if (decision.kind === "succeeded" || decision.kind === "retry") {
          await tx.endpoints.recordAttempt(endpoint.id, at, decision.kind === "succeeded");
          return { applied, disabled: null, cancelled: 0 };
        }
        const run = await tx.endpoints.recordExhausted(endpoint.id, at);
        const reason: ScheduledOutcome["disabled"] = decision.kind === "gone" ? "gone" : deps.disableAfter > 0 && run && run.consecutiveFailures >= deps.disableAfter ? "too_many_failures" : null;
        if (run && run.enabled && reason && (await tx.endpoints.autoDisable(endpoint.id, at, reason))) {
          return { applied, disabled: reason, cancelled: await deps.stop.inWrite(tx, endpoint.id, at) };
        }
        return { applied, disabled: null, cancelled: 0 };
      }, "relaxed");
      if (outcome.disabled) deps.stop.committed(endpoint.id, at, outcome.cancelled);
      return { applied: outcome.applied, disabled: outcome.disabled, handedBack: fence !== undefined && nextAttemptAt !== null && keepUntil === null };
    },

    /** An attempt outside the schedule (replay, test): it never touches the retry counters; a success still ends a failed delivery. */
    async manual(d: DeliveryForAttempt, endpoint: EndpointRow, trigger: "replay" | "test", r: AttemptResult, at: number): Promise<void> {
      await deps.write(async (tx) => {
        await insertAttempt(tx, d, endpoint, trigger, trigger === "test" ? 1 : d.attempts, r, at);
        const fields = { id: d.id, attempts: trigger === "test" ? 1 : d.attempts, nextAttemptAt: null, ...outcomeFields(r, at) };
        if (trigger === "test") {
          await tx.deliveries.recordOutcome({ ...fields, status: r.ok ? "succeeded" : "failed" }, at, d.status);
        } else if (r.ok) {
          await tx.deliveries.recordOutcome({ ...fields, status: "succeeded" }, at, d.status);
          await tx.endpoints.recordAttempt(endpoint.id, at, true);
        } else {
          // Status, attempts and any retry stay as they were; the log shows this latest answer.
          await tx.deliveries.recordLastAttempt({ id: d.id, ...outcomeFields(r, at) }, at);
          await tx.endpoints.recordAttempt(endpoint.id, at, false);
        }
      });
    },
  };
}
export type OutcomeRecorder = ReturnType<typeof createOutcomeRecorder>;
