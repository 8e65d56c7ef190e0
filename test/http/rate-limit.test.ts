/**
 * The per-key rate limit (token bucket, burst 2x the rate). The server's clock is frozen and
 * moved by hand, so "quick requests" are exactly that, whatever the machine's speed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { expectError, expectOk } from "../helpers/assert.ts";
import { manualClock } from "../../src/lib/clock.ts";

const clock = manualClock(Date.parse("2025-01-15T10:30:00.000Z"));
const servers: TestServer[] = [];

/** An org and key made without the HTTP API, so the admin key's own bucket is not spent. */
async function tenant(s: TestServer, scopes = ["webhooks:read", "webhooks:write"]) {
  const org = await s.app.services.orgs.createOrg("Rate org");
  const { key } = await s.app.services.orgs.createKey(org.id, { scopes });
  return { orgId: org.id, key };
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe("WEBHOOKD_RATE_LIMIT=5 (burst 10)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RATE_LIMIT: "5" }, { clock });
    servers.push(s);
  });

  test("ten quick requests pass, the 11th is 429 with Retry-After and RateLimit headers", async () => {
    const { key } = await tenant(s);
    for (let i = 0; i < 10; i++) {
      const res = await s.api("GET", "/api/v1/webhooks", { key });
      expectOk(res);
      expect(res.headers.get("ratelimit-limit")).toBe("10");
      expect(res.headers.get("ratelimit-remaining")).toBe(String(9 - i));
      expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    }
    const limited = await s.api("GET", "/api/v1/webhooks", { key });
    expectError(limited, 429, "RATE_LIMITED");
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(limited.headers.get("ratelimit-limit")).toBe("10");
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("ratelimit-reset")).toBe("1");
    // It stays limited while no time passes, on every route; the admin key has its own bucket.
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x" } }), 429, "RATE_LIMITED");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: ADMIN_KEY, headers: { "x-org-id": (await tenant(s)).orgId } }))).toEqual([]);
  });

  test("/docs documents the headers these answers carry: RateLimit-* on a keyed route's 2xx and 429, Retry-After on its 429", async () => {
    const { key } = await tenant(s);
    const ok = await s.api("GET", "/api/v1/webhooks", { key });
    for (let i = 0; i < 10; i++) await s.api("GET", "/api/v1/webhooks", { key });
    const limited = await s.api("GET", "/api/v1/webhooks", { key });
    expect(limited.status).toBe(429);
    const doc = (await s.api("GET", "/docs/json")).body;
    const responses = doc.paths["/api/v1/webhooks"].get.responses;
    const sent = (h: Headers) => [...h.keys()].filter((k) => k.startsWith("ratelimit-") || k === "retry-after").sort();
    const documented = (status: string) => Object.keys(responses[status].headers ?? {}).map((k) => k.toLowerCase()).sort();
    expect(sent(ok.headers)).toEqual(["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]);
    expect(documented("200")).toEqual(sent(ok.headers));
    expect(documented("429")).toEqual(sent(limited.headers));
    // A route without a key (the liveness probe) documents none.
    expect(doc.paths["/healthz"].get.responses["200"].headers).toBeUndefined();
  });

  test("the bucket refills at the rate: one second later, five more", async () => {
    const { key } = await tenant(s);
    for (let i = 0; i < 10; i++) expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    expectError(await s.api("GET", "/api/v1/webhooks", { key }), 429, "RATE_LIMITED");
    clock.advance(1000);
    for (let i = 0; i < 5; i++) expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    expectError(await s.api("GET", "/api/v1/webhooks", { key }), 429, "RATE_LIMITED");
  });

  test("per key: another key, of the same org or another, is unaffected", async () => {
    const a = await tenant(s);
    const b = await tenant(s);
    const sibling = await s.app.services.orgs.createKey(a.orgId, { scopes: ["webhooks:read"] });
    for (let i = 0; i < 10; i++) await s.api("GET", "/api/v1/webhooks", { key: a.key });
    expectError(await s.api("GET", "/api/v1/webhooks", { key: a.key }), 429, "RATE_LIMITED");
    const other = await s.api("GET", "/api/v1/webhooks", { key: b.key });
    expectOk(other);
    expect(other.headers.get("ratelimit-remaining")).toBe("9");
    expectOk(await s.api("GET", "/api/v1/webhooks", { key: sibling.key }));
  });

  test("failed requests count too", async () => {
    const { key } = await tenant(s);
    for (let i = 0; i < 10; i++) {
      expectError(await s.api("GET", "/api/v1/webhooks/wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E", { key }), 404, "NOT_FOUND");
    }
    expectError(await s.api("GET", "/api/v1/webhooks", { key }), 429, "RATE_LIMITED");
  });

  test("requests without a key are not rate limited (they are 401), nor are health checks", async () => {
    for (let i = 0; i < 15; i++) {
      const res = await s.api("GET", "/api/v1/webhooks");
      expectError(res, 401, "UNAUTHORIZED");
      expect(res.headers.get("ratelimit-limit")).toBeNull();
      expect((await s.api("GET", "/healthz")).status).toBe(200);
    }
  });
});

describe("WEBHOOKD_RATE_LIMIT=0", () => {
  test("turns the limit off", async () => {
    const s = await startTestServer({ WEBHOOKD_RATE_LIMIT: "0" }, { clock });
    servers.push(s);
    const { key } = await tenant(s);
    for (let i = 0; i < 40; i++) {
      const res = await s.api("GET", "/api/v1/webhooks", { key });
      expectOk(res);
      expect(res.headers.get("ratelimit-limit")).toBeNull();
    }
  });
});

describe("WEBHOOKD_RATE_LIMIT=1 (burst 2)", () => {
  test("the burst is twice the rate and Retry-After says when a token is back", async () => {
    const s = await startTestServer({ WEBHOOKD_RATE_LIMIT: "1" }, { clock });
    servers.push(s);
    const { key } = await tenant(s);
    expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    const limited = await s.api("GET", "/api/v1/webhooks", { key });
    expectError(limited, 429, "RATE_LIMITED");
    expect(limited.headers.get("retry-after")).toBe("1");
    clock.advance(1000);
    expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
  });
});
