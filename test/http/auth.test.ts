/** Authentication, scopes, the admin key and X-Org-Id, revocation, and the keys' shape. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { createEndpoint, expectError, expectOk, expectPage } from "../helpers/assert.ts";
import { rawRequest } from "../helpers/hostile.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

describe("presenting a key", () => {
  test("X-API-Key and Authorization: Bearer both authenticate", async () => {
    const { key } = await s.newTenant();
    await createEndpoint(s.api, key);
    const viaHeader = expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    const viaBearer = expectOk(await s.api("GET", "/api/v1/webhooks", { headers: { authorization: `Bearer ${key}` } }));
    const viaLowerBearer = expectOk(await s.api("GET", "/api/v1/webhooks", { headers: { authorization: `bearer ${key}` } }));
    expect(viaHeader).toHaveLength(1);
    expect(viaBearer).toEqual(viaHeader);
    expect(viaLowerBearer).toEqual(viaHeader);
  });

  test("no key at all is 401", async () => {
    expectError(await s.api("GET", "/api/v1/webhooks"), 401, "UNAUTHORIZED");
    expectError(await s.api("POST", "/api/v1/webhooks", { body: { url: "https://example.com/x" } }), 401, "UNAUTHORIZED");
    expectError(await s.api("GET", "/api/v1/orgs"), 401, "UNAUTHORIZED");
  });

  test("a body is not read before its request is authenticated: no key or a wrong one is 401 with the body still unsent", async () => {
    const port = Number(new URL(s.url).port);
    const declared = 16 * 1024 * 1024;
    for (const [path, keyHeader] of [
      ["/api/v1/events/batch", ""],
      ["/api/v1/events", "X-API-Key: sk_live_" + "A".repeat(40) + "\r\n"],
      ["/api/v1/webhooks", "Authorization: Bearer hello\r\n"],
      ["/api/v1/orgs", ""],
    ] as const) {
      // 16 MiB declared, 9 bytes sent, and the rest never comes: only an answer that does not wait for the body arrives.
      const head = `POST ${path} HTTP/1.1\r\nHost: localhost\r\n${keyHeader}Content-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`;
      const started = performance.now();
      const res = await rawRequest(port, head + '{"events"', 10_000);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      // The server closed the connection (it will not read the rest), well before the client gave up.
      expect(res.head.toLowerCase()).toContain("connection: close");
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(JSON.parse(res.body.slice(res.body.indexOf("{"))).error.code).toBe("UNAUTHORIZED");
    }
  });

  test.each([
    ["garbage", { "x-api-key": "not-a-key" }],
    ["too short", { "x-api-key": "sk_live_abc123" }],
    ["wrong prefix", { "x-api-key": "ek_live_" + "a".repeat(40) }],
    ["unknown but well-formed", { "x-api-key": "sk_live_" + "A".repeat(40) }],
    ["unknown test key", { "x-api-key": "sk_test_" + "b".repeat(40) }],
    ["Basic auth", { authorization: "Basic dXNlcjpwYXNz" }],
    ["empty Bearer", { authorization: "Bearer " }],
    ["Bearer garbage", { authorization: "Bearer hello" }],
  ])("%s is 401", async (_label, headers) => {
    const res = await s.api("GET", "/api/v1/webhooks", { headers });
    expectError(res, 401, "UNAUTHORIZED");
    expect(JSON.stringify(res.body)).not.toContain("data");
  });

  test("a wrong key is 401 on admin routes too", async () => {
    expectError(await s.api("GET", "/api/v1/orgs", { key: "sk_admin_" + "Z".repeat(40) }), 401, "UNAUTHORIZED");
  });
});

describe("scopes", () => {
  let endpointId: string;
  let orgId: string;
  beforeAll(async () => {
    const full = await s.newTenant();
    orgId = full.orgId;
    endpointId = (await createEndpoint(s.api, full.key)).id;
  });

  async function keyWith(scopes: string[]): Promise<string> {
    const res = await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes } });
    return expectOk(res, 201).key;
  }

  const writeRoutes = () =>
    [
      ["POST", "/api/v1/webhooks", { url: "https://example.com/new" }],
      ["PATCH", `/api/v1/webhooks/${endpointId}`, { description: "x" }],
      ["DELETE", `/api/v1/webhooks/${endpointId}`, undefined],
      ["POST", `/api/v1/webhooks/${endpointId}/rotate-secret`, undefined],
      ["GET", `/api/v1/webhooks/${endpointId}/secret`, undefined],
    ] as const;

  test("a read-only key gets 403 naming webhooks:write on every write route", async () => {
    const key = await keyWith(["webhooks:read"]);
    for (const [method, path, body] of writeRoutes()) {
      const res = await s.api(method, path, { key, body });
      expectError(res, 403, "FORBIDDEN");
      expect(`${method} ${path}: ${res.body.error.message}`).toContain('"webhooks:write"');
    }
    // ...and nothing changed: the endpoint is still there, unmodified.
    const still = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}`, { key }));
    expect(still.description).toBeNull();
  });

  test("a write-only key gets 403 naming webhooks:read on the read routes", async () => {
    const key = await keyWith(["webhooks:write"]);
    for (const path of ["/api/v1/webhooks", `/api/v1/webhooks/${endpointId}`]) {
      const res = await s.api("GET", path, { key });
      expectError(res, 403, "FORBIDDEN");
      expect(res.body.error.message).toContain('"webhooks:read"');
    }
    // GET /secret is a write-scope route, so the write key may read the secret.
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/secret`, { key })).secret).toStartWith("whsec_");
  });

  test("an events:write-only key can neither read nor write endpoints", async () => {
    const key = await keyWith(["events:write"]);
    const read = await s.api("GET", "/api/v1/webhooks", { key });
    expectError(read, 403, "FORBIDDEN");
    expect(read.body.error.message).toContain('"webhooks:read"');
    const write = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x" } });
    expectError(write, 403, "FORBIDDEN");
    expect(write.body.error.message).toContain('"webhooks:write"');
  });
});

describe("the admin key", () => {
  test("its routes are the admin's: an org key is 403 there", async () => {
    const { key } = await s.newTenant();
    expectError(await s.api("GET", "/api/v1/admin/keys", { key }), 403, "FORBIDDEN");
    expectError(await s.api("POST", "/api/v1/admin/keys/rotate", { key }), 403, "FORBIDDEN");
    expectError(await s.api("DELETE", "/api/v1/admin/keys/key_01JH2W8Q4V3N6X0Z9K7B5C1D2E", { key }), 403, "FORBIDDEN");
  });

  test("set by WEBHOOKD_ADMIN_KEY: nothing stored, rotation is 409 ADMIN_KEY_CONFIGURED, an unknown id is 404", async () => {
    expect(expectOk(await s.api("GET", "/api/v1/admin/keys", { key: ADMIN_KEY }))).toEqual([]);
    expectError(await s.api("POST", "/api/v1/admin/keys/rotate", { key: ADMIN_KEY }), 409, "ADMIN_KEY_CONFIGURED");
    expectError(await s.api("DELETE", "/api/v1/admin/keys/key_01JH2W8Q4V3N6X0Z9K7B5C1D2E", { key: ADMIN_KEY }), 404, "NOT_FOUND");
    expectPage(await s.api("GET", "/api/v1/orgs", { key: ADMIN_KEY }));
  });

  test("on an org route needs X-Org-Id: 403 without it", async () => {
    const res = await s.api("GET", "/api/v1/webhooks", { key: ADMIN_KEY });
    expectError(res, 403, "FORBIDDEN");
    expect(res.body.error.message).toContain("X-Org-Id");
    expectError(await s.api("POST", "/api/v1/webhooks", { key: ADMIN_KEY, body: { url: "https://example.com/x" } }), 403, "FORBIDDEN");
  });

  test("with X-Org-Id acts inside that org", async () => {
    const { orgId, key } = await s.newTenant();
    const headers = { "x-org-id": orgId };
    const created = expectOk(await s.api("POST", "/api/v1/webhooks", { key: ADMIN_KEY, headers, body: { url: "https://example.com/admin" } }), 201);
    const seenByOrg = expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    expect(seenByOrg.map((e: any) => e.id)).toEqual([created.id]);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key: ADMIN_KEY, headers })).url).toBe("https://example.com/admin");
  });

  test("with an unknown X-Org-Id is 404", async () => {
    for (const org of ["org_01JH2W8Q4V3N6X0Z9K7B5C1D2E", "nope", "../../etc"]) {
      expectError(await s.api("GET", "/api/v1/webhooks", { key: ADMIN_KEY, headers: { "x-org-id": org } }), 404, "NOT_FOUND");
    }
  });

  test("an org key's X-Org-Id is ignored: it always acts in its own org", async () => {
    const a = await s.newTenant();
    const b = await s.newTenant();
    await createEndpoint(s.api, a.key);
    const list = expectOk(await s.api("GET", "/api/v1/webhooks", { key: b.key, headers: { "x-org-id": a.orgId } }));
    expect(list).toEqual([]);
  });

  test("org keys cannot use /api/v1/orgs (403)", async () => {
    const { orgId, key, keyId } = await s.newTenant();
    const calls = [
      ["GET", "/api/v1/orgs", undefined],
      ["POST", "/api/v1/orgs", { name: "Mine" }],
      ["GET", `/api/v1/orgs/${orgId}/keys`, undefined],
      ["POST", `/api/v1/orgs/${orgId}/keys`, { scopes: ["webhooks:read"] }],
      ["DELETE", `/api/v1/orgs/${orgId}/keys/${keyId}`, undefined],
    ] as const;
    for (const [method, path, body] of calls) expectError(await s.api(method, path, { key, body }), 403, "FORBIDDEN");
    // The DELETE above did not revoke the key.
    expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
  });
});

describe("revocation", () => {
  test("a revoked key fails on the very next request, even after it was cached", async () => {
    const { orgId, key, keyId } = await s.newTenant();
    const other = expectOk(await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read"] } }), 201);
    // Used twice: the second is served from the auth cache.
    expectOk(await s.api("GET", "/api/v1/webhooks", { key }));
    expectOk(await s.api("GET", "/api/v1/webhooks", { headers: { authorization: `Bearer ${key}` } }));

    const del = await s.api("DELETE", `/api/v1/orgs/${orgId}/keys/${keyId}`, { key: ADMIN_KEY });
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();

    expectError(await s.api("GET", "/api/v1/webhooks", { key }), 401, "UNAUTHORIZED");
    expectError(await s.api("GET", "/api/v1/webhooks", { headers: { authorization: `Bearer ${key}` } }), 401, "UNAUTHORIZED");
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x" } }), 401, "UNAUTHORIZED");
    // The org's other key is untouched.
    expectOk(await s.api("GET", "/api/v1/webhooks", { key: other.key }));

    const listed = expectPage(await s.api("GET", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY })).data;
    const revoked = listed.find((k: any) => k.id === keyId);
    expect(revoked.revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(listed.find((k: any) => k.id === other.id).revokedAt).toBeNull();

    // Revoking again is harmless and the key stays dead.
    expect((await s.api("DELETE", `/api/v1/orgs/${orgId}/keys/${keyId}`, { key: ADMIN_KEY })).status).toBe(204);
    expectError(await s.api("GET", "/api/v1/webhooks", { key }), 401, "UNAUTHORIZED");
  });
});

describe("key shape and display", () => {
  test("live keys are sk_live_ + 32 or more characters, test keys sk_test_", async () => {
    const { orgId, key } = await s.newTenant();
    expect(key).toMatch(/^sk_live_[0-9A-Za-z]{32,}$/);
    const test_ = expectOk(await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read"], mode: "test" } }), 201);
    expect(test_.key).toMatch(/^sk_test_[0-9A-Za-z]{32,}$/);
    expectOk(await s.api("GET", "/api/v1/webhooks", { key: test_.key }));
    // Two keys are never the same.
    const again = expectOk(await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read"] } }), 201);
    expect(again.key).not.toBe(key);
  });

  test("the key is in the create response only", async () => {
    const { orgId } = await s.newTenant();
    const created = expectOk(
      await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { name: "ci", scopes: ["webhooks:read", "webhooks:write"] } }),
      201,
    );
    expect(created).toMatchObject({ orgId, name: "ci", scopes: ["webhooks:read", "webhooks:write"], revokedAt: null });
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix.length).toBeLessThan(created.key.length - 30);

    const list = await s.api("GET", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY });
    const listed = expectPage(list).data.find((k: any) => k.id === created.id);
    expect(listed).not.toHaveProperty("key");
    expect(Object.keys(listed).sort()).toEqual(["createdAt", "id", "name", "orgId", "prefix", "revokedAt", "scopes"]);
    expect(JSON.stringify(list.body)).not.toContain(created.key.slice(created.prefix.length));
  });
});
