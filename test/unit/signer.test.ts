import { describe, expect, test } from "bun:test";
import crypto from "node:crypto";
import { Webhook } from "standardwebhooks";
import { signatureHeaders, verifySeedSignature } from "../../src/delivery/signer.ts";

// The spec's receiver snippet (seed 001), verbatim apart from the function wrapper.
function seedVerify(payload: string, signature: string, secret: string): boolean {
  const expected = crypto.createHmac("sha256", secret).update(payload).digest("hex");
  const expectedSig = `sha256=${expected}`;
  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSig));
}

const newSecret = () => `whsec_${crypto.randomBytes(32).toString("base64")}`;
const nowSec = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({ type: "order.created", data: { id: 42, note: "naïve ✓" } });

describe("signatureHeaders", () => {
  test("matches a known-answer vector (cross-checked with openssl and fast-sha256)", () => {
    const headers = signatureHeaders({
      id: "evt_01J0000000000000000000000",
      timestampSec: 1700000000,
      body: '{"type":"order.created","data":{"id":42}}',
      secrets: [
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "whsec_//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA=",
      ],
    });
    expect(headers).toEqual({
      "x-webhook-signature": "sha256=56e3ff2542ad8d2b496d7cad408b24f5b36269ce2b6552f25c72ca243c0c4493", // the previous secret signs it during grace
      "webhook-id": "evt_01J0000000000000000000000",
      "webhook-timestamp": "1700000000",
      "webhook-signature":
        "v1,GHoLC71lgoZOQk12mzyExKL78GtiyKkA2Xt2oxKKe+M= v1,LTZjtvPnJXpp66p9JeTIFq/APg3Mny/I07UuTWzXzPQ=",
    });
  });

  test("the spec's seed verification code accepts X-Webhook-Signature", () => {
    const secret = newSecret();
    const headers = signatureHeaders({ id: "evt_1", timestampSec: nowSec(), body, secrets: [secret] });
    expect(seedVerify(body, headers["x-webhook-signature"], secret)).toBe(true);
    expect(verifySeedSignature(body, headers["x-webhook-signature"], secret)).toBe(true);
  });

  test("during a rotation grace period X-Webhook-Signature stays signed with the previous secret (the one receivers have)", () => {
    const [current, previous] = [newSecret(), newSecret()];
    const headers = signatureHeaders({ id: "evt_1", timestampSec: nowSec(), body, secrets: [current, previous] });
    expect(seedVerify(body, headers["x-webhook-signature"], previous)).toBe(true);
    expect(verifySeedSignature(body, headers["x-webhook-signature"], current)).toBe(false);
  });

  test("standardwebhooks verifies with either secret during a rotation", () => {
    const [current, previous] = [newSecret(), newSecret()];
    const headers = signatureHeaders({ id: "evt_1", timestampSec: nowSec(), body, secrets: [current, previous] });
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    for (const secret of [current, previous]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow("No matching signature");
  });

  test("a tampered body fails both schemes", () => {
    const secret = newSecret();
    const headers = signatureHeaders({ id: "evt_1", timestampSec: nowSec(), body, secrets: [secret] });
    const tampered = body.replace("42", "43");
    expect(seedVerify(tampered, headers["x-webhook-signature"], secret)).toBe(false);
    expect(verifySeedSignature(tampered, headers["x-webhook-signature"], secret)).toBe(false);
    expect(() => new Webhook(secret).verify(tampered, headers)).toThrow("No matching signature");
  });

  test("refuses to sign without a secret", () => {
    expect(() => signatureHeaders({ id: "evt_1", timestampSec: nowSec(), body, secrets: [] })).toThrow();
  });
});

describe("verifySeedSignature", () => {
  const secret = newSecret();
  const valid = signatureHeaders({ id: "evt_1", timestampSec: 0, body, secrets: [secret] })["x-webhook-signature"];
  test.each([
    { name: "the valid header", header: valid, expected: true },
    { name: "a truncated header", header: valid.slice(0, -1), expected: false },
    { name: "an empty header", header: "", expected: false },
    { name: "the bare hex without sha256=", header: valid.slice("sha256=".length), expected: false },
    { name: "one flipped hex digit", header: valid.slice(0, -1) + (valid.endsWith("0") ? "1" : "0"), expected: false },
  ])("$name → $expected", ({ header, expected }) => {
    expect(verifySeedSignature(body, header, secret)).toBe(expected);
  });
});
