/**
 * The PostgreSQL adapter's write cost, on a throwaway server (fsync on) on this machine:
 * `bun run test/bench/postgres-store.ts [--writers 16] [--seconds 10] [--orgs 1]`.
 *
 * Two write shapes, each from `writers` concurrent loops for `seconds`:
 * - publish: one event and its one delivery, durable (what a 202 waits on);
 * - outcome: an attempt row, the delivery's outcome and the endpoint's mark, relaxed (what the
 *   delivery engine writes per attempt), on the deliveries the publish phase made.
 * Prints writes/s, and CPU per write: this process (the client) and the server's processes.
 */
import { readdirSync } from "node:fs";
import { SQL } from "bun";
import { newId } from "../../src/lib/ids.ts";
import type { Durability, Store, StoreTx } from "../../src/store/port.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { treeCpuSeconds } from "./processes.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(argv[i + 1]);
};
const WRITERS = flag("writers", 16);
const SECONDS = flag("seconds", 10);
/** Orgs the endpoints (and so the writes) are spread over: one hot org makes every event row's foreign key check share one org row lock. */
const ORGS = flag("orgs", 1);
const ENDPOINTS = 10;


interface Result {
  writes: number;
  perSecond: number;
  clientUs: number;
  serverUs: number;
}

/** Runs `op(i)` from WRITERS loops for SECONDS, `i` counting writes across them. */
async function measure(store: Store, postmaster: number, durability: Durability, op: (i: number) => (tx: StoreTx) => Promise<unknown>): Promise<Result> {
  let next = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const client0 = process.cpuUsage();
  const server0 = await treeCpuSeconds(postmaster);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < deadline) await store.write(op(next++), durability);
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const client = process.cpuUsage(client0);
  const server = (await treeCpuSeconds(postmaster)) - server0;
  return {
    writes: next,
    perSecond: next / elapsed,
    clientUs: (client.user + client.system) / next,
    serverUs: (server * 1e6) / next,
  };
}

const pg = await startPostgres();
const store = await openPostgresStore(pg.url, { maxConnections: WRITERS });
try {
  const postmaster = pg.pid;

  const orgIds = Array.from({ length: ORGS }, () => newId("org"));
  const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => ({ id: newId("wh"), orgId: orgIds[i % ORGS]! }));
  await store.write(async (tx) => {
    const now = Date.now();
    for (const id of orgIds) await tx.orgs.insert({ id, name: "bench", createdAt: now });
    for (const { id, orgId } of endpoints) {
      await tx.endpoints.insertWithinLimit(
        { id, orgId, url: "https://example.com/hook", description: null, events: ["*"], enabled: true, disabledReason: null, disabledAt: null, consecutiveFailures: 0, failureCount: 0, lastTriggeredAt: null, secretEnc: "sealed", previousSecretEnc: null, previousSecretExpiresAt: null, createdAt: now, updatedAt: now, deletedAt: null },
        100,
      );
    }
  });

  const body = JSON.stringify({ type: "user.created", data: { id: "u_1", email: "someone@example.com", name: "Someone" } });
  const deliveryIds: string[] = [];
  const publish = await measure(store, postmaster, "durable", (i) => {
    const now = Date.now();
    const eventId = newId("evt", now);
    const deliveryId = newId("dlv", now);
    const { id: endpointId, orgId } = endpoints[i % ENDPOINTS]!;
    deliveryIds.push(deliveryId);
    return async (tx) => {
      await tx.events.insertIfNew({ id: eventId, orgId, type: "user.created", body, dedupeKey: `msg_${i}`, isTest: false, createdAt: now });
      await tx.deliveries.insertMany([{ id: deliveryId, orgId, eventId, endpointId, eventType: "user.created", dueAt: now, createdAt: now }]);
    };
  });

  const outcome = (durability: Durability) =>
    measure(store, postmaster, durability, (i) => {
      const now = Date.now();
      const deliveryId = deliveryIds[i % deliveryIds.length]!;
      const endpointId = endpoints[i % ENDPOINTS]!.id;
      return async (tx) => {
        await tx.attempts.insert({ id: newId("att", now), deliveryId, endpointId, trigger: "scheduled", attemptNumber: 1, url: "https://example.com/hook", statusCode: 200, durationMs: 3, errorCode: null, errorMessage: null, responseHeaders: { "content-type": "text/plain" }, responseBody: "ok", requestHeaders: null, createdAt: now });
        await tx.deliveries.recordOutcome({ id: deliveryId, status: "pending", attempts: 1, nextAttemptAt: now + 60_000, lastAttemptAt: now, lastStatusCode: 200, lastDurationMs: 3, lastErrorCode: null, lastErrorMessage: null }, now, "pending");
        await tx.endpoints.recordAttempt(endpointId, now, true);
      };
    });
  const relaxed = await outcome("relaxed");
  const durable = await outcome("durable");

  const row = (name: string, r: Result) =>
    `| ${name} | ${r.writes} | ${Math.round(r.perSecond)} | ${r.clientUs.toFixed(0)} | ${r.serverUs.toFixed(0)} | ${(r.clientUs + r.serverUs).toFixed(0)} |`;
  console.log(`PostgreSQL store writes: ${WRITERS} concurrent writers, ${SECONDS} s each, ${ORGS} org(s), ${navigator.hardwareConcurrency} cores, fsync on`);
  console.log("| write | writes | writes/s | client CPU µs/write | server CPU µs/write | total µs/write |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  console.log(row("publish (event + 1 delivery), durable", publish));
  console.log(row("outcome (attempt + outcome + endpoint mark), relaxed", relaxed));
  console.log(row("outcome (attempt + outcome + endpoint mark), durable", durable));
} finally {
  await store.close();
  await pg.stop();
}
