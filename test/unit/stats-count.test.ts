/**
 * The SQLite stats count (`countsByBucket`, behind GET /api/v1/webhooks/{id}/stats) counts a big
 * range in slices of COUNT_SLICE index entries and lets the event loop turn between them, so a
 * busy endpoint's chart does not hold every other request for the whole count; the counts stay
 * exact across the slices' edges.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.ts";
import { COUNT_SLICE } from "../../src/store/sqlite/repositories/deliveries.ts";
import { idBound } from "../../src/lib/ids.ts";

const HOUR = 3600_000;
let made = 0;
/**
 * A delivery id made at `at` (in the past: newId is monotonic within the process, so after other
 * tests it would stamp now instead); the suffix, a counter, keeps each unique.
 */
const idAt = (prefix: "dlv" | "evt", at: number) => `${idBound(prefix, at - 1)}${String(made++).padStart(16, "0")}`;
const T0 = Date.UTC(2026, 0, 1);
let dir: string;
let store: SqliteStore;
// Bucket 0: 2.5 slices of succeeded and exactly one slice of failed; bucket 1: a few; bucket 2: none.
const ROWS: Array<{ hour: number; status: string; n: number }> = [
  { hour: 0, status: "succeeded", n: Math.floor(COUNT_SLICE * 2.5) },
  { hour: 0, status: "failed", n: COUNT_SLICE },
  { hour: 1, status: "pending", n: 3 },
  { hour: 1, status: "cancelled", n: 2 },
];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "webhookd-stats-"));
  const file = join(dir, "webhookd.db");
  store = openSqliteStore(file);
  const raw = new Database(file);
  const insert = raw.query(
    `INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempts, created_at, updated_at) VALUES (?, 'org_1', ?, ?, 'call.ended', ?, 1, ?, ?)`,
  );
  raw.transaction(() => {
    for (const { hour, status, n } of ROWS) {
      for (let i = 0; i < n; i++) {
        const at = T0 + hour * HOUR + Math.floor((i / n) * HOUR);
        insert.run(idAt("dlv", at), idAt("evt", at), "wh_1", status, at, at);
      }
    }
    // Another endpoint's, in the same hours: never counted.
    for (let i = 0; i < 10; i++) insert.run(idAt("dlv", T0 + i), idAt("evt", T0 + i), "wh_2", "succeeded", T0 + i, T0 + i);
  })();
  raw.close();
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("exact counts across slice edges, per bucket and status", async () => {
  const buckets = await store.deliveries.countsByBucket("wh_1", T0, T0 + 3 * HOUR, HOUR);
  expect(buckets).toEqual([
    { start: T0, counts: { pending: 0, succeeded: Math.floor(COUNT_SLICE * 2.5), failed: COUNT_SLICE, cancelled: 0 } },
    { start: T0 + HOUR, counts: { pending: 3, succeeded: 0, failed: 0, cancelled: 2 } },
    { start: T0 + 2 * HOUR, counts: { pending: 0, succeeded: 0, failed: 0, cancelled: 0 } },
  ]);
});

test("the event loop turns while a big range is counted", async () => {
  let turns = 0;
  let counting = true;
  const spin = () => {
    if (!counting) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  await store.deliveries.countsByBucket("wh_1", T0, T0 + HOUR, HOUR);
  counting = false;
  // 3.5 slices in the range: at least a turn between each two.
  expect(turns).toBeGreaterThanOrEqual(3);
});
