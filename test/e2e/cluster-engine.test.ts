/**
 * Cluster semantics with real PostgreSQL: several delivery engines, each on a store of its own
 * (a node), in this one process, on one database, sending to a loopback receiver. Every delivery
 * is attempted by one node while all are live; a node paused past its lease loses its rows to
 * another, whose results its late outcomes cannot overwrite; the retention sweep runs once.
 * Leases are short here (LEASE_MS) so takeovers happen within a test.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { createDeliveryEngine, type DeliveryEngine } from "../../src/delivery/engine.ts";
import { createHttpClient } from "../../src/delivery/http-client.ts";
import { createRetryPolicy } from "../../src/delivery/retry-policy.ts";
import { newId } from "../../src/lib/ids.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { createWebhookdMetrics } from "../../src/lib/metrics.ts";
import { createSweeper } from "../../src/scheduler/sweeper.ts";
import { systemResolver } from "../../src/security/resolver.ts";
import { vetTarget } from "../../src/security/target-guard.ts";
import type { DueDelivery, EventRow, NewDelivery, Store, StoreWrite } from "../../src/store/port.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { postgresBinDir, startPostgres, type Postgres } from "../helpers/postgres.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { endpointRow, orgRow } from "../store/contract.ts";

const havePostgres = postgresBinDir() !== null;
if (!havePostgres && process.env.CI === "true") throw new Error("PostgreSQL is missing: .ci/run installs it (apt-get install postgresql)");
if (!havePostgres) console.warn("SKIPPED test/e2e/cluster-engine.test.ts: PostgreSQL is not installed (apt-get install postgresql)");

const LEASE_MS = 1_500;
const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;

let pg: Postgres;
let databases = 0;
let receiver: Receiver;

/** A node's store whose writes can be held, as a process stopped (SIGSTOP) would hold them: nothing it writes reaches the database meanwhile. */
function pausable(store: Store) {
  let gate: Promise<void> | null = null;
  let open = () => {};
  const write: StoreWrite = async (op, durability) => {
    while (gate) await gate;
    return store.write(op, durability);
  };
  return {
    store: { ...store, write } as Store,
    pause() {
      gate = new Promise((resolve) => (open = resolve));
    },
    resume() {
      gate = null;
      open();
    },
  };
}

/** One node's engine; its user agent names it, so the receiver can tell the nodes apart. */
function engineOf(store: Store, name: string): DeliveryEngine {
  return createDeliveryEngine({
    store,
    client: createHttpClient({ pickTarget: (url) => vetTarget(url, { resolver: systemResolver, allowPrivate: true }), userAgent: name }),
    policy: createRetryPolicy({ schedule: [200, 200, 200], jitter: 0, retryAfterMaxMs: 5_000 }),
    signingSecrets: () => [SECRET],
    clock: Date.now,
    logger: silentLogger,
    metrics: createWebhookdMetrics(),
    userAgent: name,
    concurrency: 4,
    orgConcurrency: 4,
    endpointConcurrency: 4,
    attemptTimeoutMs: 500,
    disableAfter: 0,
    maxInMemory: 1_000,
  });
}

interface Cluster {
  url: string;
  admin: SQL;
  /** A store no engine runs on: it writes the rows the tests start from. */
  seed: Store;
  stores: Store[];
  close(): Promise<void>;
}

async function cluster(nodes: string[]): Promise<Cluster> {
  const url = await pg.createDatabase(`cluster_${++databases}`);
  const seed = await openPostgresStore(url, { node: "seed", leaseMs: LEASE_MS });
  const stores = await Promise.all(nodes.map((node) => openPostgresStore(url, { node, leaseMs: LEASE_MS, heartbeatMs: 500 })));
  const admin = new SQL(url, { max: 2 });
  return {
    url,
    admin,
    seed,
    stores,
    async close() {
      await admin.close();
      await Promise.all([seed, ...stores].map((s) => s.close()));
    },
  };
}

/** An org with one endpoint on the receiver, at a path of its own. */
async function endpointOn(store: Store, path: string) {
  const org = orgRow();
  const endpoint = endpointRow(org.id, { url: `${receiver.url}${path}` });
  await store.write(async (tx) => {
    await tx.orgs.insert(org);
    await tx.endpoints.insertWithinLimit(endpoint, 10);
  });
  return { org, endpoint };
}

/**
 * `n` events for the endpoint, one delivery each, due now, written through `store` (so leased to
 * its node); with `free` the leases are given back, as rows no node holds.
 */
async function publish(store: Store, target: { org: { id: string }; endpoint: { id: string } }, n: number, free = false): Promise<DueDelivery[]> {
  const now = Date.now();
  const events: EventRow[] = Array.from({ length: n }, (_, i) => ({
    id: newId("evt", now),
    orgId: target.org.id,
    type: "user.created",
    body: JSON.stringify({ event: "user.created", n: i }),
    dedupeKey: null,
    isTest: false,
    createdAt: now,
  }));
  const rows: NewDelivery[] = events.map((e) => ({ id: newId("dlv", now), orgId: e.orgId, eventId: e.id, endpointId: target.endpoint.id, eventType: e.type, dueAt: now, createdAt: now }));
  await store.write(async (tx) => {
    for (const e of events) await tx.events.insertIfNew(e);
    await tx.deliveries.insertMany(rows);
    if (free) await tx.deliveries.releaseLeases(store.leases!.owner, rows.map((r) => r.id));
  });
  return rows.map((r) => ({ id: r.id, orgId: r.orgId, endpointId: r.endpointId, nextAttemptAt: now }));
}

const arrivals = (path: string) => receiver.received.filter((r) => r.path === path);
/** How many times each event (webhook-id) arrived. */
function timesEach(path: string): Map<string, number> {
  const times = new Map<string, number>();
  for (const r of arrivals(path)) times.set(r.headers["webhook-id"]!, (times.get(r.headers["webhook-id"]!) ?? 0) + 1);
  return times;
}

async function statuses(admin: SQL, endpointId: string): Promise<Record<string, number>> {
  const rows = await admin`SELECT status, count(*)::int AS n FROM deliveries WHERE endpoint_id = ${endpointId} GROUP BY status`;
  return Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n]));
}

describe.skipIf(!havePostgres)("a cluster of delivery engines on one PostgreSQL", () => {
  beforeAll(async () => {
    pg = await startPostgres();
    receiver = startReceiver();
  });
  afterAll(async () => {
    receiver?.stop();
    await pg?.stop();
  });

  test("three live nodes share a backlog and send their own publishes: every delivery is attempted by exactly one node", async () => {
    const c = await cluster(["node-a", "node-b", "node-c"]);
    const engines = c.stores.map((s, i) => engineOf(s, `node-${"abc"[i]}`));
    try {
      const path = "/shared";
      const target = await endpointOn(c.seed, path);
      const backlog = 240;
      await publish(c.seed, target, backlog, true);
      await Promise.all(engines.map((e) => e.start()));
      // While they work through the backlog, each node publishes 20 events of its own and sends them itself.
      const own = await Promise.all(c.stores.map((s) => publish(s, target, 20)));
      own.forEach((due, i) => engines[i]!.offer(due));
      const total = backlog + 60;
      await receiver.waitFor(receiver.received.length - arrivals(path).length + total, 30_000);
      await eventually(async () => (await statuses(c.admin, target.endpoint.id)).succeeded === total, 10_000);
      await Bun.sleep(300);

      const times = timesEach(path);
      expect(times.size).toBe(total);
      expect([...times.values()].every((n) => n === 1)).toBe(true);
      const [{ n: attempts }] = await c.admin`SELECT count(*)::int AS n FROM attempts WHERE endpoint_id = ${target.endpoint.id}`;
      expect(attempts).toBe(total);
      const byNode = new Map<string, number>();
      for (const r of arrivals(path)) byNode.set(r.headers["user-agent"]!, (byNode.get(r.headers["user-agent"]!) ?? 0) + 1);
      console.log(`3 nodes, ${total} deliveries: sent by node ${[...byNode].map(([n, k]) => `${n} ${k}`).join(", ")}; duplicates 0`);
      for (const name of ["node-a", "node-b", "node-c"]) expect(byNode.get(name) ?? 0).toBeGreaterThan(20);
      // A node's own publishes went out from that node: nobody else held them.
      const ownIds = new Set(own[1]!.map((d) => d.id));
      const ownEvents = new Set((await c.admin`SELECT event_id FROM deliveries WHERE id = ANY(${c.admin.array([...ownIds], "TEXT")}::text[])`).map((r: { event_id: string }) => r.event_id));
      expect(arrivals(path).filter((r) => ownEvents.has(r.headers["webhook-id"]!)).every((r) => r.headers["user-agent"] === "node-b")).toBe(true);
    } finally {
      await Promise.all(engines.map((e) => e.stop(1_000)));
      await c.close();
    }
  });

  test("a node paused past its lease: another node takes its rows over after the lease, the paused node's late outcomes are refused (no status goes backwards), and duplicates stay within what it had in flight", async () => {
    const c = await cluster(["node-a", "node-b"]);
    const a = pausable(c.stores[0]!);
    const engineA = engineOf(a.store, "node-a");
    const engineB = engineOf(c.stores[1]!, "node-b");
    const path = "/paused";
    // Each event's first attempt fails, every later one succeeds.
    receiver.respond((req) => (req.path === path && timesEach(path).get(req.headers["webhook-id"]!) === 1 ? { status: 500 } : { status: 200 }));
    const fromNode = (name: string) => arrivals(path).filter((r) => r.headers["user-agent"] === name);
    try {
      const target = await endpointOn(c.seed, path);
      await publish(c.seed, target, 10, true);
      const published = await publish(c.stores[0]!, target, 5);
      await engineA.start(); // claims the 10 free rows
      engineA.offer(published);
      // Node A stops here: nothing it writes (outcomes, renewals, claims) gets through. Its 4
      // attempts in flight (its concurrency) are made; their slots stay taken until the outcomes
      // are written, so the other 11 rows it holds wait in its queue.
      a.pause();
      const pausedAt = Date.now();
      await eventually(() => fromNode("node-a").length === 4, 10_000);
      await Bun.sleep(300);
      expect(fromNode("node-a")).toHaveLength(4);
      await engineB.start();
      await eventually(async () => (await statuses(c.admin, target.endpoint.id)).succeeded === 15, 15_000);
      const takeover = Math.min(...fromNode("node-b").map((r) => r.at)) - pausedAt;
      console.log(`node paused holding 15 rows (4 in flight): first taken over after ${takeover} ms (lease ${LEASE_MS} ms)`);
      // Not before its leases lapsed, and within a lease plus a claim tick or two after.
      expect(takeover).toBeGreaterThanOrEqual(LEASE_MS - 200);
      expect(takeover).toBeLessThan(LEASE_MS + 2_500);

      // Node A resumes: its 4 outcomes (failures, which would make the rows pending retries) are
      // written and refused by the fence, and what it had queued is not sent (no longer pending).
      const before = arrivals(path).length;
      a.resume();
      await c.stores[0]!.flush();
      await Bun.sleep(800);
      expect(arrivals(path)).toHaveLength(before);
      expect(fromNode("node-a")).toHaveLength(4);
      expect(await statuses(c.admin, target.endpoint.id)).toEqual({ succeeded: 15 });
      const rows = await c.admin`SELECT last_status_code, lease_owner FROM deliveries WHERE endpoint_id = ${target.endpoint.id}`;
      expect(rows.every((r: { last_status_code: number; lease_owner: string | null }) => r.last_status_code === 200 && r.lease_owner === null)).toBe(true);
      // Node A's attempts are in the log (they were made); its results are not the deliveries'.
      const [{ n: loggedByA }] = await c.admin`SELECT count(*)::int AS n FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
        WHERE d.endpoint_id = ${target.endpoint.id} AND a.attempt_number = 1 AND a.status_code = 500 AND d.attempts = 1`;
      expect(loggedByA).toBe(4);
      // Duplicates: the events both nodes sent, one per attempt node A had in flight, and no more.
      const sentByA = new Set(fromNode("node-a").map((r) => r.headers["webhook-id"]));
      const duplicates = fromNode("node-b").filter((r) => sentByA.has(r.headers["webhook-id"]));
      console.log(`duplicates after the takeover: ${duplicates.length} (node A had 4 in flight and 11 queued)`);
      expect(duplicates).toHaveLength(4);
      expect(timesEach(path).size).toBe(15);
    } finally {
      a.resume();
      receiver.respond(() => ({ status: 200 }));
      await Promise.all([engineA.stop(1_000), engineB.stop(1_000)]);
      await c.close();
    }
  });

  test("a node stopped gracefully gives back what it held: another node sends it at once, without waiting for the lease", async () => {
    const c = await cluster(["node-a", "node-b"]);
    const engineA = engineOf(c.stores[0]!, "node-a");
    const engineB = engineOf(c.stores[1]!, "node-b");
    const path = "/handover";
    // Node A's attempts take a while: most of what it claimed is still queued when it stops.
    receiver.respond((req) => (req.path === path && req.headers["user-agent"] === "node-a" ? { status: 200, delayMs: 300 } : { status: 200 }));
    try {
      const target = await endpointOn(c.seed, path);
      await publish(c.seed, target, 12, true);
      // The leases node A takes lapse no sooner than this.
      const lapseAt = Date.now() + LEASE_MS;
      await engineA.start();
      await eventually(() => arrivals(path).length === 4, 5_000);
      await engineA.stop(2_000);
      await engineB.start();
      await eventually(async () => (await statuses(c.admin, target.endpoint.id)).succeeded === 12, 5_000);
      const fromB = arrivals(path).filter((r) => r.headers["user-agent"] === "node-b");
      expect(fromB).toHaveLength(8);
      expect(Math.max(...fromB.map((r) => r.at))).toBeLessThan(lapseAt);
      expect([...timesEach(path).values()].every((n) => n === 1)).toBe(true);
    } finally {
      receiver.respond(() => ({ status: 200 }));
      await engineB.stop(1_000);
      await c.close();
    }
  });

  test("a retry due within the claim window stays with the node that made the attempt; one due beyond it goes back to the table for any node", async () => {
    const c = await cluster(["node-a", "node-b"]);
    const engines = [engineOf(c.stores[0]!, "node-a"), engineOf(c.stores[1]!, "node-b")];
    // First attempts fail; at /near the retry is due after the 200 ms schedule, at /far after a 2 s Retry-After
    // (the window is half the lease, 750 ms). Retries succeed.
    receiver.respond((req) =>
      timesEach(req.path).get(req.headers["webhook-id"]!) === 1 ? { status: 503, headers: req.path === "/far" ? { "retry-after": "2" } : undefined } : { status: 200 },
    );
    try {
      const near = await endpointOn(c.seed, "/near");
      const far = await endpointOn(c.seed, "/far");
      await Promise.all(engines.map((e) => e.start()));
      engines[0]!.offer([...(await publish(c.stores[0]!, near, 6)), ...(await publish(c.stores[0]!, far, 6))]);
      await eventually(async () => (await statuses(c.admin, near.endpoint.id)).succeeded === 6, 10_000);
      // Leased to node A while it waited: node B, claiming all along, never had it.
      expect(arrivals("/near").every((r) => r.headers["user-agent"] === "node-a")).toBe(true);
      expect([...timesEach("/near").values()]).toEqual([2, 2, 2, 2, 2, 2]);
      // The far retries wait in the table, leased to nobody, until one node claims them when due.
      const waiting = await eventually(async () => {
        const rows = await c.admin`SELECT lease_owner, next_attempt_at FROM deliveries WHERE endpoint_id = ${far.endpoint.id} AND status = 'pending' AND attempts = 1`;
        return rows.length === 6 && rows;
      }, 10_000);
      expect(waiting.every((r: { lease_owner: string | null; next_attempt_at: string }) => r.lease_owner === null && Number(r.next_attempt_at) > Date.now())).toBe(true);
      await eventually(async () => (await statuses(c.admin, far.endpoint.id)).succeeded === 6, 10_000);
      expect([...timesEach("/far").values()]).toEqual([2, 2, 2, 2, 2, 2]);
    } finally {
      receiver.respond(() => ({ status: 200 }));
      await Promise.all(engines.map((e) => e.stop(1_000)));
      await c.close();
    }
  });

  test("the retention sweep runs once across two nodes started at the same moment", async () => {
    const c = await cluster(["node-a", "node-b"]);
    try {
      const target = await endpointOn(c.seed, "/retention");
      const [old] = await publish(c.seed, target, 1, true);
      const longAgo = Date.now() - 3 * 86_400_000;
      await c.admin`UPDATE deliveries SET status = 'succeeded', created_at = ${longAgo} WHERE id = ${old!.id}`;
      await c.admin`UPDATE events SET created_at = ${longAgo}`;
      const sweepers = c.stores.map((store) =>
        createSweeper({
          write: store.write,
          exclusive: store.exclusive,
          sweepIdempotency: async () => 0,
          // A sweep takes a moment: long enough for the two to overlap.
          resumeCancellations: () => Bun.sleep(300),
          clock: Date.now,
          logger: silentLogger,
          retentionDays: 1,
          cron: "0 0 1 1 *",
        }),
      );
      const results = await Promise.all(sweepers.map((s) => s.runOnce()));
      expect(results.filter((r) => r === null)).toHaveLength(1);
      expect(results.find((r) => r !== null)).toEqual({ attempts: 0, deliveries: 1, events: 1, endpoints: 0, idempotencyRecords: 0 });
      // Done, the job is free again for whichever node's schedule comes next.
      expect(await sweepers[1]!.runOnce()).toEqual({ attempts: 0, deliveries: 0, events: 0, endpoints: 0, idempotencyRecords: 0 });
    } finally {
      await c.close();
    }
  });
});
