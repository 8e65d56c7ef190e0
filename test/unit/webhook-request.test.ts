/**
 * The delivery log stores a few of an attempt's request headers and rebuilds the rest: the
 * rebuilt set must be what the receiver got, through the real client, for every shape of URL,
 * body and secret set.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHttpClient } from "../../src/delivery/http-client.ts";
import { requestHeadersAsSent, storedRequestHeaders, webhookHeaders } from "../../src/delivery/webhook-request.ts";

const USER_AGENT = "webhookd/9.9.9";
const SECRET = `whsec_${Buffer.from("k".repeat(32)).toString("base64")}`;
const PREVIOUS = `whsec_${Buffer.from("p".repeat(32)).toString("base64")}`;
/** Bun's own, not webhookd's: not in the log. */
const TRANSPORT = new Set(["accept", "accept-encoding", "connection"]);

const received: Record<string, string>[] = [];
const servers = ["127.0.0.1", "::1"].map((hostname) =>
  Bun.serve({
    hostname,
    port: 0,
    fetch(req) {
      received.push(Object.fromEntries([...req.headers].filter(([name]) => !TRANSPORT.has(name))));
      return new Response("ok");
    },
  }),
);
afterAll(() => servers.forEach((s) => s.stop(true)));

const client = createHttpClient({
  pickTarget: (url) => ({ ok: true, address: url.hostname.startsWith("[") ? "::1" : "127.0.0.1", family: url.hostname.startsWith("[") ? 6 : 4 }),
  userAgent: USER_AGENT,
});

describe("request headers as sent, from what the log stores", () => {
  const [v4, v6] = servers.map((s) => s.port);
  test.each<{ name: string; url: string; body: string; secrets: string[] }>([
    { name: "one secret", url: `http://127.0.0.1:${v4}/hooks`, body: '{"a":1}', secrets: [SECRET] },
    { name: "a rotation's grace: two signatures", url: `http://127.0.0.1:${v4}/hooks?x=1`, body: '{"a":1}', secrets: [SECRET, PREVIOUS] },
    { name: "an IPv6 host", url: `http://[::1]:${v6}/`, body: "{}", secrets: [SECRET] },
    { name: "a body of multi-byte characters", url: `http://127.0.0.1:${v4}/h`, body: JSON.stringify({ s: "héllo ☃ 😀" }), secrets: [SECRET] },
  ])("$name", async ({ url, body, secrets }) => {
    const at = 1_700_000_123_456;
    const eventId = "evt_2abcdefghij";
    const eventType = "invoice.paid";
    const headers = webhookHeaders({ eventId, eventType, body, secrets, at, userAgent: USER_AGENT });
    received.length = 0;
    const result = await client.send({ url, headers, body, timeoutMs: 5000 });
    expect(result.ok).toBe(true);
    const stored = storedRequestHeaders(result.requestHeaders!);
    expect(Object.keys(stored).sort()).toEqual(["user-agent", "webhook-signature", "x-webhook-signature"]);
    expect(requestHeadersAsSent(stored, { eventId, eventType, at, url, body })).toEqual(received[0]!);
  });

  test("once the event is gone, everything but the length", () => {
    const rebuilt = requestHeadersAsSent({ "user-agent": USER_AGENT }, { eventId: "evt_1", eventType: "a.b", at: 5_000, url: "https://example.com/x", body: null });
    expect(rebuilt).toEqual({
      "content-type": "application/json",
      "x-webhook-event": "a.b",
      "x-webhook-id": "evt_1",
      "webhook-id": "evt_1",
      "webhook-timestamp": "5",
      host: "example.com",
      "user-agent": USER_AGENT,
    });
  });

  test("a row that kept every header shows them as they were", () => {
    const kept = { "content-type": "application/json", "user-agent": "webhookd/0.1.0", "webhook-timestamp": "4", host: "old.example:8443", "content-length": "2" };
    expect(requestHeadersAsSent(kept, { eventId: "evt_1", eventType: "a.b", at: 5_000, url: "https://example.com/x", body: "{}" })).toMatchObject(kept);
  });
});
