/**
 * Stop and start again on the same data dir: a graceful stop waits for the attempt in flight and
 * records it; whatever was not sent is delivered after the restart with the same webhook-id, as
 * is a pending row left behind by a crash.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { startApp, type RunningApp } from "../../src/app.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { newId } from "../../src/lib/ids.ts";
import { webhookBody } from "../../src/lib/webhook-body.ts";
import { makeClient, openStoreOf, startTestServer, testConfig, type ApiClient } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";

/** The same settings as startTestServer, on an existing data dir. */
async function startOn(dataDir: string, env: Record<string, string> = {}): Promise<{ app: RunningApp; api: ApiClient }> {
  const app = await startApp(testConfig(dataDir, env), { logger: silentLogger });
  return { app, api: makeClient(app.url) };
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) await undo();
});

describe("graceful stop and restart", () => {
  test("stop() waits for the attempt in flight and records it; what never started is sent after the restart", async () => {
    const recv: Receiver = startReceiver(() => ({ status: 200, delayMs: 2_000 }));
    cleanup.push(() => recv.stop());
    const env = { WEBHOOKD_ENDPOINT_CONCURRENCY: "1" };
    const first = await startTestServer(env);
    cleanup.push(() => rmSync(first.dataDir, { recursive: true, force: true }));
    const { key } = await first.newTenant();
    const ep = expectOk(await first.api("POST", "/api/v1/webhooks", { key, body: { url: recv.url } }), 201);
    const [e1, e2] = expectOk(
      await first.api("POST", "/api/v1/events/batch", { key, body: { events: [1, 2].map((n) => ({ event: "call.ended", data: { n } })) } }),
      202,
    );
    await recv.waitFor(1);
    expect(recv.received[0]!.headers["webhook-id"]).toBe(e1.id);

    const stopping = Date.now();
    await first.app.stop();
    const tookMs = Date.now() - stopping;
    // The receiver holds each request 2 s: stop() waited for it rather than cutting it off.
    expect(tookMs).toBeGreaterThanOrEqual(1_500);
    // The second delivery was waiting behind the first (one at a time per endpoint) and was not started.
    await Bun.sleep(100);
    expect(recv.received).toHaveLength(1);

    recv.respond(() => ({ status: 200 }));
    const second = await startOn(first.dataDir, env);
    cleanup.push(() => second.app.stop());
    await recv.waitFor(2);
    expect(recv.received[1]!.headers["webhook-id"]).toBe(e2.id);
    expect(recv.received[1]!.body).toBe(expectOk(await second.api("GET", `/api/v1/events/${e2.id}`, { key })).payload);

    // The first one was recorded before the stop: succeeded, one attempt of about 2 s, never sent again.
    const d1 = expectOk(await second.api("GET", `/api/v1/events/${e1.id}`, { key })).deliveries[0];
    expect(d1).toMatchObject({ status: "succeeded", attempts: 1, statusCode: 200 });
    const detail = expectOk(await second.api("GET", `/api/v1/webhooks/${ep.id}/deliveries/${d1.id}`, { key }));
    expect(detail.attemptLog).toHaveLength(1);
    expect(detail.attemptLog[0].durationMs).toBeGreaterThanOrEqual(1_900);
    await eventually(async () => expectOk(await second.api("GET", `/api/v1/events/${e2.id}`, { key })).deliveries[0].status === "succeeded");
    await Bun.sleep(200);
    expect(recv.received).toHaveLength(2);
  });

  test("a retry waiting at stop is delivered after the restart, same webhook-id, counting on", async () => {
    const recv = startReceiver((_, i) => (i === 0 ? { status: 500 } : { status: 200 }));
    cleanup.push(() => recv.stop());
    const env = { WEBHOOKD_RETRY_SCHEDULE: "1500ms" };
    const first = await startTestServer(env);
    cleanup.push(() => rmSync(first.dataDir, { recursive: true, force: true }));
    const { key } = await first.newTenant();
    expectOk(await first.api("POST", "/api/v1/webhooks", { key, body: { url: recv.url } }), 201);
    const pub = expectOk(await first.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
    await eventually(async () => expectOk(await first.api("GET", `/api/v1/events/${pub.id}`, { key })).deliveries[0].attempts === 1);
    await first.app.stop();

    const second = await startOn(first.dataDir, env);
    cleanup.push(() => second.app.stop());
    await recv.waitFor(2, 10_000);
    expect(recv.received.map((x) => x.headers["webhook-id"])).toEqual([pub.id, pub.id]);
    expect(recv.received[1]!.at - recv.received[0]!.at).toBeGreaterThanOrEqual(1_500 * 0.9 - 5);
    await eventually(async () => expectOk(await second.api("GET", `/api/v1/events/${pub.id}`, { key })).deliveries[0].status === "succeeded");
    expect(expectOk(await second.api("GET", `/api/v1/events/${pub.id}`, { key })).deliveries[0].attempts).toBe(2);
  });
});

describe("crash recovery", () => {
  test("a pending delivery left in the store, due in the past, is delivered at the next start with its webhook-id", async () => {
    const recv = startReceiver();
    cleanup.push(() => recv.stop());
    const first = await startTestServer();
    cleanup.push(() => rmSync(first.dataDir, { recursive: true, force: true }));
    const { key, orgId } = await first.newTenant();
    const ep = expectOk(await first.api("POST", "/api/v1/webhooks", { key, body: { url: recv.url } }), 201);

    await first.app.stop();

    // What a crash mid-attempt leaves behind: the rows of an accepted event, still pending, already
    // due (its attempt never recorded). Written while no server runs, as the dead process left them.
    const store = await openStoreOf(first.dataDir);
    const now = Date.now();
    const created = now - 120_000;
    const eventId = newId("evt", created);
    const body = webhookBody("call.ended", new Date(created).toISOString(), { recovered: true });
    const deliveryId = newId("dlv", created);
    await store.write(async (tx) => {
      await tx.events.insertIfNew({ id: eventId, orgId, type: "call.ended", body, dedupeKey: null, isTest: false, createdAt: created });
      await tx.deliveries.insertMany([{ id: deliveryId, orgId, eventId, endpointId: ep.id, eventType: "call.ended", dueAt: now - 60_000, createdAt: created }]);
    });
    await store.close();
    expect(recv.received).toHaveLength(0);

    const second = await startOn(first.dataDir);
    cleanup.push(() => second.app.stop());
    const [got] = await recv.waitFor(1);
    expect(got!.headers["webhook-id"]).toBe(eventId);
    expect(got!.body).toBe(body);
    const d = await eventually(async () => {
      const row = expectOk(await second.api("GET", `/api/v1/webhooks/${ep.id}/deliveries/${deliveryId}`, { key }));
      return row.status === "succeeded" ? row : null;
    });
    expect(d).toMatchObject({ attempts: 1, statusCode: 200 });
  });
});
