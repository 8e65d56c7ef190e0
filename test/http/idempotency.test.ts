/** Idempotency-Key on POST: replay, reuse with another body, concurrency, failures, scoping, expiry. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { createEndpoint, expectError, expectOk, expectPage } from "../helpers/assert.ts";
import { manualClock } from "../../src/lib/clock.ts";

const clock = manualClock(Date.parse("2025-01-15T10:30:00.000Z"));

/** DNS that can be held: while `gate` is pending, creates of `slow.test` URLs wait inside the handler. */
let gate: Promise<void> | null = null;
let entered: () => void = () => {};
const resolver = async (host: string): Promise<string[]> => {
  if (host === "slow.test" && gate) {
    entered();
    await gate;
  }
  return ["93.184.216.34"];
};

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_PROBE: "false", WEBHOOKD_ALLOW_HTTP: "false" }, { clock, resolver });
});
afterAll(() => s.stop());

const post = (key: string, idem: string, body: unknown, path = "/api/v1/webhooks") =>
  s.api("POST", path, { key, body, headers: { "idempotency-key": idem } });
const list = async (key: string) => expectOk(await s.api("GET", "/api/v1/webhooks", { key })) as any[];

describe("replay", () => {
  test("same key and body: the first response again, flagged, and only one endpoint", async () => {
    const { key } = await s.newTenant();
    const body = { url: "https://example.com/hook", events: ["call.ended"] };
    const first = await post(key, "create-webhook-prod", body);
    expectOk(first, 201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    for (let i = 0; i < 3; i++) {
      const again = await post(key, "create-webhook-prod", body);
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.headers.get("content-type")).toStartWith("application/json");
      expect(again.body).toEqual(first.body); // same id, same secret
    }
    expect((await list(key)).map((e) => e.id)).toEqual([first.body.data.id]);
  });

  test("different body under the same key: 422 IDEMPOTENCY_KEY_REUSED, nothing created", async () => {
    const { key } = await s.newTenant();
    await post(key, "k1", { url: "https://example.com/a" });
    expectError(await post(key, "k1", { url: "https://example.com/b" }), 422, "IDEMPOTENCY_KEY_REUSED");
    expectError(await post(key, "k1", { url: "https://example.com/a", description: "x" }), 422, "IDEMPOTENCY_KEY_REUSED");
    expect(await list(key)).toHaveLength(1);
  });

  test("rotate-secret replays the same secret and rotates once", async () => {
    const { key } = await s.newTenant();
    const ep = await createEndpoint(s.api, key);
    const path = `/api/v1/webhooks/${ep.id}/rotate-secret`;
    const a = expectOk(await post(key, "rot-1", undefined, path));
    const b = await post(key, "rot-1", undefined, path);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(expectOk(b)).toEqual(a);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${ep.id}/secret`, { key })).secret).toBe(a.secret);
    // Another route under the same key is another request.
    expectError(await post(key, "rot-1", { url: "https://example.com/x" }), 422, "IDEMPOTENCY_KEY_REUSED");
  });

  test("admin POSTs replay too: the org and the (shown-once) API key", async () => {
    const org1 = await post(ADMIN_KEY, "org-1", { name: "Idem Org" }, "/api/v1/orgs");
    const org2 = await post(ADMIN_KEY, "org-1", { name: "Idem Org" }, "/api/v1/orgs");
    expect(org2.body).toEqual(org1.body);
    const orgId = org1.body.data.id;
    expect(expectPage(await s.api("GET", "/api/v1/orgs", { key: ADMIN_KEY })).data.filter((o: any) => o.name === "Idem Org")).toHaveLength(1);

    const keysPath = `/api/v1/orgs/${orgId}/keys`;
    const k1 = expectOk(await post(ADMIN_KEY, "key-1", { scopes: ["webhooks:read"] }, keysPath), 201);
    const k2 = await post(ADMIN_KEY, "key-1", { scopes: ["webhooks:read"] }, keysPath);
    expect(k2.headers.get("idempotent-replayed")).toBe("true");
    expect(expectOk(k2, 201)).toEqual(k1);
    expect(expectPage(await s.api("GET", keysPath, { key: ADMIN_KEY })).data).toHaveLength(1);
    expectOk(await s.api("GET", "/api/v1/webhooks", { key: k1.key }));
  });

  test("not on PATCH: the header is ignored there", async () => {
    const { key } = await s.newTenant();
    const ep = await createEndpoint(s.api, key);
    const headers = { "idempotency-key": "patch-1" };
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, headers, body: { description: "one" } }));
    const second = expectOk(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, headers, body: { description: "two" } }));
    expect(second.description).toBe("two");
  });
});

describe("concurrent duplicates", () => {
  test("five at once: exactly one endpoint; the others replay or get 409", async () => {
    const { key } = await s.newTenant();
    const body = { url: "https://slow.test/hook" };
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    setTimeout(() => release(), 50); // the first holds the key a moment; correctness does not depend on how long
    const results = await Promise.all(Array.from({ length: 5 }, () => post(key, "race", body)));
    gate = null;
    const fresh = results.filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") === null);
    expect(fresh).toHaveLength(1);
    for (const r of results) {
      if (r === fresh[0]) continue;
      if (r.status === 409) expectError(r, 409, "IDEMPOTENCY_IN_PROGRESS");
      else expect({ status: r.status, replayed: r.headers.get("idempotent-replayed"), body: r.body }).toEqual({ status: 201, replayed: "true", body: fresh[0]!.body });
    }
    expect((await list(key)).map((e) => e.id)).toEqual([fresh[0]!.body.data.id]);
  });

  test("while the first is in flight a duplicate is 409; after it, a replay", async () => {
    const { key } = await s.newTenant();
    const body = { url: "https://slow.test/held" };
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    const inResolver = new Promise<void>((r) => (entered = r));
    const first = post(key, "held", body);
    await inResolver; // the first has claimed the key and is waiting inside the handler
    const dupes = await Promise.all([post(key, "held", body), post(key, "held", body)]);
    for (const d of dupes) expectError(d, 409, "IDEMPOTENCY_IN_PROGRESS");
    // Even a different body is refused while the first runs (its key is taken).
    expectError(await post(key, "held", { url: "https://slow.test/other" }), 422, "IDEMPOTENCY_KEY_REUSED");
    release();
    gate = null;
    const done = await first;
    expectOk(done, 201);
    const replay = await post(key, "held", body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(done.body);
    expect(await list(key)).toHaveLength(1);
  });
});

describe("failures do not burn the key", () => {
  test("a request refused by the service (http:// here) leaves the key free", async () => {
    const { key } = await s.newTenant();
    const bad = await post(key, "retry-me", { url: "http://example.com/hook" });
    expectError(bad, 400, "VALIDATION_ERROR", "url");
    // Same failing request again: evaluated again, not replayed.
    const badAgain = await post(key, "retry-me", { url: "http://example.com/hook" });
    expectError(badAgain, 400, "VALIDATION_ERROR", "url");
    expect(badAgain.headers.get("idempotent-replayed")).toBeNull();
    // Fixed body under the same key: created.
    const good = await post(key, "retry-me", { url: "https://example.com/hook" });
    expectOk(good, 201);
    expect(await list(key)).toHaveLength(1);
  });

  test("a request failing schema validation leaves the key free", async () => {
    const { key } = await s.newTenant();
    expectError(await post(key, "schema", { url: "https://example.com/hook", bogus: 1 }), 400, "VALIDATION_ERROR", "bogus");
    expectOk(await post(key, "schema", { url: "https://example.com/hook" }), 201);
  });

  test("a 422 MAX_ENDPOINTS leaves the key free once there is room", async () => {
    const { key } = await s.newTenant();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await createEndpoint(s.api, key)).id);
    expectError(await post(key, "sixth", { url: "https://example.com/6" }), 422, "MAX_ENDPOINTS");
    await s.api("DELETE", `/api/v1/webhooks/${ids[0]}`, { key });
    expectOk(await post(key, "sixth", { url: "https://example.com/6" }), 201);
  });
});

describe("scoping and lifetime", () => {
  test("per API key: another org, or another key of the same org, gets its own", async () => {
    const a = await s.newTenant();
    const b = await s.newTenant();
    const body = { url: "https://example.com/shared" };
    const ra = expectOk(await post(a.key, "shared", body), 201);
    const rb = await post(b.key, "shared", body);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
    expect(expectOk(rb, 201).id).not.toBe(ra.id);
    expect((await list(a.key)).map((e) => e.id)).toEqual([ra.id]);
    expect((await list(b.key)).map((e) => e.id)).toEqual([rb.body.data.id]);

    const a2 = expectOk(await s.api("POST", `/api/v1/orgs/${a.orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read", "webhooks:write"] } }), 201);
    expectOk(await post(a2.key, "shared", body), 201);
    expect(await list(a.key)).toHaveLength(2);
  });

  test("after 24 hours the key may be used again", async () => {
    const { key } = await s.newTenant();
    expectOk(await post(key, "daily", { url: "https://example.com/day1" }), 201);
    clock.advance(24 * 3600 * 1000 - 1000);
    expectError(await post(key, "daily", { url: "https://example.com/day2" }), 422, "IDEMPOTENCY_KEY_REUSED");
    clock.advance(2000);
    const next = expectOk(await post(key, "daily", { url: "https://example.com/day2" }), 201);
    expect(next.url).toBe("https://example.com/day2");
    expect(await list(key)).toHaveLength(2);
  });

  test.each([
    ["too long", "k".repeat(256)],
    ["non-ASCII", "clé-ü"],
    ["with a space", "two words"],
  ])("an Idempotency-Key that is %s is 400", async (_label, idem) => {
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x" }, headers: { "idempotency-key": idem } });
    expectError(res, 400, "VALIDATION_ERROR", "Idempotency-Key");
    expect(await list(key)).toEqual([]);
  });
});
