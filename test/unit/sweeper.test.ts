/** The retention sweeper against a fake retention repo: cutoff, batching, order, idempotency. */
import { describe, expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { createSweeper } from "../../src/scheduler/sweeper.ts";
import type { RetentionRepo, StoreTx, StoreWrite } from "../../src/store/port.ts";

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;

/** Rows per table, each just a created-at time; deletes what is older than the cutoff, `limit` at a time. */
function fakeRetention(rows: Record<string, number[]>) {
  const calls: Array<{ table: string; cutoff: number; limit: number }> = [];
  const repo = {
    async deleteBatch(table: string, cutoff: number, limit: number): Promise<number> {
      calls.push({ table, cutoff, limit });
      let n = 0;
      rows[table] = (rows[table] ?? []).filter((createdAt) => !(createdAt < cutoff && n < limit && ++n));
      return n;
    },
  } as RetentionRepo;
  const tx = { retention: repo } as StoreTx;
  return { tx, calls, rows };
}

describe("sweeper", () => {
  test("deletes what is older than the retention window, in batches, tables in dependency order", async () => {
    const clock = manualClock(T0 + 40 * DAY);
    const old = (n: number) => Array.from({ length: n }, (_, i) => T0 + i);
    const fresh = (n: number) => Array.from({ length: n }, (_, i) => T0 + 39 * DAY + i);
    const { tx, calls, rows } = fakeRetention({ attempts: [...old(23), ...fresh(4)], deliveries: old(10), events: [...old(5), ...fresh(1)], endpoints: [] });
    let idempotencyNow: number | null = null;
    const writes: string[] = [];
    let resumed = 0;
    const sweeper = createSweeper({
      write: (async (op, durability) => (writes.push(durability ?? "durable"), op(tx))) as StoreWrite,
      sweepIdempotency: async (now) => ((idempotencyNow = now), 3),
      resumeCancellations: async () => void resumed++,
      clock,
      logger: silentLogger,
      retentionDays: 30,
      cron: "0 * * * *",
      batchSize: 10,
    });
    const deleted = await sweeper.runOnce();
    expect(deleted).toEqual({ attempts: 23, deliveries: 10, events: 5, endpoints: 0, idempotencyRecords: 3 });
    expect(rows.attempts).toHaveLength(4);
    expect(rows.events).toHaveLength(1);
    const cutoff = T0 + 40 * DAY - 30 * DAY;
    expect(calls.every((c) => c.cutoff === cutoff && c.limit === 10)).toBe(true);
    // attempts: 10, 10, 3 (a short batch ends the table); deliveries: 10, then 0.
    expect(calls.map((c) => c.table)).toEqual(["attempts", "attempts", "attempts", "deliveries", "deliveries", "events", "endpoints"]);
    expect(idempotencyNow!).toBe(T0 + 40 * DAY);
    // Each sweep also finishes any cancellation of a stopped endpoint's deliveries cut short.
    expect(resumed).toBe(1);
    // Each batch is one relaxed write of the group commit: a delete lost to a power cut is redone next time.
    expect(writes).toEqual(calls.map(() => "relaxed"));
  });

  test("the window follows retentionDays and the injected clock", async () => {
    const clock = manualClock(T0);
    const { tx, rows } = fakeRetention({ attempts: [T0 - 2 * DAY - 1, T0 - 2 * DAY + 1], deliveries: [], events: [], endpoints: [] });
    const sweeper = createSweeper({ write: (async (op) => op(tx)) as StoreWrite, sweepIdempotency: async () => 0, resumeCancellations: async () => {}, clock, logger: silentLogger, retentionDays: 2, cron: "0 * * * *" });
    expect((await sweeper.runOnce())!.attempts).toBe(1);
    expect(rows.attempts).toEqual([T0 - 2 * DAY + 1]);
    clock.advance(2);
    expect((await sweeper.runOnce())!.attempts).toBe(1);
    expect(rows.attempts).toEqual([]);
  });

  test("with `exclusive`, the sweep runs through it: skipped (null, nothing deleted) while another node sweeps", async () => {
    const { tx, rows } = fakeRetention({ attempts: [T0 - 3 * DAY], deliveries: [], events: [], endpoints: [] });
    const names: string[] = [];
    let otherNodeSweeping = true;
    const sweeper = createSweeper({
      write: (async (op) => op(tx)) as StoreWrite,
      exclusive: async (name, job) => (names.push(name), otherNodeSweeping ? null : job()),
      sweepIdempotency: async () => 0,
      resumeCancellations: async () => {},
      clock: manualClock(T0),
      logger: silentLogger,
      retentionDays: 2,
      cron: "0 * * * *",
    });
    expect(await sweeper.runOnce()).toBeNull();
    expect(rows.attempts).toHaveLength(1);
    otherNodeSweeping = false;
    expect((await sweeper.runOnce())!.attempts).toBe(1);
    expect(names).toEqual(["retention sweep", "retention sweep"]);
  });
});
