/**
 * Crashes: the compiled binary is killed with SIGKILL at random moments while clients publish
 * continuously, and restarted on the same data dir each time. Every event that got a 2xx must
 * reach both subscribed endpoints; duplicates (same webhook-id at the same endpoint twice) are
 * counted, reported and bounded by what could have been in flight at each kill.
 *
 * WEBHOOKD_SOAK=1 kills 25 times instead of 6.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { installBinary, type Installed, type Served } from "../helpers/binary.ts";
import { audit, publishLoop, settle, startLedgerReceiver } from "../helpers/crash.ts";
import { makeClient } from "../helpers/server.ts";
import { ADMIN_KEY, LOCAL_ENV } from "../helpers/local-env.ts";

const SOAK = process.env.WEBHOOKD_SOAK === "1";
const KILLS = SOAK ? 25 : 6;
const CONCURRENCY = 16;
setDefaultTimeout(30_000);

let installed: Installed | null = null;
afterAll(async () => {
  await installed?.cleanup();
});

test(`kill -9 at random moments (${KILLS}x) while publishing: every accepted event reaches both endpoints`, async () => {
  installed = installBinary();
  const dataDir = join(installed.dir, "data");
  const env = {
    ...LOCAL_ENV,
    WEBHOOKD_DATA_DIR: dataDir,
    WEBHOOKD_RETRY_SCHEDULE: "200ms,500ms,1s,2s,5s",
    WEBHOOKD_CONCURRENCY: String(CONCURRENCY),
    WEBHOOKD_LOG_LEVEL: "info",
  };
  // Answers take 0-40 ms, so attempts are really in flight when the kill comes.
  const ledger = startLedgerReceiver(() => Math.random() * 40);
  let served: Served | null = await installed.serve([], env);
  let current: string | null = served.url;

  try {
    const api = makeClient(served.url);
    const org = await api("POST", "/api/v1/orgs", { key: ADMIN_KEY, body: { name: "crash" } });
    const orgId = org.body.data.id as string;
    const k = await api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read", "webhooks:write", "events:write"] } });
    const key = k.body.data.key as string;
    for (const path of ["/a", "/b"]) {
      const res = await api("POST", "/api/v1/webhooks", { key, body: { url: ledger.url + path } });
      expect(res.status).toBe(201);
    }

    const loop = publishLoop({ baseUrl: () => current, key, workers: 4 });
    const kills: Array<{ at: number; ackedSoFar: number }> = [];
    const started = Date.now();
    for (let i = 0; i < KILLS; i++) {
      await Bun.sleep(300 + Math.random() * 900);
      kills.push({ at: Date.now() - started, ackedSoFar: loop.acked.size });
      current = null;
      const code = await served!.stop("SIGKILL");
      expect(code).not.toBe(0);
      served = await installed.serve([], env);
      current = served.url;
    }
    // Some more traffic on the last incarnation, then stop publishing.
    await Bun.sleep(500);
    await loop.stop();

    // Publishing outpaces delivery here (16 at a time to a receiver taking 0-40 ms), so the
    // backlog takes a while: wait while it drains; 15 s with nothing new covers the longest retry gap.
    const result = await settle(loop.acked, ledger, ["/a", "/b"], { stallMs: 15_000, timeoutMs: SOAK ? 480_000 : 100_000 });
    const bound = CONCURRENCY * KILLS;
    console.log(
      `[crash] kills=${KILLS} accepted=${result.acked} transport/non-2xx failures=${loop.failures} received=${ledger.total} ` +
        `missing=${result.missing.length} duplicates=${result.duplicates} (pairs ${result.duplicatedPairs}, ` +
        `${(result.duplicates / KILLS).toFixed(1)}/kill, bound ${bound})`,
    );
    expect(result.acked).toBeGreaterThan(KILLS * 10);
    expect(result.missing).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(bound);

    // The database agrees: nothing left pending, both deliveries of every accepted event succeeded.
    const final = await makeClient(served.url)("GET", `/api/v1/events/${[...loop.acked][0]}`, { key });
    expect(final.body.data.deliveries.map((d: any) => d.status)).toEqual(["succeeded", "succeeded"]);
    const exit = await served.stop("SIGTERM");
    served = null;
    expect(exit).toBe(0);

    const db = new Database(join(dataDir, "webhookd.db"), { readonly: true });
    try {
      expect(db.query("PRAGMA integrity_check").values()).toEqual([["ok"]]);
      expect(db.query("PRAGMA foreign_key_check").values()).toEqual([]);
      const byStatus = Object.fromEntries(db.query("SELECT status, count(*) FROM deliveries GROUP BY status").values() as [string, number][]);
      expect(byStatus.pending ?? 0).toBe(0);
      expect(byStatus.failed ?? 0).toBe(0);
      // Every stored event fanned out to both endpoints (no half-written publish survived a kill).
      const events = (db.query("SELECT count(*) FROM events").values()[0]![0] as number);
      expect(events).toBeGreaterThanOrEqual(result.acked);
      expect(byStatus.succeeded).toBe(2 * events);
      const unacked = events - result.acked;
      // Events stored but never acknowledged (the kill came between commit and response): at most
      // the publishes in flight at each kill.
      expect(unacked).toBeLessThanOrEqual(4 * KILLS);
      const recount = audit(loop.acked, ledger, ["/a", "/b"]);
      expect(recount.missing).toEqual([]);
    } finally {
      db.close();
    }
  } finally {
    current = null;
    await served?.stop("SIGKILL");
    ledger.stop();
  }
}, SOAK ? 600_000 : 120_000);
