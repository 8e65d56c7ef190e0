/**
 * The claimer: the scheduler of a node in a cluster, where other processes read the same due
 * rows. A node never sends a row it does not hold a lease on, so instead of paging the due index
 * it claims due rows in batches (`claimDue`: a lease until the row's due time plus `leaseMs`,
 * SKIP LOCKED among nodes), keeps those due later in a timer wheel, and hands due ones to a
 * callback (the dispatcher's fair queue, with its per-org and per-endpoint caps).
 *
 * Fair among orgs: a claim is shared evenly among the orgs with rows due (each org's earliest
 * first), so one org's backlog never fills a claim while another's rows wait behind it in due
 * order. It claims while fewer than `maxClaimed` rows wait for or are in an attempt (rows waiting
 * in the wheel do not count), so the nodes share a backlog instead of one hoarding it. When that
 * budget is spent (say on one org's slow endpoints), each org holding less than an even share of
 * it still claims its own due rows, at most once every `idleMs`; and when memory is full, the org
 * holding the most gives back its newest queued row to make room (as the single-process
 * scheduler does). Rows handed in by `offer` (a publish leased to this node, a retry it kept) are
 * taken in up to `maxInMemory`, by the same rule, and otherwise given back to the table at once.
 *
 * What it holds stays its own: every `leaseMs / 3` the leases of every row in memory (wheel,
 * queue, in flight) are renewed, so a live node never loses a row it is working on however long
 * the row waits for a slot; a row that is no longer its own (it was paused past the lease and
 * another node took it over) is dropped from the wheel, and the outcome fence refuses whatever a
 * send already under way records. A queued row whose lease has run out by this node's clock (it
 * woke from a pause) is not started (`holds`). A node that dies stops renewing: its rows lapse
 * `leaseMs` after they came due, at most, and the other nodes claim them.
 */
import type { Clock } from "../lib/clock.ts";
import type { ClaimQuota, DueDelivery } from "../store/port.ts";
import { createDueTimer } from "./due-timer.ts";
import { evenQuotas, richestOrg, roomInShare } from "./org-shares.ts";

export interface ClaimerDeps {
  /** Every org with pending rows, and when its first is due (leased or not). */
  dueOrgs(): Promise<Array<{ orgId: string; nextDue: number }>>;
  /** Leases to this node, for each org, up to its limit of free rows due by `until`, earliest first. */
  claimDue(now: number, until: number, quotas: ClaimQuota[]): Promise<DueDelivery[]>;
  /** Extends this node's leases on these rows to at least `until`; returns the ids still its own. */
  renew(ids: string[], until: number): Promise<string[]>;
  /** Gives this node's leases on these rows back to the table. */
  release(ids: string[]): Promise<void>;
  onDue(due: DueDelivery[]): void;
  /** Takes back a queued, not yet started row of this org from the dispatcher, if it has one. */
  evict(orgId: string): DueDelivery | undefined;
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
  /** Longest sleep between two claims, and the shortest between two claims past the budget. */
  idleMs?: number;
}

export function createClaimer(deps: ClaimerDeps) {
  const { clock, leaseMs, windowMs } = deps;
  const pageSize = deps.pageSize ?? 500;
  const idleMs = deps.idleMs ?? 1_000;
  const renewEveryMs = leaseMs / 3;
  const timer = createDueTimer({ clock, idleMs, onDue: (due) => deps.onDue(due), load: work, onLoadFailed: deps.onStoreFailed });
  const { wheel, arm } = timer;
  /** Every row this node holds a lease on and has in memory, with when that lease ends by this node's clock. */
  const held = new Map<string, { due: DueDelivery; leaseUntil: number }>();
  const heldByOrg = new Map<string, number>();
  let renewedAt = clock();
  /** The claim or renewal in progress: one at a time. */
  let working: Promise<void> | null = null;
  /** The last claim filled some org's quota: more rows are due than this node has taken. */
  let moreDue = false;
  /** Which org gets a claim's remainder next. */
  let turn = 0;
  let claimedPastBudgetAt = -Infinity;

  function hold(d: DueDelivery, leaseUntil: number): void {
    const was = held.get(d.id);
    held.set(d.id, { due: d, leaseUntil: Math.max(leaseUntil, was?.leaseUntil ?? 0) });
    if (!was) heldByOrg.set(d.orgId, (heldByOrg.get(d.orgId) ?? 0) + 1);
  }

  function forget(id: string): void {
    const h = held.get(id);
    if (!h) return;
    held.delete(id);
    const n = heldByOrg.get(h.due.orgId)! - 1;
    if (n === 0) heldByOrg.delete(h.due.orgId);
    else heldByOrg.set(h.due.orgId, n);
  }

  /** Takes a leased row into memory: due ones onto `due`, the rest into the wheel. */
  function take(d: DueDelivery, now: number, leaseUntil: number, due: DueDelivery[]): void {
    hold(d, leaseUntil);
    if (d.nextAttemptAt <= now) due.push(d);
    else wheel.add(d.id, d.nextAttemptAt, d);
  }

  const claimed = () => held.size - wheel.size;

  function release(ids: string[]): void {
    if (ids.length) deps.release(ids).catch((error) => deps.onStoreFailed?.(error));
  }

  /** Memory is full: if `orgId` holds less than an even share, the org holding the most gives back its newest queued row. */
  function makeRoomFor(orgId: string): boolean {
    if (roomInShare(heldByOrg, orgId, deps.maxInMemory) < 1) return false;
    const richest = richestOrg(heldByOrg, orgId);
    const evicted = richest === undefined ? undefined : deps.evict(richest);
    if (!evicted) return false;
    forget(evicted.id);
    release([evicted.id]);
    return true;
  }

  const dueOrgIds = async (until: number) => (await deps.dueOrgs()).filter((o) => o.nextDue <= until).map((o) => o.orgId);

  /** Claims by `quotas` and takes in what came back (within memory, or as `makeRoom` allows); returns how many each org got. */
  async function claimInto(now: number, until: number, quotas: ClaimQuota[], makeRoom: boolean): Promise<Map<string, number>> {
    const page = await deps.claimDue(now, until, quotas);
    const got = new Map<string, number>();
    const due: DueDelivery[] = [];
    const giveBack: string[] = [];
    for (const d of page) {
      got.set(d.orgId, (got.get(d.orgId) ?? 0) + 1);
      const leaseUntil = Math.max(d.nextAttemptAt, now) + leaseMs;
      // A row it holds already came back because its lease had lapsed (a long pause): still one copy here.
      if (held.has(d.id)) hold(d, leaseUntil);
      else if (held.size < deps.maxInMemory || (makeRoom && makeRoomFor(d.orgId))) take(d, now, leaseUntil, due);
      else giveBack.push(d.id);
    }
    release(giveBack);
    if (due.length) deps.onDue(due);
    return got;
  }

  async function claim(now: number): Promise<void> {
    const until = now + windowMs;
    let orgs: string[] | null = null;
    for (;;) {
      if (!timer.running) return;
      const budget = Math.min(pageSize, deps.maxClaimed - claimed(), deps.maxInMemory - held.size);
      if (budget < 1) return claimPastBudget(now, until);
      orgs ??= await dueOrgIds(until);
      const quotas = evenQuotas(orgs, budget, turn++);
      if (quotas.length === 0) {
        moreDue = false;
        return;
      }
      const got = await claimInto(now, until, quotas, false);
      // An org that filled its quota may have more due; the others have nothing more for now.
      orgs = quotas.filter((q) => (got.get(q.orgId) ?? 0) >= q.limit).map((q) => q.orgId);
      moreDue = orgs.length > 0;
      if (!moreDue) return;
    }
  }

  /**
   * The claim budget is spent (or memory is full): each org with rows due that holds less than an
   * even share of the budget claims up to that share, taking the room of the richest org's queued
   * rows if memory is full. At most once every `idleMs`.
   */
  async function claimPastBudget(now: number, until: number): Promise<void> {
    if (now < claimedPastBudgetAt + idleMs) return;
    claimedPastBudgetAt = now;
    const quotas: ClaimQuota[] = [];
    for (const orgId of await dueOrgIds(until)) {
      const room = roomInShare(heldByOrg, orgId, Math.min(deps.maxClaimed, deps.maxInMemory));
      if (room >= 1) quotas.push({ orgId, limit: Math.min(room, pageSize) });
    }
    if (quotas.length) await claimInto(now, until, quotas, true);
  }

  async function renew(now: number): Promise<void> {
    renewedAt = now;
    const ids = [...held.keys()];
    if (ids.length === 0) return;
    const until = now + leaseMs;
    const kept = new Set(await deps.renew(ids, until));
    for (const id of ids) {
      const h = held.get(id);
      if (!h) continue;
      if (kept.has(id)) {
        h.leaseUntil = Math.max(h.leaseUntil, until);
        continue;
      }
      // Another node's now (or finished): nothing in the wheel is sent; one already queued is not started.
      wheel.cancel(id);
      forget(id);
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

  return {
    async start(): Promise<void> {
      timer.start();
      await work(clock()).catch((error) => deps.onStoreFailed?.(error));
      arm(clock());
    },

    /**
     * Rows leased to this node already (until their due time plus the lease): new ones its
     * publishes wrote, or its own retries. Taken in (due ones straight to `onDue`) while there is
     * room, or room is made for an org below its share; the rest are given back to the table.
     */
    offer(due: DueDelivery[]): void {
      if (!timer.running) return release(due.map((d) => d.id));
      const now = clock();
      const immediate: DueDelivery[] = [];
      const giveBack: string[] = [];
      for (const d of due) {
        if (held.has(d.id) || held.size < deps.maxInMemory || makeRoomFor(d.orgId)) take(d, now, d.nextAttemptAt + leaseMs, immediate);
        else giveBack.push(d.id);
      }
      release(giveBack);
      if (immediate.length) deps.onDue(immediate);
      arm(now);
    },

    /** Whether this row's lease is still this node's by its own clock: a queued row is started only then. */
    holds(id: string): boolean {
      const h = held.get(id);
      return h !== undefined && h.leaseUntil > clock();
    },

    /** The dispatcher is finished with this row (recorded, given back, skipped or gone). */
    done(id: string): void {
      forget(id);
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
      for (const id of unfired) forget(id);
      release(unfired);
    },

    /** After the dispatcher drained: gives back every lease still held (queued rows never started), so other nodes need not wait for them to lapse. */
    async releaseHeld(): Promise<void> {
      const ids = [...held.keys()];
      held.clear();
      heldByOrg.clear();
      if (ids.length) await deps.release(ids).catch((error) => deps.onStoreFailed?.(error));
    },
  };
}
export type Claimer = ReturnType<typeof createClaimer>;
