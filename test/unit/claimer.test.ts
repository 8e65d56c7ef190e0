/**
 * The claimer against a fake lease table (the port's claimDue/renewLeases/releaseLeases semantics
 * in memory), a manual clock and captured hand-overs. Its timers are real but short (idleMs), so a
 * test moves the manual clock and then lets a tick or two run.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { createClaimer, type Claimer } from "../../src/scheduler/claimer.ts";
import type { ClaimQuota, DueDelivery } from "../../src/store/port.ts";

const T0 = 1_700_000_000_000;
const LEASE_MS = 60_000;

interface Leased {
  row: DueDelivery;
  owner: string | null;
  expiresAt: number | null;
  pending: boolean;
}

class FakeLeaseTable {
  rows = new Map<string, Leased>();
  claims = 0;
  quotas: ClaimQuota[][] = [];
  renewals: string[][] = [];
  released: string[] = [];

  put(row: DueDelivery, owner: string | null = null, expiresAt: number | null = null): void {
    this.rows.set(row.id, { row, owner, expiresAt, pending: true });
  }

  dueOrgs(): Array<{ orgId: string; nextDue: number }> {
    const first = new Map<string, number>();
    for (const r of this.rows.values()) if (r.pending) first.set(r.row.orgId, Math.min(first.get(r.row.orgId) ?? Infinity, r.row.nextAttemptAt));
    return [...first].sort(([a], [b]) => a.localeCompare(b)).map(([orgId, nextDue]) => ({ orgId, nextDue }));
  }

  claimDue(owner: string, now: number, until: number, leaseMs: number, quotas: ClaimQuota[]): DueDelivery[] {
    this.claims++;
    this.quotas.push(quotas);
    const free = quotas.flatMap((q) =>
      [...this.rows.values()]
        .filter((r) => r.pending && r.row.orgId === q.orgId && r.row.nextAttemptAt <= until && (r.expiresAt === null || r.expiresAt < now))
        .sort((a, b) => a.row.nextAttemptAt - b.row.nextAttemptAt)
        .slice(0, q.limit),
    );
    for (const r of free) (r.owner = owner), (r.expiresAt = Math.max(r.row.nextAttemptAt, now) + leaseMs);
    return free.map((r) => ({ ...r.row })).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  renew(owner: string, ids: string[], until: number): string[] {
    this.renewals.push(ids);
    return ids.filter((id) => {
      const r = this.rows.get(id);
      if (!r || !r.pending || r.owner !== owner) return false;
      r.expiresAt = Math.max(r.expiresAt ?? 0, until);
      return true;
    });
  }

  release(owner: string, ids: string[]): void {
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r?.owner === owner) (r.owner = null), (r.expiresAt = null), this.released.push(id);
    }
  }
}

const row = (n: number, due: number, orgId = "org_a"): DueDelivery => ({ id: `dlv_${String(n).padStart(5, "0")}`, orgId, endpointId: `wh_${orgId}`, nextAttemptAt: due });

const running: Claimer[] = [];
afterEach(() => {
  for (const c of running.splice(0)) c.stop();
});

function node(table: FakeLeaseTable, clock: ReturnType<typeof manualClock>, owner: string, opts: { maxClaimed?: number; maxInMemory?: number } = {}) {
  const handed: string[] = [];
  /** Handed over and not yet started, newest last: what `evict` may take back. */
  const queued: DueDelivery[] = [];
  const evicted: string[] = [];
  const claimer = createClaimer({
    dueOrgs: async () => table.dueOrgs(),
    claimDue: async (now, until, quotas) => table.claimDue(owner, now, until, LEASE_MS, quotas),
    renew: async (ids, until) => table.renew(owner, ids, until),
    release: async (ids) => table.release(owner, ids),
    onDue: (due) => {
      handed.push(...due.map((d) => d.id));
      queued.push(...due);
    },
    evict: (orgId) => {
      const i = queued.findLastIndex((d) => d.orgId === orgId);
      if (i < 0) return undefined;
      const [d] = queued.splice(i, 1);
      evicted.push(d!.id);
      return d;
    },
    clock,
    leaseMs: LEASE_MS,
    windowMs: 30_000,
    maxClaimed: opts.maxClaimed ?? 100,
    maxInMemory: opts.maxInMemory ?? 1_000,
    pageSize: 7,
    idleMs: 2,
  });
  running.push(claimer);
  return { claimer, handed, queued, evicted };
}

/** Lets the claimers' short timers run a few times. */
const ticks = () => Bun.sleep(30);

describe("the claimer", () => {
  test("claims what is due within the window, in pages; hands due rows over at once and later ones when the clock reaches them", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 20; i++) table.put(row(i, T0 - 1_000 + i));
    table.put(row(20, T0 + 10_000));
    table.put(row(21, T0 + 40_000)); // beyond the window: left in the table
    const { claimer, handed } = node(table, clock, "a");
    await claimer.start();
    expect(handed).toEqual(Array.from({ length: 20 }, (_, i) => row(i, 0).id));
    expect(claimer.scheduled).toBe(1);
    expect(table.rows.get(row(21, 0).id)!.owner).toBeNull();
    clock.advance(10_000);
    await ticks();
    expect(handed.at(-1)).toBe(row(20, 0).id);
    // The window moved with the clock: row 21 is claimed into the wheel now.
    expect(claimer.inMemory).toBe(22);
    expect(table.rows.get(row(21, 0).id)!.owner).toBe("a");
  });

  test("claims no more than maxClaimed rows waiting for or in an attempt; a finished one makes room", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 30; i++) table.put(row(i, T0 - 100));
    const { claimer, handed } = node(table, clock, "a", { maxClaimed: 10 });
    await claimer.start();
    expect(handed).toHaveLength(10);
    for (const id of handed.slice(0, 6)) {
      table.rows.get(id)!.pending = false;
      claimer.done(id);
    }
    await ticks();
    // Under half the cap with more due: claimed again at once, up to the cap.
    expect(handed).toHaveLength(16);
    expect(new Set(handed).size).toBe(16);
  });

  test("two nodes on one table: every row is handed to exactly one of them", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 50; i++) table.put(row(i, T0 - 50 + i));
    const a = node(table, clock, "a", { maxClaimed: 30 });
    const b = node(table, clock, "b", { maxClaimed: 30 });
    await Promise.all([a.claimer.start(), b.claimer.start()]);
    await ticks();
    expect(a.handed.length + b.handed.length).toBe(50);
    expect(new Set([...a.handed, ...b.handed]).size).toBe(50);
    expect(a.handed.length).toBeGreaterThan(0);
    expect(b.handed.length).toBeGreaterThan(0);
  });

  test("renews what it holds every third of the lease; a row another node took over meanwhile is dropped, not sent", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    table.put(row(1, T0 - 10));
    table.put(row(2, T0 + 25_000));
    const { claimer, handed } = node(table, clock, "a");
    await claimer.start();
    expect(handed).toEqual([row(1, 0).id]);
    // Row 2 waits in the wheel; another node takes it over (this one was paused past its lease).
    Object.assign(table.rows.get(row(2, 0).id)!, { owner: "b" });
    clock.advance(LEASE_MS / 3);
    await ticks();
    expect(table.renewals.at(-1)!.sort()).toEqual([row(1, 0).id, row(2, 0).id]);
    expect(table.rows.get(row(1, 0).id)!.expiresAt).toBe(T0 + LEASE_MS / 3 + LEASE_MS);
    expect(claimer.inMemory).toBe(1);
    clock.advance(10_000);
    await ticks();
    expect(handed).toEqual([row(1, 0).id]);
  });

  test("offer takes rows already leased to it (publishes, kept retries) and gives back what finds no room; keepsRetry follows the window", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    const fresh = [row(1, T0), row(2, T0), row(3, T0)];
    for (const r of fresh) table.put(r, "a", T0 + LEASE_MS);
    const { claimer, handed } = node(table, clock, "a", { maxInMemory: 2 });
    await claimer.start();
    claimer.offer(fresh);
    await ticks();
    expect(handed).toEqual([row(1, 0).id, row(2, 0).id]);
    expect(table.released).toEqual([row(3, 0).id]);
    expect(claimer.keepsRetry(T0 + 30_000)).toBe(true);
    expect(claimer.keepsRetry(T0 + 30_001)).toBe(false);
  });

  test("stop gives the wheel's rows back at once; releaseHeld the rest (queued, never started)", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    table.put(row(1, T0 - 10));
    table.put(row(2, T0 + 5_000));
    const { claimer } = node(table, clock, "a");
    await claimer.start();
    claimer.stop();
    await ticks();
    expect(table.released).toEqual([row(2, 0).id]);
    expect(claimer.keepsRetry(T0 + 1)).toBe(false);
    await claimer.releaseHeld();
    expect(table.released).toEqual([row(2, 0).id, row(1, 0).id]);
    expect(claimer.inMemory).toBe(0);
  });

  test("a claim is shared evenly among the orgs with rows due: a backlog due earlier does not fill it", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 50; i++) table.put(row(i, T0 - 60_000 + i, "org_a"));
    for (let i = 50; i < 53; i++) table.put(row(i, T0 - 10, "org_b"));
    const { claimer, handed } = node(table, clock, "a", { maxClaimed: 6 });
    await claimer.start();
    // pageSize 7, budget 6: three each; org_b's three arrive in the first claim, behind none of org_a's 50.
    expect(table.quotas[0]).toEqual([{ orgId: "org_a", limit: 3 }, { orgId: "org_b", limit: 3 }]);
    expect(handed.filter((id) => table.rows.get(id)!.row.orgId === "org_b")).toHaveLength(3);
    expect(handed).toHaveLength(6);
  });

  test("with its budget spent on one org's rows, an org holding less than its share still claims its own, once per idle tick", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 50; i++) table.put(row(i, T0 - 60_000 + i, "org_a"));
    const { claimer, handed } = node(table, clock, "a", { maxClaimed: 10 });
    await claimer.start();
    expect(handed).toHaveLength(10); // org_a's rows, all in slow attempts: the budget is spent
    table.put(row(99, T0 + 100, "org_b"));
    clock.advance(200);
    await ticks();
    expect(handed).toContain(row(99, 0).id);
    // org_a is at its share (10 of 10 among one org): nothing more of its rows was claimed.
    expect(handed.filter((id) => table.rows.get(id)!.row.orgId === "org_a")).toHaveLength(10);
    expect(table.quotas.at(-1)).toEqual([{ orgId: "org_b", limit: 5 }]);
  });

  test("with memory full, an org below its share takes the room of the richest org's newest queued row, which goes back to the table", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 30; i++) table.put(row(i, T0 - 60_000 + i, "org_a"));
    const { claimer, handed, evicted } = node(table, clock, "a", { maxClaimed: 10, maxInMemory: 10 });
    await claimer.start();
    expect(claimer.inMemory).toBe(10);
    // A retry of org_b's, due later, handed back to the table by another node; and a fresh publish of org_c's offered here.
    table.put(row(98, T0 + 100, "org_b"));
    const fresh = row(99, T0, "org_c");
    table.put(fresh, "a", T0 + LEASE_MS);
    claimer.offer([fresh]);
    expect(handed.at(-1)).toBe(fresh.id);
    expect(evicted).toEqual([row(9, 0).id]);
    clock.advance(200);
    await ticks();
    expect(handed).toContain(row(98, 0).id);
    expect(evicted).toEqual([row(9, 0).id, row(8, 0).id]);
    expect(claimer.inMemory).toBe(10);
    // What was evicted is free in the table for whichever node claims it.
    expect(table.released).toEqual([row(9, 0).id, row(8, 0).id]);
    expect(table.rows.get(row(9, 0).id)!.owner).toBeNull();
  });

  test("with memory full and nothing of the richest org queued (all in flight), a claimed row finds no room and goes straight back", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    for (let i = 0; i < 10; i++) table.put(row(i, T0 - 60_000 + i, "org_a"));
    const { claimer, handed, queued } = node(table, clock, "a", { maxClaimed: 10, maxInMemory: 10 });
    await claimer.start();
    queued.length = 0; // every one of org_a's rows is in an attempt: nothing to evict
    table.put(row(98, T0 + 100, "org_b"));
    clock.advance(200);
    await ticks();
    expect(handed).not.toContain(row(98, 0).id);
    expect(table.released).toContain(row(98, 0).id);
    expect(table.rows.get(row(98, 0).id)!.owner).toBeNull();
    expect(claimer.inMemory).toBe(10);
  });

  test("holds: a row's lease is this node's until its due time (or the claim) plus the lease, extended by renewals, and ends when it is done", async () => {
    const clock = manualClock(T0);
    const table = new FakeLeaseTable();
    table.put(row(1, T0 - 10));
    const { claimer } = node(table, clock, "a");
    await claimer.start();
    const id = row(1, 0).id;
    expect(claimer.holds(id)).toBe(true);
    // Paused past its lease, with no renewal in between: the queued row is not this node's to start.
    clock.advance(LEASE_MS + 1);
    expect(claimer.holds(id)).toBe(false);
    // Its renewal (the row was not taken over meanwhile) makes it this node's again.
    await ticks();
    expect(table.renewals.at(-1)).toEqual([id]);
    expect(claimer.holds(id)).toBe(true);
    claimer.done(id);
    expect(claimer.holds(id)).toBe(false);
    expect(claimer.holds("dlv_unknown")).toBe(false);
  });
});
