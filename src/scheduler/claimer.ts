/**
 * The claimer: the scheduler of a node in a cluster, where other processes read the same due
 * rows. A node never sends a row it does not hold a lease on, so instead of paging the due index
 * it claims due rows in batches (`claimDue`: a lease until the row's due time plus `leaseMs`,
 * SKIP LOCKED among nodes), keeps those due later in a timer wheel, and hands due ones to a
 * callback (the dispatcher's fair queue, with its per-org and per-endpoint caps).
 *
 * What it holds stays its own: every `leaseMs / 3` the leases of every row in memory (wheel,
 * queue, in flight) are renewed, so a live node never loses a row it is working on however long
 * the row waits for a slot; a row that is no longer its own (it was paused past the lease and
 * another node took it over) is dropped from the wheel, and the outcome fence refuses whatever a
 * send already under way records. A node that dies stops renewing: its rows lapse `leaseMs`
 * after they came due, at most, and the other nodes claim them.
 *
 * It claims while fewer than `maxClaimed` rows wait for or are in an attempt (rows waiting in
 * the wheel do not count), so the nodes share a backlog instead of one hoarding it; rows handed
 * in by `offer` (a publish leased to this node, a retry it kept) are taken in up to
 * `maxInMemory`, and beyond it given back to the table at once.
 */
import type { Clock } from "../lib/clock.ts";
import type { DueDelivery } from "../store/port.ts";
import { createDueTimer } from "./due-timer.ts";

export interface ClaimerDeps {
  /** Leases up to `limit` free rows due by `until` to this node. */
  claimDue(now: number, until: number, limit: number): Promise<DueDelivery[]>;
  /** Extends this node's leases on these rows to at least `until`; returns the ids still its own. */
  renew(ids: string[], until: number): Promise<string[]>;
  /** Gives this node's leases on these rows back to the table. */
  release(ids: string[]): Promise<void>;
  onDue(due: DueDelivery[]): void;
  /** A claim, renewal or release failed (the store is unavailable); the next tick tries again. */
  onStoreFailed?(error: unknown): void;
  clock: Clock;
  leaseMs: number;
  /** How far ahead rows are claimed (and retries kept here rather than given back). */
  windowMs: number;
  /** Claims stop while this many claimed rows wait for or are in an attempt. */
  maxClaimed: number;
  /** At most this many rows held in memory at once. */
  maxInMemory: number;
  pageSize?: number;
  /** Longest sleep between two claims. */
  idleMs?: number;
}

export function createClaimer(deps: ClaimerDeps) {
  const { clock, leaseMs, windowMs } = deps;
  const pageSize = deps.pageSize ?? 500;
  const idleMs = deps.idleMs ?? 1_000;
  const renewEveryMs = leaseMs / 3;
  const timer = createDueTimer({ clock, idleMs, onDue: (due) => deps.onDue(due), load: work, onLoadFailed: deps.onStoreFailed });
  const { wheel, arm } = timer;
  /** Every row this node holds a lease on and has in memory. */
  const held = new Map<string, DueDelivery>();
  let renewedAt = clock();
  /** The claim or renewal in progress: one at a time. */
  let working: Promise<void> | null = null;
  /** The last claim came back full: more rows are due than this node has taken. */
  let moreDue = false;

  /** Takes a leased row into memory: due ones onto `due`, the rest into the wheel. */
  function take(d: DueDelivery, now: number, due: DueDelivery[]): void {
    held.set(d.id, d);
    if (d.nextAttemptAt <= now) due.push(d);
    else wheel.add(d.id, d.nextAttemptAt, d);
  }

  const claimed = () => held.size - wheel.size;

  async function claim(now: number): Promise<void> {
    for (;;) {
      const limit = Math.min(pageSize, deps.maxClaimed - claimed(), deps.maxInMemory - held.size);
      if (!timer.running || limit < 1) return;
      const page = await deps.claimDue(now, now + windowMs, limit);
      const due: DueDelivery[] = [];
      // A row it holds already came back because its lease had lapsed (a long pause): still one copy here.
      for (const d of page) if (!held.has(d.id)) take(d, now, due);
      if (due.length) deps.onDue(due);
      moreDue = page.length === limit;
      if (!moreDue) return;
    }
  }

  async function renew(now: number): Promise<void> {
    renewedAt = now;
    const ids = [...held.keys()];
    if (ids.length === 0) return;
    const kept = new Set(await deps.renew(ids, now + leaseMs));
    // Another node's now (or finished): nothing in the wheel is sent; one already queued is refused at its outcome.
    for (const id of ids) {
      if (kept.has(id)) continue;
      wheel.cancel(id);
      held.delete(id);
    }
  }

  /** Runs a claim (and a renewal when one is due) unless one is in progress. */
  function work(now: number): Promise<void> {
    working ??= (async () => {
      try {
        if (now >= renewedAt + renewEveryMs) await renew(now);
        await claim(now);
      } finally {
        working = null;
      }
    })();
    return working;
  }

  function release(ids: string[]): void {
    if (ids.length) deps.release(ids).catch((error) => deps.onStoreFailed?.(error));
  }

  return {
    async start(): Promise<void> {
      timer.start();
      await work(clock()).catch((error) => deps.onStoreFailed?.(error));
      arm(clock());
    },

    /**
     * Rows leased to this node already: new ones its publishes wrote, or its own retries. Taken
     * in (due ones straight to `onDue`) while there is room; the rest are given back to the table.
     */
    offer(due: DueDelivery[]): void {
      if (!timer.running) return release(due.map((d) => d.id));
      const now = clock();
      const immediate: DueDelivery[] = [];
      const giveBack: string[] = [];
      for (const d of due) {
        if (!held.has(d.id) && held.size >= deps.maxInMemory) giveBack.push(d.id);
        else take(d, now, immediate);
      }
      release(giveBack);
      if (immediate.length) deps.onDue(immediate);
      arm(now);
    },

    /** The dispatcher is finished with this row (recorded, given back, skipped or gone). */
    done(id: string): void {
      held.delete(id);
      // Under a backlog, room for a claim is claimed at once rather than at the next idle tick.
      if (moreDue && claimed() < deps.maxClaimed / 2) arm(clock(), 0);
    },

    /**
     * Whether a retry due at `nextAttemptAt` stays this node's (its lease kept until it is due
     * plus `leaseMs`, in the wheel here) or goes back to the table for whichever node claims it.
     */
    keepsRetry(nextAttemptAt: number): boolean {
      return timer.running && nextAttemptAt <= clock() + windowMs;
    },

    get inMemory(): number {
      return held.size;
    },
    get scheduled(): number {
      return wheel.size;
    },

    /** Stops claiming; what the wheel held goes back to the table at once. */
    stop(): void {
      const unfired = timer.stop().map((d) => d.id);
      for (const id of unfired) held.delete(id);
      release(unfired);
    },

    /** After the dispatcher drained: gives back every lease still held (queued rows never started), so other nodes need not wait for them to lapse. */
    async releaseHeld(): Promise<void> {
      const ids = [...held.keys()];
      held.clear();
      if (ids.length) await deps.release(ids).catch((error) => deps.onStoreFailed?.(error));
    },
  };
}
export type Claimer = ReturnType<typeof createClaimer>;
