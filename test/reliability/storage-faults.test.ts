/**
 * Storage faults: the disk fills up (PRAGMA max_page_count on the server's own connection) or
 * another process holds the database's write lock longer than busy_timeout. Publish must answer
 * 503 STORAGE_UNAVAILABLE for what it could not store, never a 2xx for it, and recover by itself
 * when the fault clears; /readyz must say 503 while the lock is held.
 */
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { ADMIN_KEY, startTestServer, type ApiResponse, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectError } from "../helpers/assert.ts";
import { newId } from "../../src/lib/ids.ts";

setDefaultTimeout(60_000);

/**
 * The server's own bun:sqlite connection. max_page_count is per connection, and the store does
 * not hand its handle out, so the test notes every Database that runs a statement while the
 * server starts and keeps the one on this data dir's file.
 */
async function startWithHandle(env: Record<string, string>): Promise<{ s: TestServer; sqlite: Database }> {
  const seen = new Set<Database>();
  const proto = Database.prototype as unknown as { run: (...args: unknown[]) => unknown };
  const original = proto.run;
  proto.run = function (this: Database, ...args: unknown[]) {
    seen.add(this);
    return original.apply(this, args);
  };
  let s: TestServer;
  try {
    s = await startTestServer(env);
  } finally {
    proto.run = original;
  }
  const file = join(s.dataDir, "webhookd.db");
  const sqlite = [...seen].find((d) => d.filename === file);
  if (!sqlite) throw new Error("could not find the server's database handle");
  return { s, sqlite };
}

interface Outcome {
  status: number;
  code?: string;
  id?: string;
  marker: string;
}

/** Publishes one event carrying a unique marker; returns what the server said. */
async function publish(s: TestServer, key: string, marker: string, extra: Record<string, string> = {}, size = 2000): Promise<Outcome> {
  const res = await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { marker, pad: "x".repeat(size) } }, headers: extra });
  return { status: res.status, code: res.body?.error?.code, id: res.body?.data?.id, marker };
}

/** Which markers are stored, read through a separate connection (the truth on disk). */
function storedMarkers(dbFile: string): Set<string> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const rows = db.query("SELECT body FROM events").values() as [string][];
    return new Set(rows.map(([body]) => JSON.parse(body).data?.marker).filter(Boolean));
  } finally {
    db.close();
  }
}

let receiver: Receiver;
beforeAll(() => {
  receiver = startReceiver(() => ({ status: 200 }));
});
afterAll(() => receiver.stop());

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

describe("the disk fills up", () => {
  test("publish answers 503 STORAGE_UNAVAILABLE for what it could not store, 2xx only for what it stored, and recovers", async () => {
    const { s, sqlite } = await startWithHandle({ WEBHOOKD_RETRY_SCHEDULE: "100ms" });
    servers.push(s);
    const file = join(s.dataDir, "webhookd.db");
    const { key } = await s.newTenant();
    await s.api("POST", "/api/v1/webhooks", { key, body: { url: receiver.url + "/full" } });
    expect((await publish(s, key, "warmup")).status).toBe(202);

    const pages = (sqlite.query("PRAGMA page_count").get() as { page_count: number }).page_count;
    sqlite.run(`PRAGMA max_page_count = ${pages}`);
    const outcomes: Outcome[] = [];
    try {
      // Sequential and concurrent publishes (the latter share group-commit batches).
      // Sizes vary, so some still fit in free space on existing pages and some do not.
      const size = () => [0, 10, 100, 500, 2000, 6000, 100_000, 200_000][Math.floor(Math.random() * 8)]!;
      for (let i = 0; i < 30; i++) outcomes.push(await publish(s, key, `seq-${i}`, {}, size()));
      for (let round = 0; round < 5; round++) {
        outcomes.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => publish(s, key, `par-${round}-${i}`, {}, size())))));
      }
      outcomes.push(await publish(s, key, "idem-full", { "idempotency-key": "full-1" }));
    } finally {
      sqlite.run("PRAGMA max_page_count = 1073741823");
    }

    const full = outcomes.filter((o) => o.status === 503);
    console.log(`[storage-faults] disk full: ${outcomes.length} publishes, ${outcomes.filter((o) => o.status === 202).length} stored (202), ${full.length} refused (503), others: ${JSON.stringify(outcomes.filter((o) => o.status !== 202 && o.status !== 503).map((o) => `${o.status} ${o.code}`))}`);
    // The disk really was full for many of them, and every refusal says so clearly.
    expect(full.length).toBeGreaterThan(outcomes.length / 4);
    for (const o of full) expect(o.code).toBe("STORAGE_UNAVAILABLE");
    expect(outcomes.filter((o) => o.status !== 202 && o.status !== 503)).toEqual([]);

    // 2xx <=> stored, checked on disk and through the API.
    const stored = storedMarkers(file);
    for (const o of outcomes) expect({ marker: o.marker, status: o.status, stored: stored.has(o.marker) }).toEqual({ marker: o.marker, status: o.status, stored: o.status === 202 });
    for (const o of outcomes.filter((o) => o.status === 202)) {
      expect((await s.api("GET", `/api/v1/events/${o.id}`, { key })).status).toBe(200);
    }

    // Recovered by itself: publish works, /readyz is ready, and every stored event is delivered.
    const after = await publish(s, key, "after");
    expect(after.status).toBe(202);
    expect((await s.api("GET", "/readyz")).status).toBe(200);
    const accepted = outcomes.filter((o) => o.status === 202).map((o) => o.id!).concat(after.id!);
    await eventually(() => accepted.every((id) => receiver.received.some((r) => r.path === "/full" && r.headers["webhook-id"] === id)), 30_000);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.query("PRAGMA integrity_check").values()).toEqual([["ok"]]);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe("group commit on a full disk", () => {
  test("in one batch, every op that resolved is stored and every op that was refused is not (STORAGE_UNAVAILABLE)", async () => {
    const { s, sqlite } = await startWithHandle({});
    servers.push(s);
    const { store } = s.app.services;
    const file = join(s.dataDir, "webhookd.db");
    for (let round = 0; round < 5; round++) {
      const pages = (sqlite.query("PRAGMA page_count").get() as { page_count: number }).page_count;
      sqlite.run(`PRAGMA max_page_count = ${pages}`);
      const ids: string[] = [];
      const ops: Promise<unknown>[] = [];
      try {
        // Small rows (that fit in free space) around rows too big for the full disk, all in one tick: one batch.
        for (const size of [10, 10, 300_000, 10, 10, 50_000, 10]) {
          const id = newId("org");
          ids.push(id);
          ops.push(store.write((tx) => tx.orgs.insert({ id, name: "n".repeat(size), createdAt: Date.now() })));
        }
        const results = await Promise.allSettled(ops);
        const db = new Database(file, { readonly: true });
        const stored = new Set((db.query("SELECT id FROM orgs").values() as [string][]).map(([id]) => id));
        db.close();
        const seen = results.map((r, i) => ({
          i,
          outcome: r.status === "fulfilled" ? "ok" : String((r.reason as { code?: string }).code ?? (r.reason as Error).message),
          stored: stored.has(ids[i]!),
        }));
        for (const x of seen) {
          expect(x).toEqual({ i: x.i, outcome: x.stored ? "ok" : "STORAGE_UNAVAILABLE", stored: x.stored });
        }
        // The big ones never fit.
        expect(seen[2]!.stored).toBe(false);
      } finally {
        sqlite.run("PRAGMA max_page_count = 1073741823");
      }
      // Writes work again at once.
      await store.write((tx) => tx.orgs.insert({ id: newId("org"), name: "after", createdAt: Date.now() }));
    }
  });
});

describe("endpoint writes on a full disk", () => {
  test("PATCH that needs room the disk does not have: 503 STORAGE_UNAVAILABLE, nothing changed", async () => {
    const { s, sqlite } = await startWithHandle({});
    servers.push(s);
    const targets: Array<{ key: string; id: string }> = [];
    for (let t = 0; t < 4; t++) {
      const { key } = await s.newTenant();
      for (let i = 0; i < 5; i++) targets.push({ key, id: (await s.api("POST", "/api/v1/webhooks", { key, body: { url: receiver.url + "/direct" } })).body.data.id });
    }
    sqlite.run("CREATE TABLE filler (x BLOB)");
    const pages = (sqlite.query("PRAGMA page_count").get() as { page_count: number }).page_count;
    sqlite.run(`PRAGMA max_page_count = ${pages}`);
    const answers: Array<{ status: number; code?: string }> = [];
    try {
      for (const size of [2000, 500, 100, 20, 1]) {
        try {
          for (;;) sqlite.run(`INSERT INTO filler VALUES (randomblob(${size}))`);
        } catch {}
      }
      for (const { key, id } of targets) {
        const res = await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { description: "d".repeat(500) } });
        answers.push({ status: res.status, code: res.body?.error?.code });
        if (res.status !== 200) {
          // Refused means unchanged.
          expect((await s.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data.description).toBeNull();
        }
      }
    } finally {
      sqlite.run("PRAGMA max_page_count = 1073741823");
    }
    console.log(`[storage-faults] PATCH on a full disk -> ${answers.map((a) => `${a.status} ${a.code ?? ""}`).join(", ")}`);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect(a).toEqual({ status: 503, code: "STORAGE_UNAVAILABLE" });
  });
});

/**
 * A child process that takes the write lock (BEGIN EXCLUSIVE) and holds it until released (or
 * 50 s at most), so the checks run while the lock is certainly held.
 */
async function holdLock(file: string): Promise<{ release(): Promise<number>; heldMs(): number }> {
  const script = `
    const { Database } = require("bun:sqlite");
    const db = new Database(${JSON.stringify(file)});
    db.run("PRAGMA busy_timeout = 10000");
    db.run("BEGIN EXCLUSIVE");
    db.run("CREATE TABLE IF NOT EXISTS lock_probe (x)");
    process.stdout.write("locked\\n");
    const done = () => { db.run("ROLLBACK"); db.close(); process.exit(0); };
    setTimeout(done, 50000);
    process.stdin.on("data", done);
  `;
  const child = Bun.spawn([process.execPath, "-e", script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("locked")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the lock holder exited early: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const lockedAt = Date.now();
  return {
    heldMs: () => Date.now() - lockedAt,
    async release() {
      child.stdin.write("release\n");
      await child.stdin.end();
      return child.exited;
    },
  };
}

/** Waits until every delivery of the org is recorded, so no background write runs into the lock. */
async function idle(s: TestServer): Promise<void> {
  await eventually(() => s.app.services.engine.backlog === 0 && s.app.services.engine.inMemory === 0, 10_000);
}

describe("another process holds the write lock past busy_timeout (5 s)", () => {
  test("503 STORAGE_UNAVAILABLE and /readyz 503 while locked; everything back once it is released", async () => {
    const s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "100ms" });
    servers.push(s);
    const file = join(s.dataDir, "webhookd.db");
    const { key } = await s.newTenant();
    await s.api("POST", "/api/v1/webhooks", { key, body: { url: receiver.url + "/locked" } });
    expect((await publish(s, key, "before")).status).toBe(202);
    await idle(s);

    const lock = await holdLock(file);
    let during: Outcome[];
    let ready: Awaited<ReturnType<TestServer["api"]>>;
    try {
      // Each waits out the 5 s lock wait, polled from timers: the process keeps serving meanwhile.
      const publishing = Promise.all([publish(s, key, "locked-1"), publish(s, key, "locked-2")]);
      await Bun.sleep(300);
      const t0 = performance.now();
      expect((await s.api("GET", "/healthz")).status).toBe(200);
      expect((await s.api("GET", "/api/v1/webhooks", { key })).status).toBe(200);
      const servedInMs = performance.now() - t0;
      during = await publishing;
      const publishedAfter = lock.heldMs();
      expect(servedInMs).toBeLessThan(1_000);
      ready = await s.api("GET", "/readyz");
      const readyAfter = lock.heldMs();
      // Reads still work under the lock (WAL).
      expect((await s.api("GET", "/api/v1/webhooks", { key })).status).toBe(200);
      console.log(
        `[storage-faults] lock held: publishes -> ${during.map((o) => `${o.status} ${o.code ?? ""}`).join(", ")} after ${publishedAfter} ms; ` +
          `/readyz -> ${ready.status} after ${readyAfter} ms; reads served meanwhile in ${servedInMs.toFixed(0)} ms`,
      );
      expect(lock.heldMs()).toBeLessThan(50_000);
    } finally {
      expect(await lock.release()).toBe(0);
    }
    for (const o of during) expect({ status: o.status, code: o.code }).toEqual({ status: 503, code: "STORAGE_UNAVAILABLE" });
    expectError(ready, 503, "NOT_READY");

    // Recovered by itself.
    const after = await publish(s, key, "after");
    expect(after.status).toBe(202);
    expect((await s.api("GET", "/readyz")).status).toBe(200);
    const stored = storedMarkers(file);
    expect(stored.has("before") && stored.has("after")).toBe(true);
    expect(stored.has("locked-1") || stored.has("locked-2")).toBe(false);
    await eventually(() => receiver.received.some((r) => r.path === "/locked" && r.headers["webhook-id"] === after.id), 10_000);
  }, 90_000);

  test("endpoint, org and key writes wait for the lock on timers (the server keeps serving) and land once it is released", async () => {
    const s = await startTestServer({});
    servers.push(s);
    const file = join(s.dataDir, "webhookd.db");
    const { orgId, key } = await s.newTenant();
    const created = await s.api("POST", "/api/v1/webhooks", { key, body: { url: receiver.url + "/admin-writes" } });
    const id = created.body.data.id as string;
    const lock = await holdLock(file);
    let servedInMs: number;
    let writes: Promise<Array<ApiResponse>>;
    try {
      writes = Promise.all([
        s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { description: "under the lock" } }),
        s.api("POST", "/api/v1/webhooks", { key, body: { url: receiver.url + "/admin-writes-2" } }),
        s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read"] } }),
        s.api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { key }),
      ]);
      await Bun.sleep(300);
      const t0 = performance.now();
      expect((await s.api("GET", "/healthz")).status).toBe(200);
      expect((await s.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data.description).toBeNull(); // not yet written
      servedInMs = performance.now() - t0;
      await Bun.sleep(1_700);
    } finally {
      expect(await lock.release()).toBe(0);
    }
    const [patched, second, newKey, rotated] = (await writes) as [ApiResponse, ApiResponse, ApiResponse, ApiResponse];
    console.log(`[storage-faults] writes under a 2 s lock -> ${[patched, second, newKey, rotated].map((r) => r.status).join(", ")}; reads served meanwhile in ${servedInMs.toFixed(0)} ms`);
    // Before, each of these waited in SQLite's busy handler on the event loop: nothing was served meanwhile.
    expect(servedInMs).toBeLessThan(1_000);
    expect([patched.status, second.status, newKey.status, rotated.status]).toEqual([200, 201, 201, 200]);
    expect((await s.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data.description).toBe("under the lock");
    expect((await s.api("GET", "/api/v1/webhooks", { key })).body.data).toHaveLength(2);
    expect((await s.api("GET", "/api/v1/webhooks", { key: newKey.body.data.key })).status).toBe(200);
  });

  test("a publish with an Idempotency-Key under the lock: 503 STORAGE_UNAVAILABLE too, and the key stays usable", async () => {
    const s = await startTestServer({});
    servers.push(s);
    const file = join(s.dataDir, "webhookd.db");
    const { key } = await s.newTenant();
    const lock = await holdLock(file);
    let during: Outcome;
    try {
      during = await publish(s, key, "idem-locked", { "idempotency-key": "locked-key" });
    } finally {
      await lock.release();
    }
    console.log(`[storage-faults] idempotent publish under the lock -> ${during.status} ${during.code}`);
    expect({ status: during.status, code: during.code }).toEqual({ status: 503, code: "STORAGE_UNAVAILABLE" });
    const retried = await publish(s, key, "idem-locked", { "idempotency-key": "locked-key" });
    expect(retried.status).toBe(202);
  }, 60_000);
});
