/**
 * Issue 12 over real HTTP: one org's slow traffic cannot take every delivery slot from another;
 * replays, recovers and test sends obey the same limits and never multiply; a disabled endpoint
 * gets nothing more, whatever was running or queued for it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { startApp } from "../../src/app.ts";
import { newId } from "../../src/lib/ids.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { webhookBody } from "../../src/lib/webhook-body.ts";
import { openStoreOf, startTestServer, testConfig, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectError, expectOk, expectPage } from "../helpers/assert.ts";

const publish = (s: TestServer, key: string, n: number) =>
  s.api("POST", "/api/v1/events/batch", { key, body: { events: Array.from({ length: n }, (_, i) => ({ event: "call.ended", data: { n: i } })) } });

const endpoint = async (s: TestServer, key: string, url: string): Promise<string> =>
  expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url } }), 201).id;

async function failedDeliveries(s: TestServer, key: string, endpointId: string, n: number): Promise<void> {
  expectOk(await publish(s, key, n), 202);
  await eventually(async () => (await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries?status=failed&limit=1`, { key })).body.pagination.total === n);
}

describe("fair scheduling across orgs", () => {
  const HOLD_MS = 3_000;
  let s: TestServer;
  let flood: Receiver;
  let victim: Receiver;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_CONCURRENCY: "8", WEBHOOKD_ORG_CONCURRENCY: "4", WEBHOOKD_ENDPOINT_CONCURRENCY: "4", WEBHOOKD_ATTEMPT_TIMEOUT: "30s" });
    flood = startReceiver(() => ({ status: 200, delayMs: HOLD_MS }));
    victim = startReceiver();
  });
  afterAll(async () => {
    flood.stop();
    victim.stop();
    await s.stop();
  });

  test("an org whose endpoints are slow holds at most its share of the slots: another org's delivery starts before any of its answers", async () => {
    const a = await s.newTenant();
    for (const path of ["/1", "/2"]) await endpoint(s, a.key, flood.url + path);
    const b = await s.newTenant();
    await endpoint(s, b.key, victim.url);

    expectOk(await publish(s, a.key, 20), 202); // 40 deliveries, each answered after HOLD_MS
    await flood.waitFor(4);
    expectOk(await publish(s, b.key, 1), 202);
    const [arrived] = await victim.waitFor(1, 2 * HOLD_MS);
    // With a global FIFO the flood's 8 held requests took every slot: the victim's waited for one to end.
    expect(arrived!.at).toBeLessThan(flood.received[0]!.at + HOLD_MS);
    expect(flood.load.maxInFlight).toBe(4);
  });
});

describe("rows in the store behind another org's backlog", () => {
  // A memory of 20 deliveries: org A's 100 slow ones fill it and drain 4 at a time, one batch per
  // HOLD_MS (100 s in all), so anything loaded after them in due order is minutes late.
  const HOLD_MS = 4_000;
  const env = {
    WEBHOOKD_MAX_IN_MEMORY: "20",
    WEBHOOKD_CONCURRENCY: "8",
    WEBHOOKD_ORG_CONCURRENCY: "4",
    WEBHOOKD_ENDPOINT_CONCURRENCY: "4",
    WEBHOOKD_ATTEMPT_TIMEOUT: "30s",
    // 30.6 to 37.4 s with the jitter: always beyond the scheduler's 30 s window.
    WEBHOOKD_RETRY_SCHEDULE: "34s",
  };
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo();
  });

  test("another org's retry due beyond the window is sent when due, not after the backlog", async () => {
    const s = await startTestServer(env);
    cleanup.push(() => s.stop());
    const flood = startReceiver(() => ({ status: 200, delayMs: HOLD_MS }));
    const victim = startReceiver((_, i) => ({ status: i === 0 ? 500 : 200 }));
    cleanup.push(() => flood.stop(), () => victim.stop());
    const a = await s.newTenant();
    await endpoint(s, a.key, flood.url);
    const b = await s.newTenant();
    const victimEndpoint = await endpoint(s, b.key, victim.url);

    expectOk(await publish(s, a.key, 100), 202);
    await flood.waitFor(4);
    expectOk(await publish(s, b.key, 1), 202);
    await victim.waitFor(1);
    const retry = await eventually(async () => {
      const [d] = expectPage(await s.api("GET", `/api/v1/webhooks/${victimEndpoint}/deliveries`, { key: b.key })).data;
      return d?.attempts === 1 && d.nextAttemptAt ? Date.parse(d.nextAttemptAt) : 0;
    });
    expect(retry - Date.now()).toBeGreaterThan(29_000);

    const [, second] = await victim.waitFor(2, retry - Date.now() + 5_000);
    expect(second!.at).toBeGreaterThanOrEqual(retry - 20);
    expect(second!.at).toBeLessThan(retry + 1_500);
    expect(flood.received.length).toBeLessThan(100); // the backlog was still draining
  }, 60_000);

  test("after a restart, another org's rows due after the backlog are sent at once", async () => {
    const flood = startReceiver(() => ({ status: 200, delayMs: HOLD_MS }));
    const victim = startReceiver();
    cleanup.push(() => flood.stop(), () => victim.stop());
    const first = await startTestServer(env);
    cleanup.push(() => rmSync(first.dataDir, { recursive: true, force: true }));
    const a = await first.newTenant();
    const floodEndpoint = await endpoint(first, a.key, flood.url);
    const b = await first.newTenant();
    const victimEndpoint = await endpoint(first, b.key, victim.url);
    await first.app.stop();

    // What a stop leaves behind: A's 100 rows due over the last minute, then B's 5 due since.
    const store = await openStoreOf(first.dataDir);
    const now = Date.now();
    const rows = [
      ...Array.from({ length: 100 }, (_, i) => ({ orgId: a.orgId, endpointId: floodEndpoint, dueAt: now - 60_000 + i * 500 })),
      ...Array.from({ length: 5 }, (_, i) => ({ orgId: b.orgId, endpointId: victimEndpoint, dueAt: now - 5 + i })),
    ];
    await store.write(async (tx) => {
      for (const [i, r] of rows.entries()) {
        const eventId = newId("evt", now - 120_000 + i);
        await tx.events.insertIfNew({ id: eventId, orgId: r.orgId, type: "call.ended", body: webhookBody("call.ended", new Date(now).toISOString(), { i }), dedupeKey: null, isTest: false, createdAt: now });
        await tx.deliveries.insertMany([{ id: newId("dlv", now - 120_000 + i), orgId: r.orgId, eventId, endpointId: r.endpointId, eventType: "call.ended", dueAt: r.dueAt, createdAt: now }]);
      }
    });
    await store.close();

    const started = Date.now();
    const second = await startApp(testConfig(first.dataDir, env), { logger: silentLogger });
    cleanup.push(() => second.stop());
    await victim.waitFor(5, 3_000);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(flood.received.length).toBeLessThanOrEqual(8); // A's first attempts are still on the wire
  }, 30_000);
});

describe("replay, recover and test sends go through the dispatcher's limits, and stop with the endpoint", () => {
  let s: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_ENDPOINT_CONCURRENCY: "2", WEBHOOKD_RETRY_SCHEDULE: "", WEBHOOKD_DISABLE_AFTER: "0" });
    r = startReceiver();
  });
  afterAll(async () => {
    r.stop();
    await s.stop();
  });

  test("one recover per endpoint at a time (409 RECOVER_IN_PROGRESS), never more sends than failed deliveries, at most the endpoint's cap in flight", async () => {
    const { key } = await s.newTenant();
    const id = await endpoint(s, key, r.url);
    r.respond(() => ({ status: 500 }));
    await failedDeliveries(s, key, id, 30);
    r.respond(() => ({ status: 200, delayMs: 50 }));
    r.load.maxInFlight = 0;
    const sentBefore = r.received.length;
    const since = new Date(Date.now() - 60_000).toISOString();

    const answers = await Promise.all(Array.from({ length: 10 }, () => s.api("POST", `/api/v1/webhooks/${id}/recover`, { key, body: { since } })));
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted.map((a) => a.body.data)).toEqual([{ deliveries: 30 }]);
    for (const refused of answers.filter((a) => a.status !== 202)) expectError(refused, 409, "RECOVER_IN_PROGRESS");

    await eventually(async () => (await s.api("GET", `/api/v1/webhooks/${id}/deliveries?status=succeeded&limit=1`, { key })).body.pagination.total === 30);
    // Once it has finished, another recover is accepted (and finds nothing left to replay).
    await eventually(async () => (await s.api("POST", `/api/v1/webhooks/${id}/recover`, { key, body: { since } })).status === 202);
    expect(r.received.length - sentBefore).toBe(30);
    expect(r.load.maxInFlight).toBeLessThanOrEqual(2);
  });

  test("test sends and replays at once stay within the endpoint's cap", async () => {
    const { key } = await s.newTenant();
    const id = await endpoint(s, key, r.url);
    r.respond(() => ({ status: 500 }));
    await failedDeliveries(s, key, id, 5);
    const failed = (await s.api("GET", `/api/v1/webhooks/${id}/deliveries?status=failed`, { key })).body.data as Array<{ id: string }>;
    r.respond(() => ({ status: 200, delayMs: 100 }));
    r.load.maxInFlight = 0;
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, () => s.api("POST", `/api/v1/webhooks/${id}/test`, { key, body: { event: "call.ended" } })),
      ...failed.map((d) => s.api("POST", `/api/v1/webhooks/${id}/deliveries/${d.id}/replay`, { key })),
    ]);
    for (const answer of answers) expect(expectOk(answer)).toMatchObject({ success: true, statusCode: 200 });
    expect(r.load.maxInFlight).toBe(2);
  });

  test("a running recover sends nothing more once the endpoint is disabled, and replay, recover and test are refused", async () => {
    const { key } = await s.newTenant();
    const id = await endpoint(s, key, r.url);
    r.respond(() => ({ status: 500 }));
    await failedDeliveries(s, key, id, 40);
    r.respond(() => ({ status: 200, delayMs: 100 }));
    const sentBefore = r.received.length;
    const since = new Date(Date.now() - 60_000).toISOString();
    expect(expectOk(await s.api("POST", `/api/v1/webhooks/${id}/recover`, { key, body: { since } }), 202)).toEqual({ deliveries: 40 });
    await r.waitFor(sentBefore + 2);

    expectOk(await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { isActive: false } }));
    const atDisable = r.received.length;
    await Bun.sleep(1_000);
    // Only what was already on its way when the endpoint was disabled (at most its cap) may still arrive.
    expect(r.received.length - atDisable).toBeLessThanOrEqual(2);
    expect(r.received.length - sentBefore).toBeLessThan(10);

    const failed = (await s.api("GET", `/api/v1/webhooks/${id}/deliveries?status=failed&limit=1`, { key })).body.data[0];
    expectError(await s.api("POST", `/api/v1/webhooks/${id}/deliveries/${failed.id}/replay`, { key }), 422, "ENDPOINT_DISABLED");
    expectError(await s.api("POST", `/api/v1/webhooks/${id}/recover`, { key, body: { since } }), 422, "ENDPOINT_DISABLED");
    expectError(await s.api("POST", `/api/v1/webhooks/${id}/test`, { key, body: { event: "call.ended" } }), 422, "ENDPOINT_DISABLED");
    const stopped = r.received.length;
    await Bun.sleep(200);
    expect(r.received.length).toBe(stopped);
  });
});
