/**
 * The endpoint API, route by route: create, list/get (masked), PATCH, DELETE, rotate-secret,
 * GET /secret, tenant isolation and hostile ids. URL and SSRF rules: webhooks-targets.test.ts;
 * the seeds' own examples: webhooks-seeds.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { createEndpoint, ENDPOINT_KEYS, expectError, expectOk, SIGNING_SECRET } from "../helpers/assert.ts";
import { manualClock } from "../../src/lib/clock.ts";

const T0 = Date.parse("2025-01-15T10:30:00.000Z");
const clock = manualClock(T0);
let s: TestServer;
let key: string;
beforeAll(async () => {
  s = await startTestServer({}, { clock, resolver: async () => ["93.184.216.34"] });
  ({ key } = await s.newTenant());
});

/** The 11 catalog events (seed names). */
const CATALOG = ["call.started", "call.ended", "call.failed", "call.scheduled", "call.cancelled", "call.transferred", "contact.created", "contact.updated", "contact.deleted", "appointment.scheduled", "conversation.completed"];
afterAll(() => s.stop());

/** Each test gets a fresh org so the 5-endpoint limit never interferes. */
async function freshKey(): Promise<string> {
  return (await s.newTenant()).key;
}

describe("POST /api/v1/webhooks", () => {
  test("201 with the whole endpoint object and the full secret", async () => {
    clock.set(T0);
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/hook", events: ["call.ended"], description: "Prod" } });
    const data = expectOk(res, 201);
    expect(Object.keys(data).sort()).toEqual(ENDPOINT_KEYS);
    expect(data).toEqual({
      id: expect.stringMatching(/^wh_[0-9A-Z]{26}$/),
      url: "https://example.com/hook",
      events: ["call.ended"],
      description: "Prod",
      isActive: true,
      status: "enabled",
      disabledReason: null,
      disabledAt: null,
      consecutiveFailures: 0,
      failureCount: 0,
      lastTriggeredAt: null,
      secret: expect.stringMatching(SIGNING_SECRET),
      createdAt: "2025-01-15T10:30:00.000Z",
      updatedAt: "2025-01-15T10:30:00.000Z",
    });
    expect(Buffer.from(data.secret.slice("whsec_".length), "base64")).toHaveLength(32);
  });

  test("events default to [\"*\"], description to null", async () => {
    const data = await createEndpoint(s.api, await freshKey());
    expect(data.events).toEqual(["*"]);
    expect(data.description).toBeNull();
  });

  test("wildcards and prefixes are accepted; duplicates collapse", async () => {
    const k = await freshKey();
    expect((await createEndpoint(s.api, k, { events: ["call.*"] })).events).toEqual(["call.*"]);
    expect((await createEndpoint(s.api, k, { events: ["*"] })).events).toEqual(["*"]);
    expect((await createEndpoint(s.api, k, { events: ["call.ended", "call.ended", "contact.*"] })).events).toEqual(["call.ended", "contact.*"]);
  });

  test("ten events is the most, every catalog name is valid", async () => {
    const ten = CATALOG.slice(0, 10);
    expect((await createEndpoint(s.api, await freshKey(), { events: ten })).events).toEqual(ten);
  });

  test("an unknown event is a 400 naming its index", async () => {
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x", events: ["call.ended", "call.exploded"] } });
    expectError(res, 400, "VALIDATION_ERROR", "events[1]");
    expect(res.body.error.message).toContain("events[1]");
    expect(res.body.error.message).toContain("call.exploded");
    const prefix = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x", events: ["nothing.*"] } });
    expectError(prefix, 400, "VALIDATION_ERROR", "events[0]");
  });

  test.each([
    ["no events", { events: [] }, "events"],
    ["11 events", { events: CATALOG }, "events"],
    ["events not an array", { events: "call.ended" }, "events"],
    ["an empty event name", { events: [""] }, "events[0]"],
    ["description of 501 chars", { description: "d".repeat(501) }, "description"],
    ["description not a string", { description: 5 }, "description"],
    ["an unknown field", { filterTypes: ["call.ended"] }, "filterTypes"],
    ["a secret of the wrong shape", { secret: "whsec_mine" }, "secret"],
    ["a secret of too few bytes", { secret: `whsec_${Buffer.alloc(16, 7).toString("base64")}` }, "secret"],
    ["isActive not a boolean", { isActive: "no" }, "isActive"],
    ["events and an alias that disagree", { events: ["call.ended"], enabled_events: ["*"] }, "events"],
  ])("%s is 400 VALIDATION_ERROR", async (_label, extra, path) => {
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/x", ...extra } });
    expectError(res, 400, "VALIDATION_ERROR", path);
  });

  test("missing or non-string url is 400 on url", async () => {
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { events: ["*"] } }), 400, "VALIDATION_ERROR", "url");
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url: 42 } }), 400, "VALIDATION_ERROR", "url");
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "not a url" } }), 400, "VALIDATION_ERROR", "url");
  });

  test("a description of exactly 500 characters is fine, counted as characters: 500 emoji too, 501 is 400", async () => {
    expect((await createEndpoint(s.api, await freshKey(), { description: "d".repeat(500) })).description).toHaveLength(500);
    expect([...(await createEndpoint(s.api, await freshKey(), { description: "🙂".repeat(500) })).description]).toHaveLength(500);
    const over = await s.api("POST", "/api/v1/webhooks", { key: await freshKey(), body: { url: "https://example.com/x", description: "🙂".repeat(501) } });
    expectError(over, 400, "VALIDATION_ERROR", "description");
  });

  test("your own secret (whsec_ + base64 of 24-64 bytes) is the one that signs, returned as sent", async () => {
    const mine = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
    const k = await freshKey();
    const created = await createEndpoint(s.api, k, { secret: mine });
    expect(created.secret).toBe(mine);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}/secret`, { key: k })).secret).toBe(mine);
  });

  test("the seeds' field names are accepted: enabled_events (003), event_types (004), enabled (004), and isActive: false creates it disabled", async () => {
    const k = await freshKey();
    expect((await createEndpoint(s.api, k, { enabled_events: ["call.ended"] })).events).toEqual(["call.ended"]);
    expect((await createEndpoint(s.api, k, { event_types: ["contact.*"], events: ["contact.*"] })).events).toEqual(["contact.*"]);
    expect(await createEndpoint(s.api, k, { enabled: false })).toMatchObject({ isActive: false, status: "disabled", disabledReason: "manual" });
    expect(await createEndpoint(s.api, k, { isActive: false })).toMatchObject({ isActive: false, disabledReason: "manual" });
  });
});

describe("GET list and one: the secret is masked", () => {
  test("never the plaintext, in the list or the single view", async () => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k, { events: ["call.ended"] });
    const plaintext: string = created.secret;
    const list = await s.api("GET", "/api/v1/webhooks", { key: k });
    const one = await s.api("GET", `/api/v1/webhooks/${created.id}`, { key: k });
    const { secret: _full, ...rest } = created;
    for (const res of [list, one]) {
      const raw = JSON.stringify(res.body);
      expect(raw).not.toContain(plaintext);
      expect(raw).not.toContain(plaintext.slice("whsec_".length, -4));
    }
    const listed = expectOk(list);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toEqual({ ...rest, secret: `whsec_••••••••${plaintext.slice(-4)}` });
    expect(expectOk(one)).toEqual(listed[0]);
  });

  test("the list holds exactly the org's endpoints, in creation order", async () => {
    const k = await freshKey();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createEndpoint(s.api, k, { description: `n${i}` })).id);
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: k })).map((e: any) => e.id)).toEqual(ids);
  });

  test("an unknown id is 404", async () => {
    expectError(await s.api("GET", "/api/v1/webhooks/wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E", { key }), 404, "NOT_FOUND");
  });
});

describe("PATCH /api/v1/webhooks/{id}", () => {
  test("changes only the fields sent; updatedAt moves, createdAt stays", async () => {
    const k = await freshKey();
    clock.set(T0);
    const created = await createEndpoint(s.api, k, { events: ["call.ended"], description: "before" });
    clock.advance(60_000);
    const patched = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { description: "after" } }));
    const { secret: _full, ...rest } = created;
    expect(patched).toEqual({ ...rest, description: "after", updatedAt: "2025-01-15T10:31:00.000Z", secret: expect.stringMatching(/^whsec_•+/) });

    clock.advance(1000);
    const events = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { events: ["contact.*", "call.failed"] } }));
    expect(events).toMatchObject({ events: ["contact.*", "call.failed"], description: "after", url: created.url, updatedAt: "2025-01-15T10:31:01.000Z" });

    const url = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { url: "https://example.org/new" } }));
    expect(url).toMatchObject({ url: "https://example.org/new", events: ["contact.*", "call.failed"] });

    const cleared = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { description: null } }));
    expect(cleared.description).toBeNull();

    // The GET agrees with what PATCH returned.
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key: k }))).toEqual(cleared);
  });

  test("an empty patch changes nothing but updatedAt", async () => {
    const k = await freshKey();
    clock.set(T0);
    const created = await createEndpoint(s.api, k);
    clock.advance(5000);
    const patched = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: {} }));
    expect(patched).toMatchObject({ url: created.url, events: created.events, isActive: true, updatedAt: "2025-01-15T10:30:05.000Z" });
  });

  test("the seeds' names on PATCH: enabled_events and event_types for events, enabled and status for isActive", async () => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    const patch = (body: object) => s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body }).then((r) => expectOk(r));
    expect((await patch({ enabled_events: ["call.ended"] })).events).toEqual(["call.ended"]);
    expect((await patch({ event_types: ["call.failed"] })).events).toEqual(["call.failed"]);
    expect(await patch({ status: "disabled" })).toMatchObject({ isActive: false, disabledReason: "manual" });
    expect(await patch({ enabled: true })).toMatchObject({ isActive: true, disabledReason: null });
    expect(await patch({ enabled: false, isActive: false })).toMatchObject({ isActive: false });
  });

  test("isActive:false disables (manual); isActive:true re-enables and resets the failure run", async () => {
    const k = await freshKey();
    clock.set(T0);
    const created = await createEndpoint(s.api, k);
    clock.advance(10_000);
    const off = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { isActive: false } }));
    expect(off).toMatchObject({ isActive: false, status: "disabled", disabledReason: "manual", disabledAt: "2025-01-15T10:30:10.000Z" });

    clock.advance(10_000);
    const on = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { isActive: true } }));
    expect(on).toMatchObject({ isActive: true, status: "enabled", disabledReason: null, disabledAt: null, consecutiveFailures: 0 });
  });

  test("isActive:true clears an automatic disable and its consecutive failures", async () => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    // What the delivery engine does after 10 exhausted deliveries.
    const row = (await s.app.services.store.endpoints.getById(created.id))!;
    await s.app.services.store.write((tx) => tx.endpoints.update(row.orgId, row.id, { enabled: false, disabledReason: "too_many_failures", disabledAt: T0, consecutiveFailures: 10, failureCount: 12 }));
    const disabled = expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key: k }));
    expect(disabled).toMatchObject({ isActive: false, status: "disabled", disabledReason: "too_many_failures", consecutiveFailures: 10 });

    const on = expectOk(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body: { isActive: true } }));
    expect(on).toMatchObject({ isActive: true, status: "enabled", disabledReason: null, disabledAt: null, consecutiveFailures: 0, failureCount: 12 });
  });

  test.each([
    ["an unknown field", { filterTypes: ["call.ended"] }, "filterTypes"],
    ["isActive and an alias that disagree", { isActive: false, status: "enabled" }, "isActive"],
    ["isActive not a boolean", { isActive: "yes" }, "isActive"],
    ["no events", { events: [] }, "events"],
    ["an unknown event", { events: ["call.ended", "nope"] }, "events[1]"],
    ["description of 501 chars", { description: "d".repeat(501) }, "description"],
    ["a bad url", { url: "ftp://example.com/x" }, "url"],
  ])("%s is 400 and changes nothing", async (_label, body, path) => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    expectError(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key: k, body }), 400, "VALIDATION_ERROR", path);
    const after = expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key: k }));
    expect(after).toMatchObject({ url: created.url, events: created.events, isActive: true, updatedAt: created.updatedAt });
  });

  test("an unknown id is 404", async () => {
    expectError(await s.api("PATCH", "/api/v1/webhooks/wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E", { key, body: { description: "x" } }), 404, "NOT_FOUND");
  });
});

describe("DELETE /api/v1/webhooks/{id}", () => {
  test("204, then it is gone from every route and the list", async () => {
    const k = await freshKey();
    const keep = await createEndpoint(s.api, k);
    const gone = await createEndpoint(s.api, k);
    const del = await s.api("DELETE", `/api/v1/webhooks/${gone.id}`, { key: k });
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();

    expectError(await s.api("GET", `/api/v1/webhooks/${gone.id}`, { key: k }), 404, "NOT_FOUND");
    expectError(await s.api("PATCH", `/api/v1/webhooks/${gone.id}`, { key: k, body: { isActive: true } }), 404, "NOT_FOUND");
    expectError(await s.api("POST", `/api/v1/webhooks/${gone.id}/rotate-secret`, { key: k }), 404, "NOT_FOUND");
    expectError(await s.api("GET", `/api/v1/webhooks/${gone.id}/secret`, { key: k }), 404, "NOT_FOUND");
    expectError(await s.api("DELETE", `/api/v1/webhooks/${gone.id}`, { key: k }), 404, "NOT_FOUND");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: k })).map((e: any) => e.id)).toEqual([keep.id]);
  });
});

describe("rotate-secret and GET /secret", () => {
  test("rotation returns a new secret that GET /secret then reveals", async () => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}/secret`, { key: k }))).toEqual({ secret: created.secret });

    const rotated = expectOk(await s.api("POST", `/api/v1/webhooks/${created.id}/rotate-secret`, { key: k }));
    expect(Object.keys(rotated)).toEqual(["secret"]);
    expect(rotated.secret).toMatch(SIGNING_SECRET);
    expect(rotated.secret).not.toBe(created.secret);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}/secret`, { key: k }))).toEqual({ secret: rotated.secret });
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key: k })).secret).toBe(`whsec_••••••••${rotated.secret.slice(-4)}`);
    // Without a grace period only the new secret signs.
    const row = (await s.app.services.store.endpoints.getById(created.id))!;
    expect(s.app.services.secrets.signing(row)).toEqual([rotated.secret]);
  });

  test.each([0, 1, 3600, 604800])("gracePeriodSeconds %d is accepted", async (grace) => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    const rotated = expectOk(await s.api("POST", `/api/v1/webhooks/${created.id}/rotate-secret`, { key: k, body: { gracePeriodSeconds: grace } }));
    const row = (await s.app.services.store.endpoints.getById(created.id))!;
    // With a grace period the old secret keeps signing beside the new one.
    expect(s.app.services.secrets.signing(row)).toEqual(grace > 0 ? [rotated.secret, created.secret] : [rotated.secret]);
  });

  test.each([604801, -1, 1.5, "soon", null])("gracePeriodSeconds %p is 400 and nothing rotates", async (grace) => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    const res = await s.api("POST", `/api/v1/webhooks/${created.id}/rotate-secret`, { key: k, body: { gracePeriodSeconds: grace } });
    expectError(res, 400, "VALIDATION_ERROR", "gracePeriodSeconds");
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}/secret`, { key: k })).secret).toBe(created.secret);
  });

  test("grace_period_seconds (seed 003's name) is gracePeriodSeconds", async () => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    const rotated = expectOk(await s.api("POST", `/api/v1/webhooks/${created.id}/rotate-secret`, { key: k, body: { grace_period_seconds: 60 } }));
    const row = (await s.app.services.store.endpoints.getById(created.id))!;
    expect(s.app.services.secrets.signing(row)).toEqual([rotated.secret, created.secret]);
  });

  test("an unknown field in the rotate body is 400", async () => {
    const k = await freshKey();
    const created = await createEndpoint(s.api, k);
    expectError(await s.api("POST", `/api/v1/webhooks/${created.id}/rotate-secret`, { key: k, body: { grace: 5 } }), 400, "VALIDATION_ERROR", "grace");
  });
});

describe("tenant isolation", () => {
  test("org B's key on org A's endpoint is 404 on every route, and A's endpoint is untouched", async () => {
    const a = await s.newTenant();
    const b = await s.newTenant();
    const mine = await createEndpoint(s.api, a.key, { description: "A's" });
    const path = `/api/v1/webhooks/${mine.id}`;
    const calls = [
      ["GET", path, undefined],
      ["PATCH", path, { description: "pwned", isActive: false }],
      ["POST", `${path}/rotate-secret`, undefined],
      ["GET", `${path}/secret`, undefined],
      ["DELETE", path, undefined],
    ] as const;
    for (const [method, p, body] of calls) {
      const res = await s.api(method, p, { key: b.key, body });
      expectError(res, 404, "NOT_FOUND");
      expect(JSON.stringify(res.body)).not.toContain(mine.id);
    }
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: b.key }))).toEqual([]);
    const { secret: _s, ...rest } = mine;
    expect(expectOk(await s.api("GET", path, { key: a.key }))).toEqual({ ...rest, secret: expect.any(String) });
    expect(expectOk(await s.api("GET", `${path}/secret`, { key: a.key })).secret).toBe(mine.secret);
  });
});

describe("hostile path ids are 404, never 400 or 5xx", () => {
  const ids = [
    "..%2F..%2Fetc%2Fpasswd",
    "..",
    "x".repeat(4000),
    "wh_" + "Z".repeat(500),
    encodeURIComponent("ünïcødé-🙂-端点"),
    "%00",
    "%E0%A4%A",
    "wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E' OR '1'='1",
  ];
  test.each(ids.map((id) => [id.length > 40 ? `${id.slice(0, 20)}… (${id.length})` : id, id]))("%s", async (_label, id) => {
    for (const [method, suffix] of [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["POST", "/rotate-secret"], ["GET", "/secret"]] as const) {
      const res = await s.api(method, `/api/v1/webhooks/${id}${suffix}`, { key, body: method === "PATCH" ? { description: "x" } : undefined });
      expectError(res, 404, "NOT_FOUND");
    }
  });
});
