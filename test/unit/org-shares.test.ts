/** The org-share rules both schedulers use, by table. */
import { describe, expect, test } from "bun:test";
import { evenQuotas, richestOrg, roomInShare } from "../../src/scheduler/org-shares.ts";

describe("evenQuotas", () => {
  const cases: Array<{ orgs: string[]; budget: number; turn: number; want: Array<[string, number]> }> = [
    { orgs: ["a", "b"], budget: 6, turn: 0, want: [["a", 3], ["b", 3]] },
    { orgs: ["a", "b", "c"], budget: 7, turn: 0, want: [["a", 3], ["b", 2], ["c", 2]] },
    { orgs: ["a", "b", "c"], budget: 7, turn: 1, want: [["a", 2], ["b", 3], ["c", 2]] },
    { orgs: ["a", "b", "c"], budget: 7, turn: 5, want: [["a", 2], ["b", 2], ["c", 3]] },
    // Fewer rows than orgs: one each, from the turn on.
    { orgs: ["a", "b", "c", "d"], budget: 2, turn: 3, want: [["a", 1], ["d", 1]] },
    { orgs: ["a"], budget: 0, turn: 0, want: [] },
    { orgs: [], budget: 9, turn: 0, want: [] },
  ];
  test.each(cases)("$budget over $orgs from turn $turn", ({ orgs, budget, turn, want }) => {
    const quotas = evenQuotas(orgs, budget, turn);
    expect(quotas.map((q) => [q.orgId, q.limit])).toEqual(want);
    expect(quotas.reduce((n, q) => n + q.limit, 0)).toBe(orgs.length ? budget : 0);
  });
});

describe("roomInShare and richestOrg", () => {
  const held = new Map([["a", 8], ["b", 2]]);
  test.each([
    { org: "a", capacity: 10, want: -3 }, // share 5 among two
    { org: "b", capacity: 10, want: 3 },
    { org: "c", capacity: 12, want: 4 }, // a newcomer counts itself: share 12 / 3
  ])("$org in $capacity", ({ org, capacity, want }) => expect(roomInShare(held, org, capacity)).toBe(want));

  test("the richest other than the asker gives way", () => {
    expect(richestOrg(held, "c")).toBe("a");
    expect(richestOrg(held, "a")).toBe("b");
    expect(richestOrg(new Map(), "a")).toBeUndefined();
  });
});
