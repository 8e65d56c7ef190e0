/**
 * The endpoint-API curl examples of seeds 000 and 002 (and the re-enable/rotate ones of 001),
 * sent as written but for host and key, and checked against the documented response shapes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { SIGNING_SECRET } from "../helpers/assert.ts";

let s: TestServer;
let key: string;
beforeAll(async () => {
  s = await startTestServer({}, { resolver: async () => ["93.184.216.34"] });
  ({ key } = await s.newTenant());
});
afterAll(() => s.stop());

/** `curl -X <method> "<url>" -H ... -d '<body>'`, host and key swapped. */
async function curl(method: string, path: string, headers: Record<string, string> = {}, data?: string) {
  const res = await fetch(s.url + path, { method, headers: { "X-API-Key": key, ...headers }, body: data });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

describe("seed 000 (erzycall): endpoint API", () => {
  let id: string;

  test("Create Webhook Endpoint: 201 with id, url, events, secret, isActive, description, createdAt", async () => {
    const res = await curl(
      "POST",
      "/api/v1/webhooks",
      { "Content-Type": "application/json", "Idempotency-Key": "create-webhook-prod" },
      `{
"url": "https://your-app.com/webhook",
"events": ["call.ended", "call.failed", "contact.created"],
"description": "Production webhook"
}`,
    );
    expect(res.status).toBe(201);
    id = res.body.data.id; // before toMatchObject: Bun's writes the matchers into what it checks
    expect(res.body.data).toMatchObject({
      id: expect.any(String),
      url: "https://your-app.com/webhook",
      events: ["call.ended", "call.failed", "contact.created"],
      secret: expect.stringMatching(SIGNING_SECRET),
      isActive: true,
      description: "Production webhook",
      createdAt: ISO,
    });
  });

  test("List Webhook Endpoints: data[] with id, url, events, isActive, description, createdAt", async () => {
    const res = await curl("GET", "/api/v1/webhooks");
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      expect.objectContaining({
        id,
        url: "https://your-app.com/webhook",
        events: ["call.ended", "call.failed", "contact.created"],
        isActive: true,
        description: "Production webhook",
        createdAt: ISO,
      }),
    ]);
  });

  test("Update Webhook Endpoint: events replaced, the rest kept", async () => {
    const res = await curl("PATCH", `/api/v1/webhooks/${id}`, { "Content-Type": "application/json" }, '{"events": ["call.ended", "call.failed"], "isActive": true}');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id,
      url: "https://your-app.com/webhook",
      events: ["call.ended", "call.failed"],
      isActive: true,
      description: "Production webhook",
      createdAt: ISO,
    });
  });

  test("Rotate Signing Secret: {data: {secret}} and the old one is gone", async () => {
    const before = (await curl("GET", `/api/v1/webhooks/${id}/secret`)).body.data.secret;
    const res = await curl("POST", `/api/v1/webhooks/${id}/rotate-secret`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: { secret: expect.stringMatching(SIGNING_SECRET) } });
    expect(res.body.data.secret).not.toBe(before);
  });

  test("Delete Webhook Endpoint: 204 No Content", async () => {
    const res = await curl("DELETE", `/api/v1/webhooks/${id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await curl("GET", "/api/v1/webhooks")).body.data).toEqual([]);
  });
});

describe("seed 001 (erzycall guide): create, re-enable, rotate", () => {
  test("the guide's calls work as written", async () => {
    const created = await curl(
      "POST",
      "/api/v1/webhooks",
      { "Content-Type": "application/json" },
      `{
"url": "https://your-app.com/webhook",
"events": ["call.ended", "contact.created"],
"description": "My production webhook"
}`,
    );
    expect(created.status).toBe(201);
    const { id, secret } = created.body.data;
    expect(created.body.data).toMatchObject({
      id: expect.any(String),
      url: "https://your-app.com/webhook",
      events: ["call.ended", "contact.created"],
      secret: expect.stringMatching(/^whsec_/),
      isActive: true,
      description: "My production webhook",
    });
    await curl("PATCH", `/api/v1/webhooks/${id}`, { "Content-Type": "application/json" }, '{"isActive": false}');
    const reenabled = await curl("PATCH", `/api/v1/webhooks/${id}`, { "Content-Type": "application/json" }, '{"isActive": true}');
    expect(reenabled.status).toBe(200);
    expect(reenabled.body.data).toMatchObject({ id, isActive: true, status: "enabled" });
    const rotated = await curl("POST", `/api/v1/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.secret).toMatch(SIGNING_SECRET);
    expect(rotated.body.data.secret).not.toBe(secret);
    expect((await curl("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(204);
  });
});

describe("seed 002 (akol): webhooks API", () => {
  let id: string;
  let secret: string;

  test("Create a webhook: success + data {id, url, events, secret}", async () => {
    const res = await curl(
      "POST",
      "/api/v1/webhooks",
      { "Content-Type": "application/json" },
      `{
  "url": "https://example.com/akol-webhook",
  "events": ["call.ended", "call.transferred"]
}`,
    );
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    ({ id, secret } = res.body.data);
    expect(res.body.data).toMatchObject({
      id: expect.any(String),
      url: "https://example.com/akol-webhook",
      events: ["call.ended", "call.transferred"],
      secret: expect.stringMatching(SIGNING_SECRET),
    });
  });

  test("List webhooks: success + data[] with a masked secret, lastTriggeredAt, failureCount", async () => {
    const res = await curl("GET", "/api/v1/webhooks");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: [
        expect.objectContaining({
          id,
          url: "https://example.com/akol-webhook",
          events: ["call.ended", "call.transferred"],
          isActive: true,
          lastTriggeredAt: null,
          failureCount: 0,
          secret: expect.stringMatching(/^whsec_••••••••/),
          createdAt: ISO,
        }),
      ],
    });
    expect(res.text).not.toContain(secret);
  });

  test("Update events / URL", async () => {
    const res = await curl("PATCH", `/api/v1/webhooks/${id}`, { "Content-Type": "application/json" }, `{
  "events": ["call.ended", "appointment.scheduled"],
  "isActive": true
}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { id, events: ["call.ended", "appointment.scheduled"], isActive: true } });
  });

  test("Rotate the signing secret: a new plaintext secret", async () => {
    const res = await curl("POST", `/api/v1/webhooks/${id}/rotate-secret`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: { secret: expect.stringMatching(SIGNING_SECRET) } });
    expect(res.body.data.secret).not.toBe(secret);
  });

  test("Delete a webhook: hard delete", async () => {
    expect((await curl("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(204);
    expect((await curl("GET", `/api/v1/webhooks/${id}`)).status).toBe(404);
  });
});
