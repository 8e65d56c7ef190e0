/** The admin API: /api/v1/orgs and /api/v1/orgs/{orgId}/keys. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { expectError, expectOk, expectPage } from "../helpers/assert.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

const admin = (method: string, path: string, body?: unknown) => s.api(method, path, { key: ADMIN_KEY, body });
const UNKNOWN_ORG = "org_01JH2W8Q4V3N6X0Z9K7B5C1D2E";
const UNKNOWN_KEY = "key_01JH2W8Q4V3N6X0Z9K7B5C1D2E";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("POST/GET /api/v1/orgs", () => {
  test("creates an org (201) and lists it", async () => {
    const created = expectOk(await admin("POST", "/api/v1/orgs", { name: "Acme Inc" }), 201);
    expect(Object.keys(created).sort()).toEqual(["createdAt", "id", "name"]);
    expect(created.id).toMatch(/^org_[0-9A-Z]{26}$/);
    expect(created.name).toBe("Acme Inc");
    expect(created.createdAt).toMatch(ISO);

    const second = expectOk(await admin("POST", "/api/v1/orgs", { name: "Globex" }), 201);
    const list = expectPage(await admin("GET", "/api/v1/orgs")).data;
    expect(list).toContainEqual(created);
    expect(list).toContainEqual(second);
    // Creation order (ids sort by time).
    const ids = list.map((o: any) => o.id);
    expect(ids.indexOf(created.id)).toBeLessThan(ids.indexOf(second.id));
  });

  test("pages: ?limit= and ?after=<pagination.nextAfter> walk every org once, in order; at most 100 a page", async () => {
    for (let i = 0; i < 5; i++) expectOk(await admin("POST", "/api/v1/orgs", { name: `Paged ${i}` }), 201);
    const seen: string[] = [];
    for (let after = ""; ; ) {
      const { data, pagination } = expectPage(await admin("GET", `/api/v1/orgs?limit=2${after ? `&after=${after}` : ""}`));
      expect(data.length).toBeLessThanOrEqual(2);
      seen.push(...data.map((o: any) => o.id));
      expect(pagination).toEqual({ limit: 2, hasMore: pagination.nextAfter !== null, nextAfter: pagination.hasMore ? data.at(-1).id : null });
      if (!pagination.hasMore) break;
      after = pagination.nextAfter;
    }
    const all = expectPage(await admin("GET", "/api/v1/orgs")).data.map((o: any) => o.id);
    expect(seen).toEqual(all);
    expect([...all].sort()).toEqual(all);
    for (const q of ["limit=0", "limit=101", "limit=-1", "limit=Infinity", "limit=x", "page=2", "after=" + "x".repeat(65)]) {
      const res = await admin("GET", `/api/v1/orgs?${q}`);
      expect({ q, status: res.status, code: res.body.error?.code }).toEqual({ q, status: 400, code: "VALIDATION_ERROR" });
    }
  });

  test("the trailing-slash spelling is served too", async () => {
    expect(expectPage(await admin("GET", "/api/v1/orgs/")).data.length).toBeGreaterThan(0);
  });

  test.each([
    ["empty name", { name: "" }, "name"],
    ["missing name", {}, "name"],
    ["name not a string", { name: 42 }, "name"],
    ["name too long", { name: "x".repeat(201) }, "name"],
    ["extra field", { name: "Ok", plan: "pro" }, "plan"],
  ])("rejects %s with 400 VALIDATION_ERROR", async (_label, body, path) => {
    const res = await admin("POST", "/api/v1/orgs", body);
    expectError(res, 400, "VALIDATION_ERROR", path);
    expect(res.body.error.message).toStartWith(`${path}:`);
  });
});

describe("POST/GET /api/v1/orgs/{orgId}/keys", () => {
  let orgId: string;
  beforeAll(async () => {
    orgId = expectOk(await admin("POST", "/api/v1/orgs", { name: "Keys Inc" }), 201).id;
  });

  test("creates a key with the asked scopes, deduplicated; name defaults to null", async () => {
    const key = expectOk(await admin("POST", `/api/v1/orgs/${orgId}/keys`, { scopes: ["webhooks:read", "webhooks:read", "events:write"] }), 201);
    expect(key).toMatchObject({ orgId, name: null, scopes: ["webhooks:read", "events:write"], revokedAt: null });
    expect(key.id).toMatch(/^key_[0-9A-Z]{26}$/);
    expect(key.createdAt).toMatch(ISO);
    expect(key.key).toMatch(/^sk_live_[0-9A-Za-z]{32,}$/);
    expect(key.prefix).toBe(key.key.slice(0, "sk_live_".length + 4));
    expect(Object.keys(key).sort()).toEqual(["createdAt", "id", "key", "name", "orgId", "prefix", "revokedAt", "scopes"]);

    const list = expectPage(await admin("GET", `/api/v1/orgs/${orgId}/keys`)).data;
    const { key: _shownOnce, ...withoutKey } = key;
    expect(list).toContainEqual(withoutKey);
  });

  test("keys are listed per org", async () => {
    const other = expectOk(await admin("POST", "/api/v1/orgs", { name: "Other" }), 201);
    const mine = expectOk(await admin("POST", `/api/v1/orgs/${other.id}/keys`, { name: "mine", scopes: ["webhooks:read"] }), 201);
    const list = expectPage(await admin("GET", `/api/v1/orgs/${other.id}/keys`)).data;
    expect(list.map((k: any) => k.id)).toEqual([mine.id]);
    expect(expectPage(await admin("GET", `/api/v1/orgs/${orgId}/keys`)).data.map((k: any) => k.id)).not.toContain(mine.id);
  });

  test.each([
    ["unknown scope", { scopes: ["webhooks:admin"] }, "scopes[0]"],
    ["unknown scope after a good one", { scopes: ["webhooks:read", "admin"] }, "scopes[1]"],
    ["no scopes", { scopes: [] }, "scopes"],
    ["missing scopes", { name: "x" }, "scopes"],
    ["scopes not an array", { scopes: "webhooks:read" }, "scopes"],
    ["extra field", { scopes: ["webhooks:read"], orgId: "org_x" }, "orgId"],
    ["bad mode", { scopes: ["webhooks:read"], mode: "prod" }, "mode"],
    ["name too long", { scopes: ["webhooks:read"], name: "n".repeat(201) }, "name"],
  ])("rejects %s with 400 VALIDATION_ERROR", async (_label, body, path) => {
    const res = await admin("POST", `/api/v1/orgs/${orgId}/keys`, body);
    expectError(res, 400, "VALIDATION_ERROR", path);
  });

  test("an unknown scope's message lists the valid scopes", async () => {
    const res = await admin("POST", `/api/v1/orgs/${orgId}/keys`, { scopes: ["webhooks:admin"] });
    expect(res.body.error.message).toContain("webhooks:read");
    expect(res.body.error.message).toContain("events:write");
  });

  test("unknown org is 404 on create and list", async () => {
    for (const org of [UNKNOWN_ORG, "nope", "x".repeat(300), encodeURIComponent("ørg🙂")]) {
      expectError(await admin("POST", `/api/v1/orgs/${org}/keys`, { scopes: ["webhooks:read"] }), 404, "NOT_FOUND");
      expectError(await admin("GET", `/api/v1/orgs/${org}/keys`), 404, "NOT_FOUND");
    }
  });
});

describe("DELETE /api/v1/orgs/{orgId}/keys/{keyId}", () => {
  test("revokes (204, empty body)", async () => {
    const { orgId, keyId, key } = await s.newTenant();
    const res = await admin("DELETE", `/api/v1/orgs/${orgId}/keys/${keyId}`);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expectError(await s.api("GET", "/api/v1/webhooks", { key }), 401, "UNAUTHORIZED");
  });

  test("unknown key, unknown org, or another org's key is 404", async () => {
    const a = await s.newTenant();
    const b = await s.newTenant();
    expectError(await admin("DELETE", `/api/v1/orgs/${a.orgId}/keys/${UNKNOWN_KEY}`), 404, "NOT_FOUND");
    expectError(await admin("DELETE", `/api/v1/orgs/${UNKNOWN_ORG}/keys/${a.keyId}`), 404, "NOT_FOUND");
    expectError(await admin("DELETE", `/api/v1/orgs/${a.orgId}/keys/nope`), 404, "NOT_FOUND");
    // B's key through A's org: not found, and B's key still works.
    expectError(await admin("DELETE", `/api/v1/orgs/${a.orgId}/keys/${b.keyId}`), 404, "NOT_FOUND");
    expectOk(await s.api("GET", "/api/v1/webhooks", { key: b.key }));
  });
});

describe("the NUL character (U+0000)", () => {
  test("is refused in an org name, a key name and an endpoint description, naming the field, on every backend; nothing is created", async () => {
    const before = expectPage(await s.api("GET", "/api/v1/orgs?limit=100", { key: ADMIN_KEY })).data.length;
    expectError(await s.api("POST", "/api/v1/orgs", { key: ADMIN_KEY, body: { name: "Acme\u0000" } }), 400, "VALIDATION_ERROR", "name");
    expect(expectPage(await s.api("GET", "/api/v1/orgs?limit=100", { key: ADMIN_KEY })).data.length).toBe(before);
    const { orgId, key } = await s.newTenant();
    expectError(await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { name: "ci\u0000", scopes: ["webhooks:read"] } }), 400, "VALIDATION_ERROR", "name");
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "http://127.0.0.1:9/hook", description: "a\u0000b" } }), 400, "VALIDATION_ERROR", "description");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key }))).toEqual([]);
  });
});
