import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

describe("foundation smoke", () => {
  test("an org key creates, lists and deletes an endpoint", async () => {
    const { key } = await s.newTenant();
    const created = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/hook", events: ["call.ended"] } });
    expect(created.status).toBe(201);
    expect(created.body.data.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const list = await s.api("GET", "/api/v1/webhooks", { key });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].secret).not.toBe(created.body.data.secret);
    const del = await s.api("DELETE", `/api/v1/webhooks/${created.body.data.id}`, { key });
    expect(del.status).toBe(204);
    expect((await s.api("GET", "/api/v1/webhooks", { key })).body.data).toHaveLength(0);
  });

  test("wrong content type is a 415 in the envelope", async () => {
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, raw: "url=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ success: false, error: { code: "UNSUPPORTED_MEDIA_TYPE", message: expect.any(String) } });
  });

  test("malformed JSON is a 400 VALIDATION_ERROR", async () => {
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, raw: "{bad", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_ERROR");
    expect(res.body.error.message).toContain("not valid JSON");
  });
});
