/**
 * Generation, hashing and masking of the credentials webhookd hands out: API keys (stored only
 * as SHA-256) and endpoint signing secrets (`whsec_` + base64 of 32 bytes, which serves both the
 * seeds' hex HMAC and Standard Webhooks).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function randomBase62(length: number): string {
  // Rejection sampling keeps every character uniform (256 is not a multiple of 62).
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export type KeyKind = "live" | "test" | "admin";

export function generateApiKey(kind: KeyKind): string {
  return `sk_${kind}_${randomBase62(40)}`;
}

export const API_KEY_SHAPE = /^sk_(live|test|admin)_[0-9A-Za-z]{32,128}$/;

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Shown in listings so people can tell keys apart without the key itself. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, key.indexOf("_", 3) + 5);
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * A signing secret a caller brings (Svix's rule: `whsec_` + base64 of 24 to 64 random bytes), so
 * a receiver that verifies signatures can be configured before the endpoint, and its probe passes.
 */
export const SIGNING_SECRET_SHAPE = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;
export const SIGNING_SECRET_BYTES = { min: 24, max: 64 } as const;

export function isSigningSecret(secret: string): boolean {
  if (!SIGNING_SECRET_SHAPE.test(secret)) return false;
  const encoded = secret.slice("whsec_".length);
  if (encoded.length % 4 !== 0) return false;
  const bytes = Buffer.from(encoded, "base64").length;
  return bytes >= SIGNING_SECRET_BYTES.min && bytes <= SIGNING_SECRET_BYTES.max;
}

/** Seed 002's masked form: enough to recognise, nothing to sign with. */
export function maskSecret(secret: string): string {
  return `whsec_••••••••${secret.slice(-4)}`;
}
