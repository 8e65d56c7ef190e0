/**
 * Seed 002's probe: with WEBHOOKD_PROBE=true, creating an endpoint or changing its URL sends a
 * signed POST first; no 2xx (or no address) refuses the change and stores nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import crypto from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { Resolver } from "../../src/security/resolver.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  const expected = crypto.createHmac("sha256", secret).update(payload).digest("hex");
  const expectedSig = `sha256=${expected}`;
  return signature.length === expectedSig.length && crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSig));
}

/** Plays DNS: `nowhere.test` does not resolve; every other name is this machine. */
const resolver: Resolver = async (host) => {
  if (host === "nowhere.test") throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return ["127.0.0.1"];
};

let s: TestServer;
let healthy: Receiver;
let broken: Receiver;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_PROBE: "true" }, { resolver });
  healthy = startReceiver();
  broken = startReceiver(() => ({ status: 500, body: "down for maintenance" }));
});
afterAll(async () => {
  healthy.stop();
  broken.stop();
  await s.stop();
});

const count = async (key: string) => expectOk(await s.api("GET", "/api/v1/webhooks", { key })).length as number;

describe("probe", () => {
  test("create sends a probe signed with the new endpoint's secret before answering", async () => {
    const { key } = await s.newTenant();
    const before = healthy.received.length;
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${healthy.url}/probe-me` } }), 201);
    // The probe came before the 201.
    expect(healthy.received.length).toBe(before + 1);
    const probe = healthy.received[before]!;
    expect(probe.path).toBe("/probe-me");
    expect(probe.headers["x-webhook-event"]).toBe("webhook.probe");
    expect(JSON.parse(probe.body)).toMatchObject({ event: "webhook.probe" });
    expect(verifyWebhookSignature(probe.body, probe.headers["x-webhook-signature"]!, ep.secret)).toBe(true);
    expect(() => new Webhook(ep.secret).verify(probe.body, probe.headers)).not.toThrow();
  });

  test("a receiver that verifies signatures (seed 001's snippet, standardwebhooks) registers when the caller brings the secret it was configured with", async () => {
    const mine = `whsec_${crypto.randomBytes(32).toString("base64")}`;
    // Refuses anything it cannot verify, as a careful receiver does.
    const verifying = startReceiver((req) => {
      const seedOk = verifyWebhookSignature(JSON.stringify(JSON.parse(req.body)), req.headers["x-webhook-signature"] ?? "", mine);
      let standardOk = true;
      try {
        new Webhook(mine).verify(req.body, req.headers);
      } catch {
        standardOk = false;
      }
      return { status: seedOk && standardOk ? 200 : 401 };
    });
    try {
      const { key } = await s.newTenant();
      const unknown = await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${verifying.url}/hook` } });
      expectError(unknown, 400, "URL_PROBE_FAILED");
      expect(unknown.body.error.message).toContain("HTTP 401");
      const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${verifying.url}/hook`, secret: mine } }), 201);
      expect(ep.secret).toBe(mine);
      const dialect = await fetch(`${s.url}/v1/webhook_endpoints`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ url: `${verifying.url}/other`, signing_secret: mine }),
      });
      expect(dialect.status).toBe(201);
    } finally {
      verifying.stop();
    }
  });

  test("a receiver answering 500 refuses the create with 400 URL_PROBE_FAILED saying what happened; nothing is created", async () => {
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${broken.url}/hook` } });
    expectError(res, 400, "URL_PROBE_FAILED");
    expect(res.body.error.message).toContain("HTTP 500");
    expect(broken.received.at(-1)!.path).toBe("/hook");
    expect(await count(key)).toBe(0);
  });

  test("an unresolvable host is refused with URL_PROBE_FAILED", async () => {
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "http://nowhere.test/hook" } });
    expectError(res, 400, "URL_PROBE_FAILED");
    expect(res.body.error.message).toContain("nowhere.test");
    expect(await count(key)).toBe(0);
  });

  test("a URL change is probed too: refused (URL unchanged) or accepted after a signed probe", async () => {
    const { key } = await s.newTenant();
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${healthy.url}/a` } }), 201);
    expectError(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, body: { url: `${broken.url}/b` } }), 400, "URL_PROBE_FAILED");
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${ep.id}`, { key })).url).toBe(`${healthy.url}/a`);
    const before = healthy.received.length;
    expect(expectOk(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, body: { url: `${healthy.url}/c` } })).url).toBe(`${healthy.url}/c`);
    const probe = healthy.received[before]!;
    expect(probe.path).toBe("/c");
    expect(verifyWebhookSignature(probe.body, probe.headers["x-webhook-signature"]!, ep.secret)).toBe(true);
    // Other changes send no probe.
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, body: { description: "renamed" } }));
    expect(healthy.received.length).toBe(before + 1);
  });
});

describe("probe off", () => {
  test("an unresolvable host or a broken receiver is accepted, and nothing is sent", async () => {
    const off = await startTestServer({ WEBHOOKD_PROBE: "false" }, { resolver });
    try {
      const { key } = await off.newTenant();
      const before = broken.received.length;
      expectOk(await off.api("POST", "/api/v1/webhooks", { key, body: { url: "http://nowhere.test/hook" } }), 201);
      expectOk(await off.api("POST", "/api/v1/webhooks", { key, body: { url: `${broken.url}/hook` } }), 201);
      expect(broken.received.length).toBe(before);
    } finally {
      await off.stop();
    }
  });
});
