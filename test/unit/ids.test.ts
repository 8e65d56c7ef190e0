import { describe, expect, test } from "bun:test";
import { isId, newId } from "../../src/lib/ids.ts";

describe("ids", () => {
  test("sort in creation order, within one millisecond and across them", () => {
    const ids: string[] = [];
    for (let ms = 0; ms < 5; ms++) for (let i = 0; i < 2000; i++) ids.push(newId("dlv", 1_763_900_000_000 + ms));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("carry the time in the first ten characters of the body (ULID layout)", () => {
    expect(newId("evt", 0).slice(4, 14)).toBe("0000000000");
    expect(newId("evt", 1_763_900_000_000).slice(4, 14)).toBe("01KARA41R0");
  });

  test.each([
    ["wh", "wh_01KARA41R0VJKT8ZTQFWT9R1NR", true],
    ["wh", "evt_01KARA41R0VJKT8ZTQFWT9R1NR", false],
    ["wh", "wh_01KARA41R0VJKT8ZTQFWT9R1N", false],
    ["wh", "wh_01KARA41R0VJKT8ZTQFWT9R1NU", false],
    ["wh", "wh_../../etc/passwd", false],
  ] as const)("isId(%s, %s) is %s", (prefix, value, expected) => {
    expect(isId(prefix, value)).toBe(expected);
  });
});
