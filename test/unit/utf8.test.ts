import { expect, test } from "bun:test";
import { utf8Prefix } from "../../src/lib/utf8.ts";

test.each([
  ["ascii", "abcdef", 4, "abcd"],
  ["fits", "abc", 4, "abc"],
  ["2-byte char cut", "aé", 2, "a"],
  ["2-byte char whole", "aé", 3, "aé"],
  ["4-byte char cut", "a😀b", 4, "a"],
  ["4-byte char whole", "a😀b", 5, "a😀"],
  ["zero", "abc", 0, ""],
])("utf8Prefix: %s", (_, text, max, expected) => {
  const prefix = utf8Prefix(text, max);
  expect(prefix).toBe(expected);
  expect(Buffer.byteLength(prefix)).toBeLessThanOrEqual(max);
});
