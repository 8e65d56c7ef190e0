import { describe, expect, test } from "bun:test";
import { isId, newId } from "../../src/lib/ids.ts";

describe("ids", () => {
  test("sort in creation order, within one millisecond and across them", () => {
    const ids: string[] = [];
    for (let ms = 0; ms < 5; ms++) for (let i = 0; i < 2000; i++) ids.push(newId("dlv", 1_763_900_000_000 + ms));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("carry their time in the first ten characters of the body (ULID layout)", () => {
    const decode = (text: string) => [...text].reduce((n, c) => n * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(c), 0);
    const later = Date.now() + 5; // after every id made so far (so not bumped), and barely ahead of the clock
    expect(decode(newId("evt", later).slice(4, 14))).toBe(later);
  });

  test("encode the 80 random bits as 16 Crockford base32 characters, most significant first", () => {
    const random = Uint8Array.from([0x00, 0xff, 0x12, 0x34, 0x56, 0x80, 0x01, 0xfe, 0xdc, 0xba]);
    const bits = [...random].map((b) => b.toString(2).padStart(8, "0")).join("");
    const expected = bits.replace(/.{5}/g, (five) => "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[parseInt(five, 2)]!);
    const real = crypto.getRandomValues;
    crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
      (array as unknown as Uint8Array).set(random);
      return array;
    }) as typeof crypto.getRandomValues;
    try {
      // Ahead of every id made so far (so the random part is fresh), but barely: the test
      // process makes ids after this one, and they must not sort into the future.
      expect(newId("att", Date.now() + 10).slice(14)).toBe(expected);
    } finally {
      crypto.getRandomValues = real;
    }
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
