/**
 * Issue 10's "done means" for receivers: three receivers that check every signature (seed 001's
 * snippet verbatim, the `svix` library, the `standardwebhooks` library) register with the probe on,
 * verify every delivery, and keep verifying through a grace-period rotation without touching
 * their configuration.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import crypto from "crypto";
import { Webhook as SvixWebhook } from "svix";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { startReceiver, type Receiver, type Received } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";

// Seed 001's snippet, as printed there.
function verifyWebhookSignature(payload: string, signature: string, secret: string) {
  const expected = crypto.createHmac("sha256", secret).update(payload).digest("hex");
  const expectedSig = `sha256=${expected}`;
  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSig));
}

const verifiers: Record<string, (got: Received, secret: string) => boolean> = {
  "seed 001 snippet": (got, secret) => {
    const signature = got.headers["x-webhook-signature"] ?? "";
    const payload = JSON.stringify(JSON.parse(got.body)); // the snippet signs JSON.stringify(req.body)
    try {
      return verifyWebhookSignature(payload, signature, secret);
    } catch {
      return false; // timingSafeEqual throws on a length mismatch: the snippet's handler would fail too
    }
  },
  svix: (got, secret) => {
    try {
      new SvixWebhook(secret).verify(got.body, { "svix-id": got.headers["webhook-id"]!, "svix-timestamp": got.headers["webhook-timestamp"]!, "svix-signature": got.headers["webhook-signature"]! });
      return true;
    } catch {
      return false;
    }
  },
  standardwebhooks: (got, secret) => {
    try {
      new StandardWebhook(secret).verify(got.body, got.headers);
      return true;
    } catch {
      return false;
    }
  },
};

let s: TestServer;
const receivers: Array<{ name: string; secret: string; receiver: Receiver; verdicts: boolean[] }> = [];
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_PROBE: "true" });
  for (const [name, verify] of Object.entries(verifiers)) {
    const secret = `whsec_${crypto.randomBytes(32).toString("base64")}`;
    const entry = { name, secret, verdicts: [] as boolean[], receiver: null as unknown as Receiver };
    entry.receiver = startReceiver((got) => {
      const ok = verify(got, secret);
      entry.verdicts.push(ok);
      return { status: ok ? 200 : 401 };
    });
    receivers.push(entry);
  }
});
afterAll(async () => {
  for (const r of receivers) r.receiver.stop();
  await s.stop();
});

test("each verifying receiver registers with the probe on, verifies every delivery, and keeps verifying through a grace-period rotation", async () => {
  const { key } = await s.newTenant();
  const endpoints: string[] = [];
  for (const r of receivers) {
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.receiver.url}/hook`, secret: r.secret } }), 201);
    endpoints.push(ep.id);
  }
  expect(receivers.map((r) => [r.name, r.verdicts])).toEqual(receivers.map((r) => [r.name, [true]])); // the probe

  const publish = async (n: number) => {
    for (let i = 0; i < n; i++) expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: i } } }), 202);
  };
  await publish(3);
  for (const r of receivers) await r.receiver.waitFor(4);

  // Rotate with a grace period; the receivers keep the secret they have.
  for (const id of endpoints) {
    expectOk(await s.api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { key, body: { gracePeriodSeconds: 3600 } }));
  }
  await publish(3);
  for (const r of receivers) await r.receiver.waitFor(7);
  for (const id of endpoints) expectOk(await s.api("POST", `/api/v1/webhooks/${id}/test`, { key, body: { event: "contact.created" } }));
  for (const r of receivers) await r.receiver.waitFor(8);

  expect(receivers.map((r) => [r.name, r.verdicts])).toEqual(receivers.map((r) => [r.name, Array(8).fill(true)]));
});
