/**
 * The seed 003 (`/v1/webhook_endpoints`) and seed 004 (`/v1/backend/webhooks`) dialects, route by
 * route, as those products' clients send them: the documented requests, response shapes and error
 * shape, on the same endpoints as `/api/v1/webhooks`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { SIGNING_SECRET } from "../helpers/assert.ts";
import { startReceiver, type Receiver } from "../helpers/receiver.ts";

let s: TestServer;
let key: string;
let receiver: Receiver;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_MAX_ENDPOINTS_PER_ORG: "20" });
  ({ key } = await s.newTenant());
  receiver = startReceiver();
});
afterAll(async () => {
  receiver.stop();
  await s.stop();
});

async function call(method: string, path: string, opts: { data?: string; headers?: Record<string, string>; bearer?: string | null } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.bearer !== null) headers.authorization = `Bearer ${opts.bearer ?? key}`;
  if (opts.data !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(s.url + path, { method, headers, body: opts.data });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const DIALECT_ERROR = (code: string) => ({ error: { code, message: expect.any(String) } });

const SEED_003_FIELDS = [
  "consecutive_failures",
  "created_at",
  "description",
  "disabled_at",
  "disabled_reason",
  "enabled_events",
  "id",
  "org_id",
  "status",
  "updated_at",
  "url",
];

describe("seed 003: /v1/webhook_endpoints with Authorization: Bearer sk_...", () => {
  let id: string;
  let firstSecret: string;

  test("create: 201, the object itself with signing_secret, enabled_events defaulting to [\"*\"]", async () => {
    const res = await call("POST", "/v1/webhook_endpoints", { data: JSON.stringify({ url: `${receiver.url}/callingbox-webhook`, description: "Calls" }) });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["signing_secret", ...SEED_003_FIELDS].sort());
    expect(res.body).toEqual({
      signing_secret: expect.stringMatching(SIGNING_SECRET),
      id: expect.stringMatching(/^wh_/),
      org_id: expect.stringMatching(/^org_/),
      url: `${receiver.url}/callingbox-webhook`,
      description: "Calls",
      enabled_events: ["*"],
      status: "enabled",
      disabled_reason: null,
      disabled_at: null,
      consecutive_failures: 0,
      created_at: ISO,
      updated_at: ISO,
    });
    id = res.body.id;
    firstSecret = res.body.signing_secret;
  });

  test("the same endpoint is seen by the canonical API", async () => {
    const res = await s.api("GET", `/api/v1/webhooks/${id}`, { key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ url: `${receiver.url}/callingbox-webhook`, events: ["*"], isActive: true });
  });

  test("get and list: no signing_secret", async () => {
    const one = await call("GET", `/v1/webhook_endpoints/${id}`);
    expect(one.status).toBe(200);
    expect(Object.keys(one.body).sort()).toEqual(SEED_003_FIELDS);
    const list = await call("GET", "/v1/webhook_endpoints");
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [one.body] });
  });

  test("patch: enabled_events, description, status disabled (manual) and enabled again", async () => {
    const changed = await call("PATCH", `/v1/webhook_endpoints/${id}`, { data: JSON.stringify({ enabled_events: ["call.ended"], description: null }) });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ enabled_events: ["call.ended"], description: null, status: "enabled" });
    const off = await call("PATCH", `/v1/webhook_endpoints/${id}`, { data: JSON.stringify({ status: "disabled" }) });
    expect(off.body).toMatchObject({ status: "disabled", disabled_reason: "manual", disabled_at: ISO });
    const on = await call("PATCH", `/v1/webhook_endpoints/${id}`, { data: JSON.stringify({ status: "enabled" }) });
    expect(on.body).toMatchObject({ status: "enabled", disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
  });

  test("rotate_secret: a new signing_secret with the object; with no body or a grace period", async () => {
    const rotated = await call("POST", `/v1/webhook_endpoints/${id}/rotate_secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.signing_secret).toMatch(SIGNING_SECRET);
    expect(rotated.body.signing_secret).not.toBe(firstSecret);
    expect(rotated.body.id).toBe(id);
    const graced = await call("POST", `/v1/webhook_endpoints/${id}/rotate_secret`, { data: JSON.stringify({ grace_period_seconds: 3600 }) });
    expect(graced.status).toBe(200);
    expect(graced.body.signing_secret).toMatch(SIGNING_SECRET);
  });

  test("errors are {error: {code, message}}, and a validation error names the dialect's field", async () => {
    const bad = await call("POST", "/v1/webhook_endpoints", { data: JSON.stringify({ url: `${receiver.url}/x`, enabled_events: ["no.such.event"] }) });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: "VALIDATION_ERROR", message: expect.stringContaining("enabled_events[0]"), path: "enabled_events[0]" } });
    const canonicalName = await call("POST", "/v1/webhook_endpoints", { data: JSON.stringify({ url: `${receiver.url}/x`, events: ["*"] }) });
    expect(canonicalName.status).toBe(400);
    expect(canonicalName.body.error.code).toBe("VALIDATION_ERROR");
    expect(await call("GET", "/v1/webhook_endpoints/wh_nope")).toEqual({ status: 404, body: DIALECT_ERROR("NOT_FOUND") });
    expect(await call("GET", "/v1/webhook_endpoints", { bearer: null })).toEqual({ status: 401, body: DIALECT_ERROR("UNAUTHORIZED") });
    expect(await call("GET", "/v1/webhook_endpoints", { bearer: "sk_live_" + "A".repeat(40) })).toEqual({ status: 401, body: DIALECT_ERROR("UNAUTHORIZED") });
  });

  test("another org's endpoint is a 404 here too", async () => {
    const other = await s.newTenant();
    expect(await call("GET", `/v1/webhook_endpoints/${id}`, { bearer: other.key })).toEqual({ status: 404, body: DIALECT_ERROR("NOT_FOUND") });
    expect((await call("DELETE", `/v1/webhook_endpoints/${id}`, { bearer: other.key })).status).toBe(404);
  });

  test("delete: 204, then 404", async () => {
    expect((await call("DELETE", `/v1/webhook_endpoints/${id}`)).status).toBe(204);
    expect((await call("GET", `/v1/webhook_endpoints/${id}`)).status).toBe(404);
  });
});

describe("seed 004: /v1/backend/webhooks with sk_live_ / sk_test_ keys", () => {
  let id: string;
  let secret: string;

  test("create: 201 {data: {id, url, description, event_types, enabled, created_at, secret}}", async () => {
    const res = await call("POST", "/v1/backend/webhooks", { data: JSON.stringify({ url: `${receiver.url}/backend` }) });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        id: expect.stringMatching(/^wh_/),
        url: `${receiver.url}/backend`,
        description: null,
        event_types: ["*"],
        enabled: true,
        created_at: ISO,
        secret: expect.stringMatching(SIGNING_SECRET),
      },
    });
    ({ id, secret } = res.body.data);
  });

  test("list and get: {data} without the secret; the key may be in X-API-Key too", async () => {
    const list = await call("GET", "/v1/backend/webhooks");
    expect(list.status).toBe(200);
    const mine = list.body.data.find((w: { id: string }) => w.id === id);
    expect(Object.keys(mine).sort()).toEqual(["created_at", "description", "enabled", "event_types", "id", "url"]);
    const one = await call("GET", `/v1/backend/webhooks/${id}`, { bearer: null, headers: { "x-api-key": key } });
    expect(one).toEqual({ status: 200, body: { data: mine } });
  });

  test("secret: {data: {secret}}, the one create returned", async () => {
    expect(await call("GET", `/v1/backend/webhooks/${id}/secret`)).toEqual({ status: 200, body: { data: { secret } } });
  });

  test("test: a test event to every enabled endpoint, {data: {success, message_id}}", async () => {
    const before = receiver.received.length;
    const res = await call("POST", "/v1/backend/webhooks/test");
    expect(res).toEqual({ status: 200, body: { data: { success: true, message_id: expect.stringMatching(/^evt_/) } } });
    const [arrived] = (await receiver.waitFor(before + 1)).slice(before);
    expect(arrived!.path).toBe("/backend");
    expect(arrived!.headers["webhook-id"]).toBeDefined();
  });

  test("event_types are checked against the catalog, named as sent; errors are {error: {code, message}}", async () => {
    const documented = await call("POST", "/v1/backend/webhooks", { data: JSON.stringify({ url: `${receiver.url}/x`, event_types: ["conversation.completed"] }) });
    expect(documented.status).toBe(201);
    expect(documented.body.data.event_types).toEqual(["conversation.completed"]);
    const bad = await call("POST", "/v1/backend/webhooks", { data: JSON.stringify({ url: `${receiver.url}/x`, event_types: ["no.such.event"] }) });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: "VALIDATION_ERROR", message: expect.stringContaining("event_types[0]"), path: "event_types[0]" } });
    expect(await call("GET", "/v1/backend/webhooks/wh_nope/secret")).toEqual({ status: 404, body: DIALECT_ERROR("NOT_FOUND") });
  });

  test("a read-only key cannot read the secret or send tests (403)", async () => {
    const reader = await s.newTenant(["webhooks:read"]);
    expect((await call("GET", "/v1/backend/webhooks", { bearer: reader.key })).status).toBe(200);
    expect(await call("POST", "/v1/backend/webhooks/test", { bearer: reader.key })).toEqual({ status: 403, body: DIALECT_ERROR("FORBIDDEN") });
  });

  test("delete: 204, then 404", async () => {
    expect((await call("DELETE", `/v1/backend/webhooks/${id}`)).status).toBe(204);
    expect(await call("GET", `/v1/backend/webhooks/${id}`)).toEqual({ status: 404, body: DIALECT_ERROR("NOT_FOUND") });
  });
});
