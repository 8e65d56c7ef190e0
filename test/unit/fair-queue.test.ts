/** The fair queue alone: turn order, caps, urgent items, removal and eviction. */
import { describe, expect, test } from "bun:test";
import { FairQueue } from "../../src/delivery/fair-queue.ts";

/** Items are "org/endpoint/n". */
const orgOf = (item: string) => item.split("/")[0]!;
const endpointOf = (item: string) => item.split("/").slice(0, 2).join("/");

function queue(orgCap = 100, endpointCap = 100) {
  return new FairQueue<string>({ orgOf, endpointOf, orgCap, endpointCap });
}

function takeAll(q: FairQueue<string>): string[] {
  const out: string[] = [];
  for (let item = q.take(); item !== undefined; item = q.take()) out.push(item);
  return out;
}

const items = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}/${i + 1}`);

describe("fair queue", () => {
  test.each([
    {
      name: "one org, one endpoint: first in, first out",
      pushed: items("a/e1", 3),
      taken: ["a/e1/1", "a/e1/2", "a/e1/3"],
    },
    {
      name: "orgs take turns whatever was queued first",
      pushed: [...items("a/e1", 4), ...items("b/e1", 2)],
      taken: ["a/e1/1", "b/e1/1", "a/e1/2", "b/e1/2", "a/e1/3", "a/e1/4"],
    },
    {
      name: "endpoints of one org take turns within the org's turn",
      pushed: [...items("a/e1", 3), ...items("a/e2", 1), ...items("b/e1", 2)],
      taken: ["a/e1/1", "b/e1/1", "a/e2/1", "b/e1/2", "a/e1/2", "a/e1/3"],
    },
  ])("$name", ({ pushed, taken }) => {
    const q = queue();
    for (const item of pushed) q.push(item);
    expect(takeAll(q)).toEqual([...taken]);
    expect(q.size).toBe(0);
  });

  test("an org at its cap waits; another org's items go past it", () => {
    const q = queue(2);
    for (const item of items("a/e1", 5)) q.push(item);
    expect(takeAll(q)).toEqual(["a/e1/1", "a/e1/2"]);
    q.push("b/e1/1");
    expect(takeAll(q)).toEqual(["b/e1/1"]);
    q.releaseOrg("a");
    expect(takeAll(q)).toEqual(["a/e1/3"]);
    expect(q.size).toBe(2);
  });

  test("an endpoint at its cap waits; the same org's other endpoint goes on", () => {
    const q = queue(100, 1);
    for (const item of [...items("a/e1", 3), ...items("a/e2", 2)]) q.push(item);
    expect(takeAll(q)).toEqual(["a/e1/1", "a/e2/1"]);
    q.releaseEndpoint("a/e2");
    expect(takeAll(q)).toEqual(["a/e2/2"]);
    q.releaseEndpoint("a/e1");
    expect(takeAll(q)).toEqual(["a/e1/2"]);
  });

  test("a victim org that arrives behind a flood waits one turn of each org ahead, not the flood", () => {
    const q = queue(1_000_000);
    for (const item of items("flood/e1", 10_000)) q.push(item);
    expect(q.take()).toBe("flood/e1/1");
    q.push("victim/e1/1");
    // The flood's next turn was in the ring first; then the victim's.
    expect(takeAll(q).indexOf("victim/e1/1")).toBe(1);
  });

  test("urgent items go first within their endpoint, not ahead of other orgs", () => {
    const q = queue();
    for (const item of [...items("a/e1", 2), ...items("b/e1", 2)]) q.push(item);
    q.push("a/e1/replay", true);
    expect(takeAll(q)).toEqual(["a/e1/replay", "b/e1/1", "a/e1/1", "b/e1/2", "a/e1/2"]);
  });

  test("removing an endpoint hands back what it had queued and nothing of it is taken", () => {
    const q = queue();
    for (const item of [...items("a/e1", 3), ...items("a/e2", 1)]) q.push(item);
    q.push("a/e1/replay", true);
    expect(q.take()).toBe("a/e1/replay");
    expect(q.removeEndpoint("a/e1").sort()).toEqual(["a/e1/1", "a/e1/2", "a/e1/3"]);
    expect(takeAll(q)).toEqual(["a/e2/1"]);
    expect(q.size).toBe(0);
  });

  test("eviction takes the newest item of the org's longest lane, never an urgent one", () => {
    const q = queue();
    for (const item of [...items("a/e1", 1), ...items("a/e2", 3)]) q.push(item);
    expect(q.evictNewest("a", () => true)).toBe("a/e2/3");
    expect(q.evictNewest("a", () => false)).toBeUndefined();
    expect(q.evictNewest("nobody", () => true)).toBeUndefined();
    const urgentOnly = queue();
    urgentOnly.push("b/e1/replay", true);
    expect(urgentOnly.evictNewest("b", () => true)).toBeUndefined();
    expect(takeAll(q)).toEqual(["a/e1/1", "a/e2/1", "a/e2/2"]);
  });

  test("in flight never exceeds the caps while slots are freed in any order", () => {
    const q = queue(3, 2);
    const orgs = ["a", "b", "c"];
    for (const org of orgs) for (const e of ["e1", "e2"]) for (const item of items(`${org}/${e}`, 20)) q.push(item);
    const inflight: string[] = [];
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let taken = 0;
    while (taken < 120) {
      for (let item = q.take(); item !== undefined; item = q.take()) inflight.push(item), taken++;
      for (const org of orgs) expect(inflight.filter((i) => orgOf(i) === org).length).toBeLessThanOrEqual(3);
      for (const e of new Set(inflight.map(endpointOf))) expect(inflight.filter((i) => endpointOf(i) === e).length).toBeLessThanOrEqual(2);
      const done = inflight.splice(Math.floor(random() * inflight.length), 1)[0]!;
      q.releaseEndpoint(endpointOf(done));
      q.releaseOrg(orgOf(done));
    }
    expect(q.size).toBe(0);
  });
});
