import { expect, test } from "bun:test";
import { webhookBody, webhookBodyOf } from "../../src/lib/webhook-body.ts";

test.each([
  [{ id: "abc123", duration: 45 }],
  [{ nested: { a: [1, "two", null, true], "quote\"d": "line\nbreak \u2028 é" } }],
  [{}],
])("the body is exactly JSON.stringify({event, timestamp, data}): %j", (data) => {
  const expected = JSON.stringify({ event: "call.ended", timestamp: "2025-01-15T10:30:00.000Z", data });
  expect(webhookBody("call.ended", "2025-01-15T10:30:00.000Z", data)).toBe(expected);
  expect(webhookBodyOf("call.ended", "2025-01-15T10:30:00.000Z", JSON.stringify(data))).toBe(expected);
});
