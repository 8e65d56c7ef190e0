/**
 * Issue 12, item 4: the scheduler finds other orgs' due rows behind one org's backlog at a cost
 * that does not grow with the backlog. Its per-org queries are planned as seeks into
 * deliveries_org_due (no table scan, no sort, no read of another org's range), and answer what a
 * plain filter of the rows does.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "../../src/store/sqlite/migrate.ts";
import { createDeliveriesRepo } from "../../src/store/sqlite/repositories/deliveries.ts";
import * as schema from "../../src/store/sqlite/schema.ts";

const NOW = 1_700_000_000_000;
const BACKLOG = 20_000;

const sqlite = new Database(":memory:");
migrate(sqlite);
/** Every statement the repository runs, with its parameters, so a test can ask for their plans. */
const ran: { sql: string; params: unknown[] }[] = [];
const prepare = sqlite.query.bind(sqlite);
sqlite.query = ((sql: string) => {
  const stmt = prepare(sql);
  const logged = (run: (...params: any[]) => unknown) => (...params: any[]) => (ran.push({ sql, params }), run.apply(stmt, params));
  return Object.assign(Object.create(stmt), { all: logged(stmt.all), get: logged(stmt.get), run: logged(stmt.run) });
}) as typeof sqlite.query;
const repo = createDeliveriesRepo(drizzle(sqlite, { schema }) as Parameters<typeof createDeliveriesRepo>[0]);
const insert = (id: string, orgId: string, dueAt: number, status = "pending") => {
  void repo.insertMany([{ id, orgId, eventId: `evt_${id}`, endpointId: `wh_${orgId}`, eventType: "call.ended", dueAt, createdAt: NOW }]);
  if (status !== "pending") sqlite.run("UPDATE deliveries SET status = ?, next_attempt_at = NULL WHERE id = ?", [status, id]);
};
sqlite.transaction(() => {
  for (let i = 0; i < BACKLOG; i++) insert(`dlv_a${String(i).padStart(6, "0")}`, "org_a", NOW - 60_000 + (i % 60_000));
  for (let o = 0; o < 20; o++)
    for (let j = 0; j < 5; j++) insert(`dlv_o${o}_${j}`, `org_b${String(o).padStart(2, "0")}`, NOW - 30_000 + o * 1_000 + j * 20_000, j === 4 ? "succeeded" : "pending");
  insert("dlv_done", "org_c", NOW, "succeeded"); // an org with no pending row
})();
sqlite.run("ANALYZE");
afterAll(() => sqlite.close());

interface Row {
  id: string;
  orgId: string;
  nextAttemptAt: number;
}
const pending = sqlite
  .query<Row, []>("SELECT id, org_id AS orgId, next_attempt_at AS nextAttemptAt FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at, id")
  .all();

/** The plan of the one query `call` runs, as EXPLAIN QUERY PLAN details. */
function plan(call: () => unknown): string[] {
  ran.length = 0;
  call();
  expect(ran).toHaveLength(1);
  const { sql, params } = ran[0]!;
  return prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as any[])).map((r: any) => r.detail as string);
}

describe("the scheduler's per-org queries", () => {
  test("an org's due rows: a range of deliveries_org_due in due order, no sort", async () => {
    const lines = plan(() => repo.pageOrgDue("org_b03", NOW - 60_000, "", NOW + 30_000, 100));
    expect(lines).toEqual(["SEARCH deliveries USING INDEX deliveries_org_due (org_id=? AND next_attempt_at>? AND next_attempt_at<?)"]);
  });

  test("an org's next due time: one seek into deliveries_org_due", async () => {
    expect(plan(() => repo.orgNextDue("org_a", NOW))).toEqual(["SEARCH deliveries USING COVERING INDEX deliveries_org_due (org_id=? AND next_attempt_at>?)"]);
  });

  test("the orgs with pending rows: a skip-scan, one seek per org, never a scan", async () => {
    const lines = plan(() => repo.pendingOrgs());
    const reads = lines.filter((l) => / (deliveries|d) /.test(l));
    expect(reads).toHaveLength(3);
    for (const line of reads) expect(line).toMatch(/^SEARCH (deliveries|d) USING COVERING INDEX deliveries_org_due( \(org_id[>=]\?\))?$/);
    expect(lines.join("\n")).not.toContain("TEMP B-TREE");
  });

  test("their answers are the pending rows', org by org", async () => {
    const orgs = [...new Set(pending.map((r) => r.orgId))].sort();
    expect(await repo.pendingOrgs()).toEqual(orgs.map((orgId) => ({ orgId, nextDue: pending.find((r) => r.orgId === orgId)!.nextAttemptAt })));
    for (const orgId of orgs) {
      const own = pending.filter((r) => r.orgId === orgId);
      const after = own[1]!;
      const until = NOW + 10_000;
      const expected = own.filter((r) => (r.nextAttemptAt > after.nextAttemptAt || (r.nextAttemptAt === after.nextAttemptAt && r.id > after.id)) && r.nextAttemptAt <= until);
      expect((await repo.pageOrgDue(orgId, after.nextAttemptAt, after.id, until, 1_000)).map((r) => r.id)).toEqual(expected.slice(0, 1_000).map((r) => r.id));
      expect((await repo.pageOrgDue(orgId, after.nextAttemptAt, after.id, until, 2)).map((r) => r.id)).toEqual(expected.slice(0, 2).map((r) => r.id));
      expect(await repo.orgNextDue(orgId, until)).toBe(own.find((r) => r.nextAttemptAt > until)?.nextAttemptAt ?? null);
    }
    expect(await repo.orgNextDue("org_c", 0)).toBeNull();
  });
});
