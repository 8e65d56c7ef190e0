/**
 * The scheduler against a fake store (rows sorted by (due, id), as the real due index pages them),
 * a manual clock and a captured onDue. Its timers are real but short (idleMs), so a test moves the
 * manual clock and then lets a tick or two run.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { createScheduler, type Scheduler } from "../../src/scheduler/scheduler.ts";
import type { DueDelivery } from "../../src/store/port.ts";

const T0 = 1_700_000_000_000;

/** Pending rows in (due, id) order; finished ones are skipped as the real `status = 'pending'` filter would. */
class FakeStore {
  rows: DueDelivery[] = [];
  finished = new Set<string>();
  pageCalls = 0;

  constructor(rows: DueDelivery[] = []) {
    this.rows = [...rows].sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Inserts or moves a row (a retry rewrites next_attempt_at). */
  put(row: DueDelivery): void {
    this.rows = this.rows.filter((r) => r.id !== row.id);
    const i = this.firstAfter(row.nextAttemptAt, row.id, true);
    this.rows.splice(i, 0, row);
    this.finished.delete(row.id);
  }

  finish(id: string): void {
    this.finished.add(id);
  }

  /** Index of the first row after (due, id); `inclusive` finds the first at or after it. */
  private firstAfter(due: number, id: string, inclusive = false): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.rows[mid]!;
      const before = r.nextAttemptAt < due || (r.nextAttemptAt === due && (inclusive ? r.id < id : r.id <= id));
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  pageDue = async (afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]> => {
    this.pageCalls++;
    return this.range(afterDue, afterId, until, limit);
  };

  private range(afterDue: number, afterId: string, until: number, limit: number, orgId?: string): DueDelivery[] {
    const out: DueDelivery[] = [];
    for (let i = this.firstAfter(afterDue, afterId); i < this.rows.length && out.length < limit; i++) {
      const r = this.rows[i]!;
      if (r.nextAttemptAt > until) break;
      if (!this.finished.has(r.id) && (orgId === undefined || r.orgId === orgId)) out.push({ ...r });
    }
    return out;
  }

  /** The orgs whose own rows were paged (the real query reads only that org's index range). */
  orgsPaged: string[] = [];

  pageOrgDue = async (orgId: string, afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]> => {
    this.orgsPaged.push(orgId);
    return this.range(afterDue, afterId, until, limit, orgId);
  };

  private pending(orgId: string): DueDelivery[] {
    return this.rows.filter((r) => r.orgId === orgId && !this.finished.has(r.id));
  }

  orgNextDue = async (orgId: string, after: number): Promise<number | null> => this.pending(orgId).find((r) => r.nextAttemptAt > after)?.nextAttemptAt ?? null;

  pendingOrgs = async (): Promise<Array<{ orgId: string; nextDue: number }>> =>
    [...new Set(this.rows.map((r) => r.orgId))].flatMap((orgId) => {
      const first = this.pending(orgId)[0];
      return first ? [{ orgId, nextDue: first.nextAttemptAt }] : [];
    });
}

const row = (n: number, due: number, orgId = "org_a"): DueDelivery => ({ id: `dlv_${String(n).padStart(7, "0")}`, orgId, endpointId: `wh_${orgId}`, nextAttemptAt: due });

function harness(rows: DueDelivery[], opts: { maxInMemory?: number; windowMs?: number; pageSize?: number } = {}) {
  const clock = manualClock(T0);
  const store = new FakeStore(rows);
  const handed = new Map<string, number>();
  const batches: DueDelivery[][] = [];
  /** What a dispatcher would hold queued, not started: handed over, not completed nor evicted. */
  const queued = new Map<string, DueDelivery>();
  let maxSeen = 0;
  let scheduler: Scheduler;
  scheduler = createScheduler({
    pageDue: store.pageDue,
    pageOrgDue: store.pageOrgDue,
    orgNextDue: store.orgNextDue,
    pendingOrgs: store.pendingOrgs,
    onDue: (due) => {
      batches.push(due);
      for (const d of due) handed.set(d.id, (handed.get(d.id) ?? 0) + 1), queued.set(d.id, d);
      maxSeen = Math.max(maxSeen, scheduler.inMemory);
    },
    evict: (orgId) => {
      const newest = [...queued.values()].findLast((d) => d.orgId === orgId);
      if (newest) queued.delete(newest.id);
      return newest;
    },
    clock,
    idleMs: 2,
    ...opts,
  });
  running.push(scheduler);
  return {
    clock,
    store,
    handed,
    queued,
    batches,
    scheduler,
    get maxSeen() {
      return Math.max(maxSeen, scheduler.inMemory);
    },
    /** What the dispatcher does when a delivery is finished: the row leaves `pending`, then done(). */
    complete(id: string) {
      queued.delete(id);
      store.finish(id);
      scheduler.done(id);
    },
  };
}

const running: Scheduler[] = [];
afterEach(() => {
  for (const s of running.splice(0)) s.stop();
});

/** Lets the scheduler's short timers run a few times. */
const ticks = () => Bun.sleep(15);

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(2);
  }
}

describe("scheduler", () => {
  test("rows due now are handed over at start; rows due later are not", async () => {
    const h = harness([row(1, T0 - 5_000), row(2, T0), row(3, T0 + 1)]);
    await h.scheduler.start();
    expect(h.batches.flat().map((d) => d.id)).toEqual(["dlv_0000001", "dlv_0000002"]);
    expect(h.scheduler.inMemory).toBe(3);
    expect(h.scheduler.scheduled).toBe(1);
  });

  test("rows due later fire when time reaches them, never earlier", async () => {
    const h = harness([row(1, T0 + 100), row(2, T0 + 250)]);
    await h.scheduler.start();
    expect(h.handed.size).toBe(0);
    h.clock.advance(99);
    await ticks();
    expect(h.handed.size).toBe(0);
    h.clock.advance(1);
    await until(() => h.handed.size === 1);
    expect([...h.handed.keys()]).toEqual(["dlv_0000001"]);
    h.clock.advance(149);
    await ticks();
    expect(h.handed.size).toBe(1);
    h.clock.advance(1);
    await until(() => h.handed.size === 2);
    expect(h.scheduler.scheduled).toBe(0);
    expect(h.scheduler.inMemory).toBe(2);
    h.complete("dlv_0000001");
    h.complete("dlv_0000002");
    expect(h.scheduler.inMemory).toBe(0);
  });

  test("rows beyond the paging window stay in the store until the window reaches them", async () => {
    const h = harness([row(1, T0 + 5_000)], { windowMs: 1_000 });
    await h.scheduler.start();
    expect(h.scheduler.inMemory).toBe(0);
    h.clock.advance(3_900);
    await ticks();
    expect(h.scheduler.inMemory).toBe(0);
    h.clock.advance(200); // now + window passes the row: paged into the wheel, not yet due
    await until(() => h.scheduler.scheduled === 1);
    expect(h.handed.size).toBe(0);
    h.clock.advance(900);
    await until(() => h.handed.size === 1);
  });

  test("memory stays under maxInMemory with 100,000 rows due, and each is handed over exactly once", async () => {
    const N = 100_000;
    const cap = 1_000;
    const rows = Array.from({ length: N }, (_, i) => row(i, T0 - (i % 7)));
    const h = harness(rows, { maxInMemory: cap });
    await h.scheduler.start();
    expect(h.handed.size).toBe(cap);
    expect(h.scheduler.inMemory).toBe(cap);
    let taken = 0;
    const deadline = Date.now() + 30_000;
    while (h.handed.size < N) {
      if (Date.now() > deadline) throw new Error(`only ${h.handed.size} of ${N} handed over`);
      // Finish everything handed over so far, as a dispatcher would, then let the loader run.
      const batch = h.batches.flat().slice(taken);
      taken += batch.length;
      for (const d of batch) h.complete(d.id);
      expect(h.scheduler.inMemory).toBeLessThanOrEqual(cap);
      await Bun.sleep(1);
    }
    for (const d of h.batches.flat().slice(taken)) h.complete(d.id);
    expect(h.maxSeen).toBeLessThanOrEqual(cap);
    expect(h.handed.size).toBe(N);
    expect([...h.handed.values()].every((n) => n === 1)).toBe(true);
    expect(h.scheduler.inMemory).toBe(0);
  }, 60_000);

  test("a retry within the loaded range goes to the wheel; one beyond it is left for the loader and found later", async () => {
    const h = harness([row(1, T0), row(2, T0)], { windowMs: 1_000 });
    await h.scheduler.start();
    expect(h.handed.size).toBe(2);
    // The dispatcher records each retry (the store row moves), then offers it.
    const near = row(1, T0 + 100);
    const far = row(2, T0 + 5_000);
    h.store.put(near);
    h.store.put(far);
    h.scheduler.offer([near, far]);
    expect(h.scheduler.scheduled).toBe(1);
    expect(h.scheduler.inMemory).toBe(1);

    h.clock.advance(100);
    await until(() => h.handed.get(near.id) === 2);
    h.complete(near.id);

    h.clock.advance(3_800); // T0 + 3900: the far retry is still beyond now + window
    await ticks();
    expect(h.scheduler.inMemory).toBe(0);
    h.clock.advance(200); // T0 + 4100: paged into the wheel
    await until(() => h.scheduler.scheduled === 1);
    expect(h.handed.get(far.id)).toBe(1);
    h.clock.advance(900); // T0 + 5000: due
    await until(() => h.handed.get(far.id) === 2);
    expect(h.handed.get(near.id)).toBe(2);
  });

  test("a row offered past the cap stays in the store and is loaded once there is room", async () => {
    const h = harness([], { maxInMemory: 1 });
    await h.scheduler.start();
    const a = row(1, T0);
    const b = row(2, T0);
    h.store.put(a);
    h.store.put(b);
    h.scheduler.offer([a, b]);
    expect([...h.handed.keys()]).toEqual([a.id]);
    expect(h.scheduler.inMemory).toBe(1);
    h.complete(a.id);
    await until(() => h.handed.has(b.id));
    expect(h.handed.get(b.id)).toBe(1);
  });

  test("rows left out at the cap are all found later, whatever order they were offered in", async () => {
    const h = harness([], { maxInMemory: 1 });
    await h.scheduler.start();
    const x = row(1, T0);
    h.store.put(x);
    h.scheduler.offer([x]);
    expect(h.scheduler.inMemory).toBe(1);
    const a = row(2, T0 + 100);
    const b = row(3, T0 + 200);
    h.store.put(a);
    h.store.put(b);
    h.scheduler.offer([a, b]); // both past the cap: left in the store
    expect(h.scheduler.inMemory).toBe(1);
    h.complete(x.id);
    h.clock.advance(300);
    // The dispatcher finishes each one it gets; with a cap of 1 they come one at a time.
    const deadline = Date.now() + 5_000;
    while (!(h.handed.has(a.id) && h.handed.has(b.id))) {
      if (Date.now() > deadline) throw new Error(`handed over: ${[...h.handed.keys()].join(", ")}`);
      for (const id of h.handed.keys()) if (!h.store.finished.has(id)) h.complete(id);
      await Bun.sleep(2);
    }
    expect(h.handed.get(a.id)).toBe(1);
    expect(h.handed.get(b.id)).toBe(1);
  });

  test("no row is handed over twice while known, even when the loader pages its range again", async () => {
    const h = harness([row(1, T0), row(2, T0)], { maxInMemory: 3 });
    await h.scheduler.start();
    expect(h.handed.size).toBe(2); // r1, r2 now in flight (known, not done)
    const n1 = row(3, T0);
    h.store.put(n1);
    h.scheduler.offer([n1]); // the cap is reached
    const n2 = row(4, T0 - 5); // an overdue row offered at the cap: the cursor steps back before r1 and r2
    h.store.put(n2);
    h.scheduler.offer([n2]);
    expect(h.handed.has(n2.id)).toBe(false);
    h.complete(n1.id);
    await until(() => h.handed.has(n2.id));
    h.complete(n2.id);
    // The loader now pages over r1 and r2 again: they are still known, so they must be skipped.
    const calls = h.store.pageCalls;
    await ticks();
    await ticks();
    expect(h.store.pageCalls).toBeGreaterThan(calls);
    expect(Object.fromEntries(h.handed)).toEqual({ dlv_0000001: 1, dlv_0000002: 1, dlv_0000003: 1, dlv_0000004: 1 });
    // Offering a known row that waits in the wheel moves it; it still fires once.
    const later = row(1, T0 + 50);
    h.scheduler.offer([later]);
    h.scheduler.offer([{ ...later, nextAttemptAt: T0 + 60 }]);
    expect(h.scheduler.scheduled).toBe(1);
    h.clock.advance(60);
    await until(() => h.handed.get(later.id) === 2);
    await ticks();
    expect(h.handed.get(later.id)).toBe(2);
  });

  test("stop() ends the ticks: nothing is handed over afterwards", async () => {
    const h = harness([row(1, T0 + 10)]);
    await h.scheduler.start();
    h.scheduler.stop();
    h.clock.advance(20);
    await ticks();
    expect(h.handed.size).toBe(0);
    h.scheduler.offer([row(2, T0)]);
    expect(h.handed.size).toBe(0);
  });

  test("one org's backlog filling memory does not keep another org's fresh deliveries out: they take its room, up to an even share", async () => {
    const cap = 100;
    const h = harness(Array.from({ length: 1_000 }, (_, i) => row(i, T0 - 1_000 + i, "org_flood")), { maxInMemory: cap });
    await h.scheduler.start();
    expect(h.handed.size).toBe(cap);
    const fresh = Array.from({ length: 60 }, (_, i) => row(10_000 + i, T0, "org_victim"));
    for (const d of fresh) h.store.put(d);
    h.scheduler.offer(fresh);
    // Half the memory for each of the two orgs: 50 handed over at once, 10 left to the store.
    expect(fresh.filter((d) => h.handed.has(d.id))).toHaveLength(cap / 2);
    expect(h.scheduler.inMemory).toBe(cap);
    // Everything, evicted rows and the victim's last 10 included, is handed over in the end.
    const deadline = Date.now() + 10_000;
    while (h.store.rows.some((r) => !h.store.finished.has(r.id))) {
      if (Date.now() > deadline) throw new Error(`${h.store.rows.filter((r) => !h.store.finished.has(r.id)).length} rows never handed over`);
      for (const id of [...h.queued.keys()]) h.complete(id);
      expect(h.scheduler.inMemory).toBeLessThanOrEqual(cap);
      await Bun.sleep(1);
    }
    expect(h.handed.size).toBe(1_060);
    // The flood's rows that gave their room back were handed over again, once more each.
    expect([...h.handed.values()].filter((n) => n === 2)).toHaveLength(cap / 2);
    expect([...h.handed.values()].every((n) => n <= 2)).toBe(true);
  });

  describe("rows left in the store behind one org's backlog", () => {
    const cap = 100;
    const flood = (n: number) => Array.from({ length: n }, (_, i) => row(i, T0 - 2_000 + i, "org_flood"));
    /** What a dispatcher does until the store is empty: finishes what it holds, as time goes on. */
    async function drain(h: ReturnType<typeof harness>): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (h.store.rows.some((r) => !h.store.finished.has(r.id))) {
        if (Date.now() > deadline) throw new Error(`${h.store.rows.filter((r) => !h.store.finished.has(r.id)).length} rows never handed over`);
        for (const id of [...h.queued.keys()]) h.complete(id);
        expect(h.scheduler.inMemory).toBeLessThanOrEqual(cap);
        h.clock.advance(5);
        await Bun.sleep(1);
      }
    }

    test("another org's retry due beyond the window is handed over when it falls due, while the backlog still fills memory", async () => {
      const h = harness(flood(1_000), { maxInMemory: cap, windowMs: 1_000 });
      await h.scheduler.start();
      expect(h.scheduler.inMemory).toBe(cap);
      // The victim's delivery failed; its retry is due beyond the window, so it stays in the store.
      const retry = row(10_000, T0 + 5_000, "org_victim");
      h.store.put(retry);
      h.scheduler.offer([retry]);
      expect(h.scheduler.inMemory).toBe(cap);
      expect(h.handed.has(retry.id)).toBe(false);

      // The flood is never answered, so the in-order loader stays where it is.
      h.clock.advance(4_100); // the retry enters the window: paged into the wheel, not yet handed over
      await until(() => h.scheduler.scheduled === 1);
      expect(h.handed.has(retry.id)).toBe(false);
      h.clock.advance(900);
      await until(() => h.handed.has(retry.id));
      expect(h.scheduler.inMemory).toBeLessThanOrEqual(cap);
      // Found by the victim's own rows only: the flood's were never paged to reach it.
      expect(h.store.orgsPaged).not.toContain("org_flood");

      await drain(h);
      expect(h.handed.get(retry.id)).toBe(1);
    });

    test("rows found in the store at start, due after the backlog, are handed over when due, each once", async () => {
      const victim = [
        ...Array.from({ length: 5 }, (_, i) => row(20_000 + i, T0 - 10, "org_victim")),
        row(20_010, T0 + 500, "org_victim"),
        row(20_011, T0 + 5_000, "org_victim"),
      ];
      const h = harness([...flood(1_000), ...victim], { maxInMemory: cap, windowMs: 1_000 });
      await h.scheduler.start();
      // Due already: handed over at start, ahead of 900 of the flood's rows due before them.
      for (const d of victim.slice(0, 5)) expect(h.handed.get(d.id)).toBe(1);
      expect(h.scheduler.inMemory).toBe(cap);
      h.clock.advance(500);
      await until(() => h.handed.has(victim[5]!.id));
      h.clock.advance(3_600); // T0 + 4100: within the window of the last one
      await until(() => h.scheduler.scheduled === 1);
      h.clock.advance(900);
      await until(() => h.handed.has(victim[6]!.id));
      expect(h.store.orgsPaged).not.toContain("org_flood");

      await drain(h);
      // The in-order loader passed over the victim's rows later: none of them was handed over twice.
      for (const d of victim) expect(h.handed.get(d.id)).toBe(1);
      // The flood's rows that gave their room back were handed over once more each, at most.
      expect(h.handed.size).toBe(1_000 + victim.length);
      expect([...h.handed.values()].every((n) => n <= 2)).toBe(true);
    });

    test.each([1, 2, 3, 4, 5, 6, 7, 8])(
      "seed %i: three orgs, random publishes, retries, completions and time: a row is handed over only when the dispatcher does not hold it, and none is lost",
      async (seed) => {
        let state = seed;
        const random = () => (state = (state * 16807) % 2147483647) / 2147483647;
        const pick = <T,>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
        const orgs = ["org_a", "org_b", "org_c"];
        let n = 0;
        const fresh = (due: number) => row(n++, due, pick(orgs));
        // org_a's backlog is most of the store at start; the others have a few rows, some due later.
        const initial = Array.from({ length: 120 }, () => fresh(T0 - 2_000 + Math.floor(random() * 7_000)));
        for (const d of initial.slice(0, 80)) d.orgId = d.endpointId = "org_a";
        const h = harness(initial, { maxInMemory: 20, windowMs: 1_000, pageSize: 7 });
        const onDue = h.batches.push.bind(h.batches);
        h.batches.push = (...batches: DueDelivery[][]) => {
          // Handed over again only after the dispatcher gave it back (finished, retried or evicted).
          for (const d of batches.flat()) expect(h.queued.has(d.id)).toBe(false);
          return onDue(...batches);
        };
        await h.scheduler.start();
        for (let step = 0; step < 150; step++) {
          const action = random();
          const queued = [...h.queued.values()];
          if (action < 0.35 && queued.length) {
            const d = pick(queued);
            if (random() < 0.3) {
              // A failed attempt: the row moves to its retry's due time, then the dispatcher offers it.
              h.queued.delete(d.id);
              const retry = { ...d, nextAttemptAt: h.clock() + Math.floor(random() * 3_000) };
              h.store.put(retry);
              h.scheduler.offer([retry]);
            } else h.complete(d.id);
          } else if (action < 0.5) {
            const d = fresh(h.clock());
            h.store.put(d);
            h.scheduler.offer([d]);
          } else {
            h.clock.advance(Math.floor(random() * 300));
            await Bun.sleep(3);
          }
          expect(h.scheduler.inMemory).toBeLessThanOrEqual(20);
        }
        expect(h.store.orgsPaged.length).toBeGreaterThan(0);
        await drain(h);
      },
    );
  });
});
