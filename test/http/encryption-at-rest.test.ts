/**
 * What reaches the disk: signing secrets only sealed under the master key, API keys only as
 * SHA-256, idempotent replays (which hold both) sealed too; the master key file is 0600; and a
 * restarted server still opens what the first one sealed. On PostgreSQL
 * (`WEBHOOKD_TEST_DATABASE=postgres`) "the disk" is the database's files and the server's WAL,
 * and the master key comes from the environment (no file).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_KEY, databaseBytes, ON_SQLITE, queryDatabase, startTestServer, type TestServer } from "../helpers/server.ts";
import { expectOk } from "../helpers/assert.ts";
import { startApp } from "../../src/app.ts";
import { silentLogger } from "../../src/lib/logger.ts";

const dataDir = mkdtempSync(join(tmpdir(), "webhookd-at-rest-"));
const env = { WEBHOOKD_DATA_DIR: dataDir };
let s: TestServer;

const secrets: string[] = []; // every signing secret ever handed out
const apiKeys: string[] = [ADMIN_KEY];
const current = new Map<string, string>(); // endpoint id -> its secret now
let orgKey = "";
let replayedCreate: { id: string; secret: string };
let masterKeyHex = "";

beforeAll(async () => {
  s = await startTestServer(env, { resolver: async () => ["93.184.216.34"] });
  const tenant = await s.newTenant();
  orgKey = tenant.key;
  apiKeys.push(orgKey);
  for (let i = 0; i < 3; i++) {
    const headers: Record<string, string> = i === 0 ? { "idempotency-key": "at-rest-create" } : {};
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key: orgKey, headers, body: { url: `https://example.com/${i}` } }), 201);
    secrets.push(ep.secret);
    current.set(ep.id, ep.secret);
    if (i === 0) replayedCreate = { id: ep.id, secret: ep.secret };
  }
  const [a, b] = [...current.keys()];
  // A rotation with a grace period keeps the old secret (sealed) beside the new one.
  const graced = expectOk(await s.api("POST", `/api/v1/webhooks/${a}/rotate-secret`, { key: orgKey, body: { gracePeriodSeconds: 3600 } }));
  // An idempotent rotation stores its response, new secret included.
  const replayed = expectOk(await s.api("POST", `/api/v1/webhooks/${b}/rotate-secret`, { key: orgKey, headers: { "idempotency-key": "at-rest-rotate" } }));
  secrets.push(graced.secret, replayed.secret);
  current.set(a!, graced.secret).set(b!, replayed.secret);
  // An idempotent key creation stores its response, the key included.
  const made = expectOk(
    await s.api("POST", `/api/v1/orgs/${tenant.orgId}/keys`, { key: ADMIN_KEY, headers: { "idempotency-key": "at-rest-key" }, body: { scopes: ["webhooks:read"] } }),
    201,
  );
  apiKeys.push(made.key);
});

afterAll(async () => {
  await s.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the database rests in, as raw bytes. */
const diskBytes = () => databaseBytes(s.config);

/** Every form a secret could leak in: as text, its base64 body, its raw 32 bytes, their hex. */
function forms(secret: string): (string | Buffer)[] {
  const body = secret.slice("whsec_".length);
  const raw = Buffer.from(body, "base64");
  return [secret, body, body.slice(0, 24), raw, raw.toString("hex"), raw.toString("base64url")];
}

function expectAbsent(bytes: Buffer, needle: string | Buffer): void {
  const found = bytes.includes(typeof needle === "string" ? Buffer.from(needle) : needle);
  expect({ needle: needle.toString().slice(0, 16), found }).toEqual({ needle: needle.toString().slice(0, 16), found: false });
}

describe("on disk while running", () => {
  test("no signing secret, in any encoding, in the database or its WAL", async () => {
    const bytes = await diskBytes();
    expect(secrets).toHaveLength(5);
    for (const secret of secrets) for (const form of forms(secret)) expectAbsent(bytes, form);
  });

  test("no API key plaintext, not even its random part", async () => {
    const bytes = await diskBytes();
    // The scan sees what was written: each key's hash is there (in the WAL at least).
    for (const key of apiKeys.slice(1)) expect(bytes.includes(Buffer.from(createHash("sha256").update(key).digest("hex")))).toBe(true);
    for (const key of apiKeys) {
      expectAbsent(bytes, key);
      expectAbsent(bytes, key.slice(key.lastIndexOf("_") + 1));
      expectAbsent(bytes, key.slice(key.lastIndexOf("_") + 5)); // past the shown prefix
    }
  });

  test("API keys are stored as their SHA-256 and nothing more", async () => {
    const rows = await queryDatabase<{ key_hash: string; key_prefix: string }>(s.config, "SELECT key_hash, key_prefix FROM api_keys");
    const hashes = rows.map((r) => r.key_hash);
    for (const key of apiKeys.slice(1)) expect(hashes).toContain(createHash("sha256").update(key).digest("hex"));
    for (const r of rows) {
      expect(r.key_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.key_prefix).toMatch(/^sk_(live|test|admin)_[0-9A-Za-z]{4}$/);
    }
  });

  test("sealed secrets are AES-GCM envelopes, each with its own IV", async () => {
    const rows = await queryDatabase<{ secret_enc: string; previous_secret_enc: string | null }>(s.config, "SELECT secret_enc, previous_secret_enc FROM endpoints");
    const sealed = rows.flatMap((r) => [r.secret_enc, r.previous_secret_enc]).filter((v): v is string => v !== null);
    expect(sealed).toHaveLength(4); // three current secrets, one still in grace
    for (const v of sealed) expect(v).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(new Set(sealed.map((v) => v.split(".")[1])).size).toBe(sealed.length);
  });

  test.skipIf(!ON_SQLITE)("master.key exists, is 0600, holds 32 bytes", () => {
    const file = join(dataDir, "master.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  test("the master key is not in the database", async () => {
    masterKeyHex = ON_SQLITE ? readFileSync(join(dataDir, "master.key"), "utf8").trim() : s.config.masterKey!;
    const bytes = await diskBytes();
    expectAbsent(bytes, masterKeyHex);
    expectAbsent(bytes, Buffer.from(masterKeyHex, "hex"));
  });
});

describe("after a restart on the same data", () => {
  beforeAll(async () => {
    await s.app.stop();
    // Closed: the WAL is checked back into the main file. Still nothing in the clear.
    const bytes = await diskBytes();
    for (const secret of secrets) for (const form of forms(secret)) expectAbsent(bytes, form);
    for (const key of apiKeys) expectAbsent(bytes, key);
    await s.restart();
  });

  test("GET /secret reveals the same secrets", async () => {
    for (const [id, secret] of current) {
      expect(expectOk(await s.api("GET", `/api/v1/webhooks/${id}/secret`, { key: orgKey }))).toEqual({ secret });
    }
  });

  test("the secret still in its grace period still signs", async () => {
    const [graced] = [...current.keys()];
    const row = (await s.app.services.store.endpoints.getById(graced!))!;
    expect(s.app.services.secrets.signing(row)).toEqual([current.get(graced!)!, secrets[0]!]);
  });

  test("a sealed idempotent replay opens again for the key that made it", async () => {
    const replay = await s.api("POST", "/api/v1/webhooks", { key: orgKey, headers: { "idempotency-key": "at-rest-create" }, body: { url: "https://example.com/0" } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.data).toMatchObject(replayedCreate);
  });

  test("the API keys still work", async () => {
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: orgKey }))).toHaveLength(3);
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: apiKeys[2]! }))).toHaveLength(3);
  });

  test.skipIf(!ON_SQLITE)("the master key file was reused, not replaced", () => {
    expect(readFileSync(join(dataDir, "master.key"), "utf8").trim()).toBe(masterKeyHex);
    expect(statSync(join(dataDir, "master.key")).mode & 0o777).toBe(0o600);
  });
});

describe("master key", () => {
  test("a server started with another master key on the same data dir refuses to start, naming WEBHOOKD_MASTER_KEY", async () => {
    const first = await startTestServer({ WEBHOOKD_MASTER_KEY: "11".repeat(32) });
    const { key } = await first.newTenant();
    await first.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/h" } });
    await first.app.stop();
    await expect(startApp({ ...first.config, masterKey: "22".repeat(32) }, { logger: silentLogger })).rejects.toThrow(/WEBHOOKD_MASTER_KEY/);
    await first.stop();
  });
});
