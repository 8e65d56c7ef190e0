/**
 * The scheduler's table of orgs with rows left in the store: which orgs a search looks at, and
 * from where each one's rows are paged again.
 */
import { describe, expect, test } from "bun:test";
import { START, through } from "../../src/scheduler/due-cursor.ts";
import { createOrgsInStore } from "../../src/scheduler/orgs-in-store.ts";

const row = (id: string, orgId: string, nextAttemptAt: number) => ({ id, orgId, nextAttemptAt });

describe("orgs in store", () => {
  test("an org is looked at once a row of it is due by `until`, from the start until it has been paged", () => {
    const orgs = createOrgsInStore();
    orgs.found("org_a", 100);
    orgs.leftInStore(row("dlv_2", "org_b", 500));
    expect(orgs.dueBy(99)).toEqual([]);
    expect(orgs.dueBy(100)).toEqual([["org_a", { cursor: START, nextDue: 100 }]]);
    expect(orgs.dueBy(500).map(([org]) => org)).toEqual(["org_a", "org_b"]);
    // A row due earlier than what was known lowers the org's next due time.
    orgs.leftInStore(row("dlv_1", "org_b", 50));
    expect(orgs.dueBy(99).map(([org]) => org)).toEqual(["org_b"]);
  });

  test("paged through `until`, an org waits for its next due time; with none, it leaves the table", () => {
    const orgs = createOrgsInStore();
    orgs.found("org_a", 100);
    orgs.found("org_b", 100);
    orgs.advance("org_a", through(1_000), 5_000);
    orgs.advance("org_b", through(1_000), null);
    expect(orgs.dueBy(4_999)).toEqual([]);
    expect(orgs.dueBy(5_000)).toEqual([["org_a", { cursor: through(1_000), nextDue: 5_000 }]]);
  });

  test("a row left at or before an org's cursor moves the cursor back before it, so paging finds it again", () => {
    const orgs = createOrgsInStore();
    orgs.advance("org_a", { due: 1_000, id: "dlv_5" }, 1_000);
    orgs.leftInStore(row("dlv_9", "org_a", 2_000)); // after the cursor: found anyway
    expect(orgs.dueBy(2_000)[0]![1].cursor).toEqual({ due: 1_000, id: "dlv_5" });
    orgs.leftInStore(row("dlv_3", "org_a", 1_000)); // covered: the cursor steps back before its due time
    expect(orgs.dueBy(2_000)[0]![1]).toEqual({ cursor: through(999), nextDue: 1_000 });
  });
});
