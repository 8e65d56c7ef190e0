/**
 * Cluster mode with the compiled binary: three nodes on one PostgreSQL database, publishers spread
 * over them round-robin, a loopback receiver that records every delivery. Every event that got a
 * 2xx must reach every subscribed endpoint; duplicates (same webhook-id at the same endpoint twice)
 * are counted and bounded by what a dead or paused node could have had in flight or leased.
 *
 * Runs wherever PostgreSQL is installed (CI installs it); WEBHOOKD_SOAK=1 kills 20 times instead of 5.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { installBinary, type Installed, type Served } from "../helpers/binary.ts";
import { publishLoop, settle, startLedgerReceiver, type Ledger } from "../helpers/crash.ts";
import { makeClient } from "../helpers/server.ts";
import { ADMIN_KEY, LOCAL_ENV } from "../helpers/local-env.ts";
import { startPostgres, type Postgres } from "../helpers/postgres.ts";

const SOAK = process.env.WEBHOOKD_SOAK === "1";
const NODES = 3;
const CONCURRENCY = 16;
const PATHS = ["/a", "/b"];
setDefaultTimeout(30_000);

let pg: Postgres;
let installed: Installed;
beforeAll(async () => {
  pg = await startPostgres();
  installed = installBinary();
});
afterAll(async () => {
  await installed?.cleanup();
  await pg?.stop();
});

/** N nodes of one cluster, each restartable, and a publisher's view of which are up. */
async function startCluster(env: Record<string, string>) {
  const url = await pg.createDatabase(`cluster_${randomBytes(6).toString("hex")}`);
  const nodeEnv = {
    ...LOCAL_ENV,
    WEBHOOKD_DATABASE_URL: url,
    WEBHOOKD_MASTER_KEY: randomBytes(32).toString("hex"),
    WEBHOOKD_CONCURRENCY: String(CONCURRENCY),
    // The shortest lease: a killed node's deliveries are the others' 10 s after they came due.
    WEBHOOKD_LEASE: "10s",
    WEBHOOKD_LOG_LEVEL: "info",
    ...env,
  };
  const nodes: Array<Served | null> = [];
  // One after the other: nodes starting at once are test/e2e/postgres-migrate.test.ts's.
  for (let i = 0; i < NODES; i++) nodes.push(await installed.serve([], nodeEnv));
  let turn = 0;
  return {
    nodes,
    /** A live node's URL, round-robin; null while none is up. */
    anyUrl(): string | null {
      for (let i = 0; i < NODES; i++) {
        const node = nodes[turn++ % NODES];
        if (node) return node.url;
      }
      return null;
    },
    async restart(i: number): Promise<void> {
      nodes[i] = await installed.serve([], nodeEnv);
    },
    async stopAll(): Promise<void> {
      await Promise.all(nodes.map((n) => n?.stop("SIGKILL")));
    },
  };
}

async function tenantWithEndpoints(baseUrl: string, ledger: Ledger): Promise<string> {
  const api = makeClient(baseUrl);
  const org = await api("POST", "/api/v1/orgs", { key: ADMIN_KEY, body: { name: "cluster" } });
  const k = await api("POST", `/api/v1/orgs/${org.body.data.id}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read", "webhooks:write", "events:write"] } });
  const key = k.body.data.key as string;
  for (const path of PATHS) expect((await api("POST", "/api/v1/webhooks", { key, body: { url: ledger.url + path } })).status).toBe(201);
  return key;
}

test(`3 nodes, kill -9 a random node ${SOAK ? 20 : 5}x under load: every accepted event reaches both endpoints`, async () => {
  const kills = SOAK ? 20 : 5;
  const ledger = startLedgerReceiver(() => Math.random() * 40);
  const cluster = await startCluster({ WEBHOOKD_RETRY_SCHEDULE: "200ms,500ms,1s,2s,5s" });
  try {
    const key = await tenantWithEndpoints(cluster.nodes[0]!.url, ledger);
    const loop = publishLoop({ baseUrl: () => cluster.anyUrl(), key, workers: 6 });
    for (let k = 0; k < kills; k++) {
      await Bun.sleep(500 + Math.random() * 1000);
      const victim = Math.floor(Math.random() * NODES);
      const node = cluster.nodes[victim]!;
      cluster.nodes[victim] = null;
      expect(await node.stop("SIGKILL")).not.toBe(0);
      await cluster.restart(victim);
    }
    await Bun.sleep(500);
    await loop.stop();
    const result = await settle(loop.acked, ledger, PATHS, { stallMs: 20_000, timeoutMs: SOAK ? 480_000 : 120_000 });
    // What a killed node had in flight (its concurrency) or leased and not yet sent is sent again.
    const bound = CONCURRENCY * kills * 2;
    console.log(
      `[cluster] nodes=${NODES} kills=${kills} accepted=${result.acked} failures=${loop.failures} received=${ledger.total} ` +
        `missing=${result.missing.length} duplicates=${result.duplicates} (pairs ${result.duplicatedPairs}, bound ${bound})`,
    );
    expect(result.acked).toBeGreaterThan(kills * 20);
    expect(result.missing).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(bound);
  } finally {
    await cluster.stopAll();
    ledger.stop();
  }
}, SOAK ? 600_000 : 180_000);

test("PostgreSQL stopped and started again under load: only 503s while it is down, every 2xx survives", async () => {
  const ledger = startLedgerReceiver(() => 0);
  const cluster = await startCluster({ WEBHOOKD_RETRY_SCHEDULE: "200ms,500ms,1s,2s,5s" });
  try {
    const key = await tenantWithEndpoints(cluster.nodes[0]!.url, ledger);
    const statuses = new Map<number, number>();
    const loop = publishLoop({ baseUrl: () => cluster.anyUrl(), key, workers: 4, onStatus: (s) => statuses.set(s, (statuses.get(s) ?? 0) + 1) });
    await Bun.sleep(1_000);
    await pg.pause();
    await Bun.sleep(2_000);
    await pg.resume();
    await Bun.sleep(3_000);
    await loop.stop();
    const result = await settle(loop.acked, ledger, PATHS, { stallMs: 20_000, timeoutMs: 120_000 });
    console.log(`[cluster] postgres restart: accepted=${result.acked} answers=${JSON.stringify(Object.fromEntries(statuses))} missing=${result.missing.length} duplicates=${result.duplicates}`);
    // Every answer was a 2xx or the 503 that says nothing was stored (no 500, no hang).
    expect([...statuses.keys()].every((s) => (s >= 200 && s < 300) || s === 503)).toBe(true);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(result.missing).toEqual([]);
    // Nodes recovered without a restart: publishes after the outage were accepted.
    const api = makeClient(cluster.nodes[1]!.url);
    expect((await api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } })).status).toBe(202);
    expect((await api("GET", "/readyz")).status).toBe(200);
  } finally {
    await cluster.stopAll();
    ledger.stop();
  }
}, 180_000);

test("a node paused (SIGSTOP) past its lease: the others take its deliveries over; nothing it records on waking sets a status back", async () => {
  // Slow answers, so the paused node has attempts in flight and more leased behind them.
  const ledger = startLedgerReceiver(() => 150 + Math.random() * 100);
  const cluster = await startCluster({ WEBHOOKD_RETRY_SCHEDULE: "1s,2s,5s" });
  try {
    const first = cluster.nodes[0]!;
    const key = await tenantWithEndpoints(first.url, ledger);
    const api = makeClient(first.url);
    const acked = new Set<string>();
    for (let b = 0; b < 3; b++) {
      const res = await api("POST", "/api/v1/events/batch", { key, body: { events: Array.from({ length: 100 }, (_, i) => ({ event: "call.ended", data: { b, i } })) } });
      expect(res.status).toBe(202);
      for (const e of res.body.data) acked.add(e.id);
    }
    await Bun.sleep(300);
    const pid = first.proc.pid;
    process.kill(pid, "SIGSTOP");
    cluster.nodes[0] = null;
    const receivedAtPause = ledger.total;
    // Past the 10 s lease (and a renewal's third of it): the other nodes must take over.
    await Bun.sleep(14_000);
    const takenOver = ledger.total - receivedAtPause;
    process.kill(pid, "SIGCONT");
    cluster.nodes[0] = first;
    const result = await settle(acked, ledger, PATHS, { stallMs: 20_000, timeoutMs: 120_000 });
    console.log(`[cluster] paused node: accepted=${result.acked} received while it slept=${takenOver} missing=${result.missing.length} duplicates=${result.duplicates}`);
    expect(takenOver).toBeGreaterThan(0);
    expect(result.missing).toEqual([]);
    // Only what the paused node had in flight may be sent twice (at most its concurrency): on
    // waking it starts nothing whose lease ran out meanwhile (claimer.holds).
    expect(result.duplicates).toBeLessThanOrEqual(CONCURRENCY);
    // Its late outcomes were fenced off: every delivery stays succeeded, on every node's view.
    await Bun.sleep(1_000);
    const other = makeClient(cluster.nodes[1]!.url);
    for (const id of acked) {
      const event = await other("GET", `/api/v1/events/${id}`, { key });
      expect(event.body.data.deliveries.map((d: { status: string }) => d.status)).toEqual(["succeeded", "succeeded"]);
    }
  } finally {
    await cluster.stopAll();
    ledger.stop();
  }
}, 180_000);
