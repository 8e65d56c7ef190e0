/**
 * The delivery engine: one object for everything that sends. The scheduler (what is due and
 * when), the dispatcher (the fair queue and the attempts), the outcome recorder and the endpoint
 * stopper, wired here once; the composition root sees only `offer`, `sendNow`, `stop` and the
 * figures. Endpoint changes heard from the store (this process or another node) drop what is
 * queued for an endpoint that stopped.
 *
 * On a store other nodes share (`store.leases`), what is due is found by the claimer instead of
 * the single-process scheduler: this node sends only rows it holds a lease on, and its outcomes
 * are fenced by that lease.
 */
import type { SendNow } from "../lib/send-now.ts";
import type { DueDelivery, Store } from "../store/port.ts";
import { createClaimer } from "../scheduler/claimer.ts";
import { createScheduler } from "../scheduler/scheduler.ts";
import { createDispatcher, type DispatcherDeps } from "./dispatcher.ts";
import { createEndpointStopper } from "./endpoint-stop.ts";
import { createOutcomeRecorder } from "./outcome-recorder.ts";

/** The dispatcher's settings and tools, plus the store and what the recorder and scheduler need. */
export interface DeliveryEngineDeps
  extends Pick<
    DispatcherDeps,
    "client" | "policy" | "signingSecrets" | "clock" | "logger" | "metrics" | "userAgent" | "concurrency" | "orgConcurrency" | "endpointConcurrency" | "attemptTimeoutMs"
  > {
  store: Store;
  disableAfter: number;
  maxInMemory: number;
}

/** A node of a cluster claims up to this many times its concurrency: every slot stays busy between claims, and a backlog is shared among the nodes rather than hoarded by one. */
const CLAIM_AHEAD = 4;
/** How far ahead a node claims, and keeps its retries rather than give them back: the single-process scheduler's window, or half a lease if that is shorter. */
const claimWindowMs = (leaseMs: number) => Math.min(30_000, leaseMs / 2);

export function createDeliveryEngine(deps: DeliveryEngineDeps) {
  const { store, clock, logger, metrics } = deps;
  const leases = store.leases;
  const claimer =
    leases &&
    createClaimer({
      dueOrgs: store.deliveries.pendingOrgs,
      claimDue: (now, until, quotas) => store.write((tx) => tx.deliveries.claimDue(leases.owner, now, until, leases.leaseMs, quotas), "relaxed"),
      renew: (ids, until) => store.write((tx) => tx.deliveries.renewLeases(leases.owner, ids, until), "relaxed"),
      release: (ids) => store.write((tx) => tx.deliveries.releaseLeases(leases.owner, ids), "relaxed"),
      onDue: (due) => dispatcher.enqueue(due),
      evict: (orgId) => dispatcher.evictQueued(orgId),
      onStoreFailed: (error) => logger.error("could not claim, renew or release deliveries; trying again shortly", { error: String(error) }),
      clock,
      leaseMs: leases.leaseMs,
      windowMs: claimWindowMs(leases.leaseMs),
      maxClaimed: Math.min(deps.maxInMemory, CLAIM_AHEAD * deps.concurrency),
      maxInMemory: deps.maxInMemory,
    });
  const stopper = createEndpointStopper({
    deliveries: store.deliveries,
    write: store.write,
    clock,
    logger,
    onCancelled: (count) => metrics.deliveries.inc({ outcome: "cancelled" }, count),
  });
  const recorder = createOutcomeRecorder({
    write: store.write,
    disableAfter: deps.disableAfter,
    stop: stopper,
    lease: leases && claimer ? { ...leases, keepsRetry: claimer.keepsRetry } : undefined,
  });
  const dispatcher = createDispatcher({
    deliveries: store.deliveries,
    endpointCache: store.endpointCache,
    recorder,
    client: deps.client,
    policy: deps.policy,
    signingSecrets: deps.signingSecrets,
    clock,
    logger,
    metrics,
    userAgent: deps.userAgent,
    concurrency: deps.concurrency,
    orgConcurrency: deps.orgConcurrency,
    endpointConcurrency: deps.endpointConcurrency,
    attemptTimeoutMs: deps.attemptTimeoutMs,
    onSettled: (id, retry) => (retry ? scheduler.offer([retry]) : scheduler.done(id)),
    holds: claimer ? (id) => claimer.holds(id) : undefined,
  });
  const scheduler =
    claimer ??
    createScheduler({
      pageDue: store.deliveries.pageDue,
      pageOrgDue: store.deliveries.pageOrgDue,
      orgNextDue: store.deliveries.orgNextDue,
      pendingOrgs: store.deliveries.pendingOrgs,
      onDue: (due) => dispatcher.enqueue(due),
      onLoadFailed: (error) => logger.error("could not read due deliveries; trying again shortly", { error: String(error) }),
      evict: (orgId) => dispatcher.evictQueued(orgId),
      clock,
      maxInMemory: deps.maxInMemory,
    });
  store.changes.onEndpointChanged((_orgId, endpointId) => void dispatcher.endpointChanged(endpointId));

  metrics.registry.gauge("webhookd_due_queue_depth", "Deliveries due and waiting for a dispatch slot or in flight", () => dispatcher.backlog);
  metrics.registry.gauge("webhookd_scheduled_retries", "Deliveries waiting in the timer wheel", () => scheduler.scheduled);
  metrics.registry.gauge("webhookd_deliveries_in_memory", "Deliveries the scheduler holds in memory", () => scheduler.inMemory);

  return {
    /** What stopping an endpoint takes, for the API's disable and delete. */
    endpointStop: stopper,
    /** Committed deliveries, due now or later. */
    offer: (due: DueDelivery[]): void => scheduler.offer(due),
    sendNow: ((deliveryId, trigger, urgency) => dispatcher.sendNow(deliveryId, trigger, urgency)) as SendNow,
    /** Finishes cancellations cut short (a crash, a storage fault); run at start and by every sweep. */
    resumeCancellations: () => stopper.resume(),
    get inflight(): number {
      return dispatcher.inflight;
    },
    /** Deliveries due and queued or in flight. */
    get backlog(): number {
      return dispatcher.backlog;
    },
    /** Deliveries the scheduler holds in memory. */
    get inMemory(): number {
      return scheduler.inMemory;
    },
    async start(): Promise<void> {
      await stopper.resume();
      await scheduler.start();
    },
    /**
     * Stops taking work, gives attempts in flight `graceMs` to finish and be recorded; true when
     * they all did (the rest are due again after restart, or, in a cluster, given back to the
     * other nodes at once).
     */
    async stop(graceMs: number): Promise<boolean> {
      scheduler.stop();
      await stopper.stop();
      const drained = await dispatcher.drain(graceMs);
      await claimer?.releaseHeld();
      return drained;
    },
  };
}
export type DeliveryEngine = ReturnType<typeof createDeliveryEngine>;
