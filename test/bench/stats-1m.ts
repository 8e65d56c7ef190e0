/**
 * The portal chart's count on a big log (`GET /api/v1/webhooks/{id}/stats`): one endpoint with
 * 1,000,000 deliveries over the last 20 hours in a SQLite file, counted the way the route counts
 * them (24 buckets over 24 h, every status). Prints how long the count takes and the longest the
 * event loop was held meanwhile (a 1 ms timer's worst lateness): what other requests wait.
 *
 *   bun test/bench/stats-1m.ts [rows]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { idBound, newId } from "../../src/lib/ids.ts";

const ROWS = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "webhookd-stats-"));
const file = join(dir, "webhookd.db");
const store = openSqliteStore(file);
const raw = new Database(file);
try {
  const now = Date.now();
  const span = 20 * 3600_000;
  const insert = raw.query(
    `INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempts, created_at, updated_at) VALUES (?, 'org_bench', ?, 'wh_bench', 'call.ended', ?, 1, ?, ?)`,
  );
  const statuses = ["succeeded", "succeeded", "succeeded", "failed"];
  const started = performance.now();
  for (let done = 0; done < ROWS; ) {
    raw.transaction(() => {
      for (let i = 0; i < 50_000 && done < ROWS; i++, done++) {
        const at = now - span + Math.floor((done / ROWS) * span);
        insert.run(newId("dlv", at), newId("evt", at), statuses[done % 4]!, at, at);
      }
    })();
  }
  console.log(`inserted ${ROWS} deliveries in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  /** The worst lateness of a 1 ms timer while `work` runs. */
  async function held<T>(work: () => Promise<T>): Promise<{ result: T; took: number; worstLag: number }> {
    let worstLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const t = performance.now();
      worstLag = Math.max(worstLag, t - last - 1);
      last = t;
    }, 1);
    const t0 = performance.now();
    const result = await work();
    const took = performance.now() - t0;
    // One more tick, so a hold at the very end is seen too.
    await new Promise((r) => setTimeout(r, 5));
    clearInterval(ticker);
    return { result, took, worstLag };
  }
  // The machine's own noise: the same timer with nothing to do for 200 ms.
  const idle = await held(() => new Promise((r) => setTimeout(r, 1000)));
  console.log(`idle 1 s: event loop held at most ${idle.worstLag.toFixed(1)} ms`);
  // What the count was before it was sliced, in the same session: one statement per bucket and status.
  const whole = raw.query<{ n: number }, [string, string, string]>("SELECT count(*) AS n FROM deliveries WHERE endpoint_id = 'wh_bench' AND status = ? AND id > ? AND id < ?");
  const unsliced = async () => {
    const until = Date.now();
    let n = 0;
    for (let start = until - 24 * 3600_000; start < until; start += 3600_000) {
      for (const s of ["pending", "succeeded", "failed", "cancelled"]) n += whole.get(s, idBound("dlv", start - 1), idBound("dlv", Math.min(start + 3600_000, until) - 1))!.n;
    }
    return n;
  };
  for (let run = 0; run < 4; run++) {
    const { result, took, worstLag } = await held(unsliced);
    console.log(`unsliced run ${run + 1}: counted ${result} in ${took.toFixed(0)} ms; event loop held at most ${worstLag.toFixed(1)} ms`);
  }
  for (let run = 0; run < 8; run++) {
    const until = Date.now();
    const { result: buckets, took, worstLag } = await held(() => store.deliveries.countsByBucket("wh_bench", until - 24 * 3600_000, until, 3600_000));
    const counted = buckets.reduce((n, b) => n + b.counts.succeeded + b.counts.failed + b.counts.pending + b.counts.cancelled, 0);
    console.log(`run ${run + 1}: counted ${counted} in ${took.toFixed(0)} ms; event loop held at most ${worstLag.toFixed(1)} ms`);
  }
} finally {
  raw.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
