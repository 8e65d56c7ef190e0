/**
 * The scheduler: keeps the deliveries due soon in a timer wheel, pages them in from the store
 * by the due index, and hands due ones to a callback (app.ts wires it to the dispatcher).
 *
 * Memory follows the window and the cap, never the backlog: the store holds every pending row;
 * `known` holds the ids this process has in memory (wheel, queue, in flight, being recorded).
 * The cursor (due, id) says every pending row at or before it is known; the loader pages rows
 * after it, up to now + window, as long as there is room under `maxInMemory`.
 *
 * The loader pages in due order, whoever's rows they are, so one org's backlog can fill memory.
 * Rows handed in by `offer` (a publish, a retry) are therefore taken in even ahead of the cursor,
 * and when memory is full an org holding less than an even share of it takes the room of the
 * newest queued row of the org holding the most: another org's backlog never keeps a fresh
 * delivery out of the dispatcher's fair queue. Rows left in the store (a retry beyond the window,
 * an evicted row, every row at start) are found the same way: while the in-order loader is held
 * at the cap, each org below its share pages its own due rows by the org's index, ahead of the
 * cursor, so the backlog's rows are never read to reach them.
 */
import type { Clock } from "../lib/clock.ts";
import type { DueDelivery } from "../store/port.ts";
import { at, covers, dueParam, justBefore, later, START, through, type DueCursor } from "./due-cursor.ts";
import { createOrgsInStore } from "./orgs-in-store.ts";
import { createDueTimer } from "./due-timer.ts";
import { richestOrg, roomInShare } from "./org-shares.ts";

export interface SchedulerDeps {
  pageDue(afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]>;
  /** The same, for one org's rows only. */
  pageOrgDue(orgId: string, afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]>;
  /** When the org's first pending row due after `after` is due; null when it has none. */
  orgNextDue(orgId: string, after: number): Promise<number | null>;
  /** Every org with pending rows in the store, read once at start. */
  pendingOrgs(): Promise<Array<{ orgId: string; nextDue: number }>>;
  onDue(due: DueDelivery[]): void;
  /** A loader run failed (the store is unavailable); the next tick tries again. */
  onLoadFailed?(error: unknown): void;
  /** Takes back a queued, not yet started delivery of this org from the dispatcher, if it has one. */
  evict(orgId: string): DueDelivery | undefined;
  clock: Clock;
  /** How far ahead rows are paged into memory. */
  windowMs?: number;
  /** At most this many deliveries held in memory at once. */
  maxInMemory?: number;
  pageSize?: number;
  /** Longest sleep between loader runs, and the shortest between two searches of other orgs' rows. */
  idleMs?: number;
}

export function createScheduler(deps: SchedulerDeps) {
  const clock = deps.clock;
  const windowMs = deps.windowMs ?? 30_000;
  const maxInMemory = deps.maxInMemory ?? 50_000;
  const pageSize = deps.pageSize ?? 2_000;
  const idleMs = deps.idleMs ?? 1_000;
  const timer = createDueTimer({ clock, idleMs, onDue: (due) => deps.onDue(due), load, onLoadFailed: deps.onLoadFailed });
  const { wheel, arm } = timer;
  /** Id -> org of every delivery in memory, and how many each org holds. */
  const known = new Map<string, string>();
  const heldByOrg = new Map<string, number>();
  /** Every pending row at or before it is in memory. */
  let cursor: DueCursor = START;
  const orgsInStore = createOrgsInStore();
  let searchedOrgsAt = -Infinity;
  /** The loader run in progress: one at a time. */
  let loading: Promise<void> | null = null;
  /**
   * Rows left to the store while a loader run waits for a page: the page's cursor must not move
   * past them, so every cursor the run sets steps back before these again.
   */
  let leftWhileLoading: DueDelivery[] | null = null;

  function hold(d: DueDelivery): void {
    known.set(d.id, d.orgId);
    heldByOrg.set(d.orgId, (heldByOrg.get(d.orgId) ?? 0) + 1);
  }

  function forget(id: string): void {
    const orgId = known.get(id);
    if (orgId === undefined) return;
    known.delete(id);
    const n = heldByOrg.get(orgId)! - 1;
    if (n === 0) heldByOrg.delete(orgId);
    else heldByOrg.set(orgId, n);
  }

  /** Left to the store: the loaders must find it again, so the cursors step back before it. */
  function leaveToStore(d: DueDelivery): void {
    forget(d.id);
    if (covers(cursor, d)) cursor = justBefore(d);
    orgsInStore.leftInStore(d);
    leftWhileLoading?.push(d);
  }

  /** Moves the global cursor, never past a row left to the store meanwhile. */
  function moveCursor(to: DueCursor): void {
    cursor = to;
    for (const d of leftWhileLoading ?? []) if (covers(cursor, d)) cursor = justBefore(d);
  }

  /** Moves an org's cursor, never past a row of its left to the store meanwhile. */
  function advanceOrg(orgId: string, to: DueCursor, nextDue: number | null): void {
    orgsInStore.advance(orgId, to, nextDue);
    for (const d of leftWhileLoading ?? []) if (d.orgId === orgId) orgsInStore.leftInStore(d);
  }

  /**
   * Memory is full: if `orgId` holds less than an even share, the org holding the most gives
   * back its newest queued delivery. True when there is room now.
   */
  function makeRoomFor(orgId: string): boolean {
    if (roomInShare(heldByOrg, orgId, maxInMemory) < 1) return false;
    const richest = richestOrg(heldByOrg, orgId);
    const evicted = richest !== undefined ? deps.evict(richest) : undefined;
    if (!evicted) return false;
    leaveToStore(evicted);
    return true;
  }

  /** Takes a row into memory: due ones onto `due`, the rest into the wheel. */
  function take(d: DueDelivery, now: number, due: DueDelivery[]): void {
    hold(d);
    if (d.nextAttemptAt <= now) due.push(d);
    else wheel.add(d.id, d.nextAttemptAt, d);
  }

  /** Runs the loader unless a run is in progress (which then covers this call's purpose). */
  function load(now: number): Promise<void> {
    loading ??= (async () => {
      leftWhileLoading = [];
      try {
        await loadWindow(now);
      } finally {
        leftWhileLoading = null;
        loading = null;
      }
    })();
    return loading;
  }

  async function loadWindow(now: number): Promise<void> {
    const until = now + windowMs;
    while (timer.running && known.size < maxInMemory && !(cursor.due >= until)) {
      const limit = Math.min(pageSize, maxInMemory - known.size);
      const page = await deps.pageDue(dueParam(cursor), cursor.id, until, limit);
      const fresh: DueDelivery[] = [];
      for (const d of page) if (!known.has(d.id)) take(d, now, fresh);
      const last = page.at(-1);
      if (last) moveCursor(at(last));
      if (fresh.length) deps.onDue(fresh);
      if (page.length < limit) {
        // Everything due by `until` is in memory now.
        moveCursor(through(until));
        return;
      }
    }
    // Held at the cap before `until`: other orgs' rows may wait behind the rows ahead of the cursor.
    if (timer.running && now >= searchedOrgsAt + idleMs) {
      searchedOrgsAt = now;
      await loadOtherOrgs(now, until);
    }
  }

  /**
   * Each org that may have rows due by `until` in the store and holds less than its even share
   * pages its own, from its cursor or the global one (whichever is later: both say what is in
   * memory), taking the room of the richest org's queued rows. An org above its share reads
   * nothing, so a backlog's own rows are never read here.
   */
  async function loadOtherOrgs(now: number, until: number): Promise<void> {
    const fresh: DueDelivery[] = [];
    for (const [orgId, entry] of orgsInStore.dueBy(until)) {
      let want = roomInShare(heldByOrg, orgId, maxInMemory);
      if (want < 1) continue;
      let from = later(cursor, entry.cursor);
      for (;;) {
        const limit = Math.min(pageSize, want);
        const page = await deps.pageOrgDue(orgId, dueParam(from), from.id, until, limit);
        let full = false;
        for (const d of page) {
          if (!known.has(d.id)) {
            if (known.size >= maxInMemory && !makeRoomFor(orgId)) {
              full = true;
              break;
            }
            take(d, now, fresh);
            want--;
          }
          from = at(d);
        }
        if (full || want < 1) {
          // More of its rows may be due by `until`: it is looked at again next time.
          advanceOrg(orgId, from, from.due);
          break;
        }
        if (page.length < limit) {
          advanceOrg(orgId, through(until), await deps.orgNextDue(orgId, until));
          break;
        }
      }
    }
    if (fresh.length) deps.onDue(fresh);
  }

  return {
    async start(): Promise<void> {
      timer.start();
      for (const { orgId, nextDue } of await deps.pendingOrgs()) orgsInStore.found(orgId, nextDue);
      const now = clock();
      await load(now);
      arm(clock());
    },

    /**
     * New or rescheduled deliveries. Those due within the window (or the loaded range) are taken
     * into memory, due ones straight to the dispatcher, making room if their org holds less than
     * its share; the rest stay in the store for the loader to find.
     */
    offer(due: DueDelivery[]): void {
      if (!timer.running) return;
      const now = clock();
      const immediate: DueDelivery[] = [];
      for (const d of due) {
        const inWindow = d.nextAttemptAt <= now + windowMs || covers(cursor, d);
        if (!inWindow || !(known.has(d.id) || known.size < maxInMemory || makeRoomFor(d.orgId))) {
          leaveToStore(d);
          continue;
        }
        if (!known.has(d.id)) hold(d);
        if (d.nextAttemptAt <= now) immediate.push(d);
        else wheel.add(d.id, d.nextAttemptAt, d);
      }
      if (immediate.length) deps.onDue(immediate);
      arm(now);
    },

    /** The dispatcher is finished with this delivery (recorded, skipped or gone). */
    done(id: string): void {
      forget(id);
      if (timer.running && known.size < maxInMemory / 2 && !timer.armed) arm(clock());
    },

    get inMemory(): number {
      return known.size;
    },
    get scheduled(): number {
      return wheel.size;
    },

    stop(): void {
      timer.stop();
    },
  };
}
export type Scheduler = ReturnType<typeof createScheduler>;
