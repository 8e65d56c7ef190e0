/**
 * Tenancy and secrets: another org's key (or the admin key acting in another org) gets 404 on
 * every route that names an id it does not own, and never any of the owner's data; a revoked key
 * fails on its very next request; API keys and signing secrets appear in no log line (debug
 * level, errors included) and nowhere in the database files (db, -wal, -shm) in plaintext,
 * base64 body or raw bytes.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../src/lib/logger.ts";
import { ADMIN_KEY, startTestServer, type TestServer, ON_SQLITE } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

setDefaultTimeout(30_000);

const lines: string[] = [];
let s: TestServer;
let receiver: Receiver;
let failing: Receiver;
/** Every credential the server handed out or was given, in plaintext. */
const secrets = new Set<string>([ADMIN_KEY]);

interface Tenant {
  orgId: string;
  key: string;
  keyId: string;
  endpointId: string;
  deliveryId: string;
  eventId: string;
  secret: string;
}
let a: Tenant;
let b: Tenant;

/**
 * The server's own bun:sqlite connection (noted while it starts), to fill the disk for a moment
 * and so drive writes into their error paths.
 */
let serverDb: Database | null = null;

async function tenant(name: string): Promise<Tenant> {
  const org = expectOk(await s.api("POST", "/api/v1/orgs", { key: ADMIN_KEY, body: { name } }), 201);
  const k = expectOk(
    await s.api("POST", `/api/v1/orgs/${org.id}/keys`, {
      key: ADMIN_KEY,
      body: { scopes: ["webhooks:read", "webhooks:write", "events:write"] },
      headers: { "idempotency-key": `key-${name}` },
    }),
    201,
  );
  secrets.add(k.key);
  const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key: k.key, body: { url: `${receiver.url}/${name}` }, headers: { "idempotency-key": "ep-1" } }), 201);
  secrets.add(ep.secret);
  const pub = expectOk(await s.api("POST", "/api/v1/events", { key: k.key, body: { event: "call.ended", data: { owner: name } } }), 202);
  const deliveryId = (await eventually(async () => {
    const list = (await s.api("GET", `/api/v1/webhooks/${ep.id}/deliveries`, { key: k.key })).body.data as any[];
    return list[0]?.status === "succeeded" ? (list[0].id as string) : null;
  }))!;
  return { orgId: org.id, key: k.key, keyId: k.id, endpointId: ep.id, deliveryId, eventId: pub.id, secret: ep.secret };
}

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 200 }));
  failing = startReceiver(() => ({ status: 500, body: "nope" }));
  const proto = Database.prototype as unknown as { run: (...args: unknown[]) => unknown };
  const original = proto.run;
  const seen = new Set<Database>();
  proto.run = function (this: Database, ...args: unknown[]) {
    seen.add(this);
    return original.apply(this, args);
  };
  try {
    s = await startTestServer(
      { WEBHOOKD_RETRY_SCHEDULE: "20ms", WEBHOOKD_DISABLE_AFTER: "1", WEBHOOKD_LOG_LEVEL: "debug" },
      { logger: createLogger("debug", (line) => lines.push(line)) },
    );
  } finally {
    proto.run = original;
  }
  serverDb = [...seen].find((d) => d.filename === join(s.dataDir, "webhookd.db")) ?? null;
  a = await tenant("alpha");
  b = await tenant("bravo");
});

afterAll(async () => {
  receiver.stop();
  failing.stop();
  await s.stop();
});

describe("another org's ids are not found, whoever asks", () => {
  /** Every route that takes an id, with the owner's (A's) ids. */
  const routes = (t: Tenant, other: Tenant): Array<[string, string, unknown?]> => [
    ["GET", `/api/v1/webhooks/${t.endpointId}`],
    ["PATCH", `/api/v1/webhooks/${t.endpointId}`, { description: "pwned" }],
    ["PATCH", `/api/v1/webhooks/${t.endpointId}`, { url: `${receiver.url}/stolen` }],
    ["PATCH", `/api/v1/webhooks/${t.endpointId}`, { isActive: false }],
    ["DELETE", `/api/v1/webhooks/${t.endpointId}`],
    ["POST", `/api/v1/webhooks/${t.endpointId}/rotate-secret`, {}],
    ["POST", `/api/v1/webhooks/${t.endpointId}/rotate-secret`, { gracePeriodSeconds: 60 }],
    ["GET", `/api/v1/webhooks/${t.endpointId}/secret`],
    ["GET", `/api/v1/webhooks/${t.endpointId}/deliveries`],
    ["GET", `/api/v1/webhooks/${t.endpointId}/deliveries?success=true`],
    ["GET", `/api/v1/webhooks/${t.endpointId}/deliveries/${t.deliveryId}`],
    ["POST", `/api/v1/webhooks/${t.endpointId}/deliveries/${t.deliveryId}/replay`],
    ["POST", `/api/v1/webhooks/${t.endpointId}/recover`, { since: "2000-01-01T00:00:00Z" }],
    ["POST", `/api/v1/webhooks/${t.endpointId}/test`, { event: "call.ended" }],
    ["GET", `/api/v1/events/${t.eventId}`],
    // The caller's own endpoint with the owner's delivery: still not found.
    ["GET", `/api/v1/webhooks/${other.endpointId}/deliveries/${t.deliveryId}`],
    ["POST", `/api/v1/webhooks/${other.endpointId}/deliveries/${t.deliveryId}/replay`],
  ];

  async function expectUntouched(): Promise<void> {
    const ep = expectOk(await s.api("GET", `/api/v1/webhooks/${a.endpointId}`, { key: a.key }));
    expect(ep).toMatchObject({ url: `${receiver.url}/alpha`, description: null, isActive: true });
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${a.endpointId}/secret`, { key: a.key })).secret).toBe(a.secret);
    const d = expectOk(await s.api("GET", `/api/v1/webhooks/${a.endpointId}/deliveries/${a.deliveryId}`, { key: a.key }));
    expect(d.attemptLog).toHaveLength(1);
    expect(receiver.received.filter((r) => r.path === "/alpha" || r.path === "/stolen")).toHaveLength(1);
  }

  test.each([
    ["B's key", () => ({ key: b.key, headers: {} as Record<string, string> })],
    ["B's key naming A's org in X-Org-Id", () => ({ key: b.key, headers: { "x-org-id": a.orgId } })],
    ["the admin key acting in B's org", () => ({ key: ADMIN_KEY, headers: { "x-org-id": b.orgId } })],
  ])("%s on A's ids: 404 NOT_FOUND everywhere, no data, nothing changed", async (_label, who) => {
    const { key, headers } = who();
    for (const [method, path, body] of routes(a, b)) {
      const res = await s.api(method, path, { key, body, headers });
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({ method, path, status: 404, code: "NOT_FOUND" });
      expectError(res, 404, "NOT_FOUND");
      const text = JSON.stringify(res.body);
      for (const leak of [a.secret, a.endpointId, a.deliveryId, a.eventId, a.orgId, "alpha"]) expect(text).not.toContain(leak);
    }
    await expectUntouched();
  });

  test("listings and fan-out stay within the org", async () => {
    const list = expectOk(await s.api("GET", "/api/v1/webhooks", { key: b.key }));
    expect(list.map((e: any) => e.id)).toEqual([b.endpointId]);
    const before = receiver.received.length;
    expectOk(await s.api("POST", "/api/v1/webhooks/test", { key: b.key, body: {} }));
    expectOk(await s.api("POST", "/api/v1/events", { key: b.key, body: { event: "call.ended", data: {} } }), 202);
    await eventually(() => receiver.received.length >= before + 2);
    await Bun.sleep(100);
    expect(receiver.received.slice(before).map((r) => r.path)).toEqual(["/bravo", "/bravo"]);
    await expectUntouched();
  });

  test("an org key cannot use the admin routes", async () => {
    for (const [method, path, body] of [
      ["GET", "/api/v1/orgs"],
      ["POST", "/api/v1/orgs", { name: "x" }],
      ["GET", `/api/v1/orgs/${a.orgId}/keys`],
      ["POST", `/api/v1/orgs/${a.orgId}/keys`, { scopes: ["webhooks:read"] }],
      ["DELETE", `/api/v1/orgs/${a.orgId}/keys/${a.keyId}`],
      ["GET", `/api/v1/orgs/${b.orgId}/keys`],
    ] as Array<[string, string, unknown?]>) {
      expectError(await s.api(method, path, { key: b.key, body }), 403, "FORBIDDEN");
    }
    expect((await s.api("GET", "/api/v1/webhooks", { key: a.key })).status).toBe(200);
  });
});

describe("revocation", () => {
  test("a revoked key fails on its very next request, including an idempotent replay", async () => {
    const k = expectOk(await s.api("POST", `/api/v1/orgs/${a.orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read", "events:write"] } }), 201);
    secrets.add(k.key);
    // Warm the auth cache, and store an idempotent response under this key.
    expect((await s.api("GET", "/api/v1/webhooks", { key: k.key })).status).toBe(200);
    const first = await s.api("POST", "/api/v1/events", { key: k.key, body: { event: "call.ended", data: {} }, headers: { "idempotency-key": "r-1" } });
    expect(first.status).toBe(202);
    expect((await s.api("DELETE", `/api/v1/orgs/${a.orgId}/keys/${k.id}`, { key: ADMIN_KEY })).status).toBe(204);
    expectError(await s.api("GET", "/api/v1/webhooks", { key: k.key }), 401, "UNAUTHORIZED");
    expectError(await s.api("POST", "/api/v1/events", { key: k.key, body: { event: "call.ended", data: {} }, headers: { "idempotency-key": "r-1" } }), 401, "UNAUTHORIZED");
    expectError(await s.api("GET", "/api/v1/webhooks", { key: null, headers: { authorization: `Bearer ${k.key}` } }), 401, "UNAUTHORIZED");
    // The org's other keys are unaffected.
    expect((await s.api("GET", "/api/v1/webhooks", { key: a.key })).status).toBe(200);
  });
});

describe("secrets never leak", () => {
  test("rotations, errors and failures, then: no key or secret in any log line", async () => {
    // Rotations (with and without grace) and reveals: more secrets to look for.
    for (const grace of [0, 3600]) {
      const rotated = expectOk(await s.api("POST", `/api/v1/webhooks/${a.endpointId}/rotate-secret`, { key: a.key, body: { gracePeriodSeconds: grace }, headers: { "idempotency-key": `rot-${grace}` } }));
      secrets.add(rotated.secret);
      a.secret = rotated.secret;
    }
    expectOk(await s.api("GET", `/api/v1/webhooks/${a.endpointId}/secret`, { key: a.key }));
    // Deliveries signed with the current and the previous secret.
    expectOk(await s.api("POST", "/api/v1/events", { key: a.key, body: { event: "call.ended", data: {} } }), 202);
    // Failing deliveries until the endpoint is disabled (warn log).
    const f = expectOk(await s.api("POST", "/api/v1/webhooks", { key: b.key, body: { url: failing.url } }), 201);
    secrets.add(f.secret);
    expectOk(await s.api("POST", "/api/v1/events", { key: b.key, body: { event: "call.ended", data: {} } }), 202);
    await eventually(async () => (await s.api("GET", `/api/v1/webhooks/${f.id}`, { key: b.key })).body.data.status === "disabled");
    // Wrong, malformed and foreign credentials.
    for (const bad of [a.key.slice(0, -1) + (a.key.endsWith("x") ? "y" : "x"), "sk_live_" + "0".repeat(40), "not-a-key", a.secret]) {
      expect((await s.api("GET", "/api/v1/webhooks", { key: bad })).status).toBe(401);
    }
    expect((await s.api("GET", "/api/v1/webhooks", { key: null, headers: { authorization: `Basic ${btoa(`u:${a.key}`)}` } })).status).toBe(401);
    // A full disk for a moment: writes run into their error paths (logged), secrets in the requests.
    const spare: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = expectOk(await s.api("POST", "/api/v1/webhooks", { key: b.key, body: { url: `${receiver.url}/spare` } }), 201);
      secrets.add(e.secret);
      spare.push(e.id);
    }
    if (serverDb) {
      serverDb.run("CREATE TABLE IF NOT EXISTS filler (x BLOB)");
      const pages = (serverDb.query("PRAGMA page_count").get() as { page_count: number }).page_count;
      serverDb.run(`PRAGMA max_page_count = ${pages}`);
      // Fill the last free bytes too, so even a tiny row finds no room.
      for (const size of [2000, 500, 100, 20, 1]) {
        try {
          for (;;) serverDb.run(`INSERT INTO filler VALUES (randomblob(${size}))`);
        } catch {}
      }
      try {
        const long = "d".repeat(500);
        const responses = [
          await s.api("POST", "/api/v1/events", { key: a.key, body: { event: "call.ended", data: { pad: "x".repeat(100_000) } }, headers: { "idempotency-key": "full-1" } }),
          await s.api("POST", `/api/v1/orgs/${a.orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read"], name: long.slice(0, 200) } }),
          await s.api("POST", "/api/v1/webhooks", { key: a.key, body: { url: receiver.url, description: long } }),
          await s.api("PATCH", `/api/v1/webhooks/${a.endpointId}`, { key: a.key, body: { description: long } }),
          await s.api("PATCH", `/api/v1/webhooks/${b.endpointId}`, { key: b.key, body: { description: long } }),
          await s.api("POST", `/api/v1/webhooks/${a.endpointId}/rotate-secret`, { key: a.key, body: {} }),
          await s.api("POST", `/api/v1/webhooks/${a.endpointId}/test`, { key: a.key, body: { event: "call.ended" } }),
          // Rows that grow until their page has no room left: the write fails inside the handler.
          ...(await Promise.all(spare.map((id) => s.api("PATCH", `/api/v1/webhooks/${id}`, { key: b.key, body: { description: long } })))),
        ];
        for (const r of responses) {
          for (const v of [r.body?.data?.key, r.body?.data?.secret]) if (typeof v === "string" && !v.includes("•")) secrets.add(v);
        }
        const statuses = responses.map((r) => r.status);
        console.log(`[tenancy-secrets] requests on a full disk answered ${statuses.join(", ")}`);
        // Some of them could not be stored; none was mistaken for a client error.
        expect(statuses.some((status) => status >= 500)).toBe(true);
        for (const status of statuses) expect(status < 400 || status >= 500).toBe(true);
      } finally {
        serverDb.run("PRAGMA max_page_count = 1073741823");
        serverDb.run("DROP TABLE filler");
      }
    }
    const levels = lines.map((l) => `${JSON.parse(l).level}: ${JSON.parse(l).msg}`);
    console.log(`[tenancy-secrets] ${lines.length} log lines scanned: ${JSON.stringify(Object.fromEntries(Map.groupBy(levels, (x) => x).entries().map(([k, v]) => [k, v.length])))}`);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('"level":"error"') || l.includes('"level":"warn"'))).toBe(true);
    const all = lines.join("");
    for (const secret of secrets) {
      for (const form of forms(secret)) {
        if (all.includes(form)) throw new Error(`a log line contains ${secret.slice(0, 12)}... (as ${form.slice(0, 12)}...)`);
      }
    }
  });

  test.skipIf(!ON_SQLITE)("no key or secret in the database files, in any form (while running and after stop)", async () => {
    const scan = () => {
      const files = ["webhookd.db", "webhookd.db-wal", "webhookd.db-shm"].map((f) => join(s.dataDir, f)).filter(existsSync);
      expect(files.length).toBeGreaterThan(0);
      const blobs = files.map((f) => readFileSync(f));
      for (const secret of secrets) {
        for (const form of [...forms(secret).map((x) => Buffer.from(x)), ...rawBytes(secret)]) {
          for (const [i, blob] of blobs.entries()) {
            if (blob.includes(form)) throw new Error(`${files[i]} contains ${secret.slice(0, 12)}... (a ${form.length}-byte form)`);
          }
        }
      }
      return files;
    };
    const running = scan();
    expect(running.some((f) => f.endsWith("-wal"))).toBe(true);
    // What is stored instead: hashes of keys, sealed secrets.
    const db = new Database(join(s.dataDir, "webhookd.db"), { readonly: true });
    try {
      const sealed = db.query("SELECT secret_enc FROM endpoints").values() as [string][];
      expect(sealed.length).toBeGreaterThan(0);
      for (const [v] of sealed) expect(v).toMatch(/^v1\./);
    } finally {
      db.close();
    }
    await s.app.stop();
    scan();
  });
});

/** The plaintext, its random body (after the prefix) and, for signing secrets, the base64 text. */
function forms(secret: string): string[] {
  const out = [secret];
  const body = secret.replace(/^(sk_(live|test|admin)_|whsec_)/, "");
  if (body !== secret) out.push(body);
  if (secret.startsWith("whsec_")) {
    out.push(Buffer.from(body, "base64").toString("base64url"));
    out.push(Buffer.from(body, "base64").toString("hex"));
  }
  return out;
}

/** The 32 raw bytes a signing secret encodes. */
function rawBytes(secret: string): Buffer[] {
  return secret.startsWith("whsec_") ? [Buffer.from(secret.slice(6), "base64")] : [];
}
