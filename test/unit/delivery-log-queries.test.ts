/**
 * Issue 12, item 9: the delivery log's queries cost the same on a huge log as on a small one.
 * Every combination of its filters is planned as index range scans in id order (no table scan,
 * no sort of all matches), and counting stops at the cap.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { newId } from "../../src/lib/ids.ts";
import { migrate } from "../../src/store/sqlite/migrate.ts";
import { createDeliveriesRepo } from "../../src/store/sqlite/repositories/deliveries.ts";
import { deliveryStatuses, type DeliveryFilter } from "../../src/store/port.ts";
import * as schema from "../../src/store/sqlite/schema.ts";

const ENDPOINT = "wh_big";
const ROWS = 12_000;
const EVENTS = ["call.ended", "call.started", "contact.created"];

const sqlite = new Database(":memory:");
const logged: { sql: string; params: unknown[] }[] = [];
const db = drizzle(sqlite, { schema, logger: { logQuery: (sql, params) => logged.push({ sql, params }) } }) as Parameters<typeof createDeliveriesRepo>[0];
migrate(sqlite);
const repo = createDeliveriesRepo(db);
// Seeded before the tests are collected: the filters below page from one of these ids.
const ids = sqlite.transaction(() =>
  Array.from({ length: ROWS }, (_, i) => {
    const id = newId("dlv", 1_700_000_000_000 + i);
    void repo.insertMany([{ id, orgId: "org_1", eventId: `evt_${i}`, endpointId: ENDPOINT, eventType: EVENTS[i % 3]!, dueAt: 0, createdAt: i }]);
    sqlite.run("UPDATE deliveries SET status = ? WHERE id = ?", [deliveryStatuses[i % 4]!, id]);
    return id;
  }),
)();
const someId = ids[ROWS / 2]!;
sqlite.run("ANALYZE");
afterAll(() => sqlite.close());

/** Every filter the log offers, alone and combined. */
function filters(): DeliveryFilter[] {
  const all: DeliveryFilter[] = [];
  for (const success of [undefined, true, false])
    for (const status of [undefined, ...deliveryStatuses])
      for (const eventType of [undefined, "call.ended"])
        for (const before of [undefined, someId]) all.push({ success, status, eventType, before });
  return all;
}

/** The plan of each query `run` makes, as EXPLAIN QUERY PLAN details. */
function plans(run: () => unknown): string[][] {
  logged.length = 0;
  run();
  return logged.map(({ sql, params }) => sqlite.query<{ detail: string }, any[]>(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as any[])).map((r) => r.detail));
}

describe("delivery log queries", () => {
  test.each(filters().map((f) => [JSON.stringify(f), f] as const))("%s: range scans of an index on every filtered column, no sort", (_, filter) => {
    for (const plan of [...plans(() => repo.page(ENDPOINT, filter, 40, 21)), ...plans(() => repo.countUpTo(ENDPOINT, filter, 10_001))]) {
      const reads = plan.filter((line) => line.includes(" deliveries "));
      expect(plan.join("\n")).not.toContain("TEMP B-TREE");
      for (const line of reads) {
        expect(line).toStartWith("SEARCH deliveries USING ");
        expect(line).toContain("endpoint_id=? AND ");
        expect(line).toContain("status=?");
        if (filter.eventType) expect(line).toContain("event_type=?");
        if (filter.before) expect(line).toContain("id<?");
      }
    }
  });

  test("the rows are the filter's matches, newest first, and counting stops at the cap", async () => {
    const matches = (f: DeliveryFilter) =>
      sqlite
        .query<{ id: string }, [string]>("SELECT id, status, event_type FROM deliveries WHERE endpoint_id = ? ORDER BY id DESC")
        .all(ENDPOINT)
        .filter((r: any) => repoFilterAdmits(f, r));
    for (const f of filters()) {
      const expected = matches(f).map((r) => r.id);
      expect((await repo.page(ENDPOINT, f, 5, 30)).map((r) => r.id)).toEqual(expected.slice(5, 35));
      expect(await repo.countUpTo(ENDPOINT, f, 10_001)).toBe(Math.min(expected.length, 10_001));
    }
    expect(await repo.countUpTo(ENDPOINT, {}, 10_001)).toBe(10_001);
  });
});

function repoFilterAdmits(f: DeliveryFilter, r: { id: string; status: string; event_type: string }): boolean {
  if (f.status !== undefined && r.status !== f.status) return false;
  if (f.success === true && r.status !== "succeeded") return false;
  if (f.success === false && r.status !== "failed" && r.status !== "cancelled") return false;
  if (f.eventType !== undefined && r.event_type !== f.eventType) return false;
  return f.before === undefined || r.id < f.before;
}
