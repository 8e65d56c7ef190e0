/**
 * Retention with an injected manual clock: the server runs in real time for HTTP, but every
 * timestamp it stores and the sweeper's cutoff come from the clock the test moves by days.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { queryDatabase, startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Never during a test run: the sweeps here are the test's own. */
const NO_CRON = "0 0 1 1 *";

let r: Receiver;
beforeAll(() => {
  r = startReceiver((req) => (req.path === "/fail" ? { status: 500 } : { status: 200 }));
});
afterAll(() => r.stop());

/** Rows straight from the server's database, either backend (PostgreSQL's int8 comes back as text: numbers made numbers). */
async function rows(s: TestServer, sql: string): Promise<any[]> {
  const numeric = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v);
  return (await queryDatabase<Record<string, unknown>>(s.config, sql)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, numeric(v)])));
}

async function deliveriesOf(s: TestServer, key: string, eventId: string): Promise<any[]> {
  return expectOk(await s.api("GET", `/api/v1/events/${eventId}`, { key })).deliveries;
}

describe("retention sweep", () => {
  let s: TestServer;
  const clock = manualClock(Date.now());
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "1h,1h,1h,1h,1h,1h", WEBHOOKD_RETENTION_CRON: NO_CRON }, { clock });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("after the window: old attempts, finished deliveries, events and deleted endpoints go; pending work stays; idempotency records go after 24 h, portal sessions once they end", async () => {
    const T0 = clock();
    const { key } = await s.newTenant();
    const make = async (path: string, events: string[]) => expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url + path, events } }), 201).id as string;
    const ok = await make("/ok", ["call.ended", "contact.created"]);
    const fail = await make("/fail", ["call.ended"]);
    const gone = await make("/gone", ["call.ended"]);
    // A portal session that lasts a week: it outlives the first sweep, not the second.
    expectOk(await s.api("POST", "/api/v1/portal/sessions", { key, body: { expiresInSeconds: 7 * 86_400 } }), 201);

    const e0 = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "contact.deleted", data: {} } }), 202);
    expect(e0.deliveries).toBe(0);
    const e1 = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} }, headers: { "idempotency-key": "old-key" } }), 202);
    expect(e1.deliveries).toBe(3);
    const d1 = await eventually(async () => {
      const ds = await deliveriesOf(s, key, e1.id);
      const by = Object.fromEntries(ds.map((d) => [d.endpointId, d]));
      return by[ok]?.status === "succeeded" && by[gone]?.status === "succeeded" && by[fail]?.attempts === 1 ? by : null;
    });
    expect(d1[fail].status).toBe("pending");
    expect(Date.parse(d1[ok].lastAttemptAt)).toBe(T0); // stored times come from the injected clock
    expect((await s.api("DELETE", `/api/v1/webhooks/${gone}`, { key })).status).toBe(204);

    // A day and an hour later: the failing delivery's retry runs, a new event comes in.
    clock.advance(25 * HOUR);
    const T1 = clock();
    await eventually(async () => (await deliveriesOf(s, key, e1.id)).find((d) => d.endpointId === fail)?.attempts === 2);
    const e2 = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "contact.created", data: {} }, headers: { "idempotency-key": "new-key" } }), 202);
    await eventually(async () => (await deliveriesOf(s, key, e2.id))[0]?.status === "succeeded");

    const early = await s.app.services.sweeper.runOnce();
    expect(early).toEqual({ attempts: 0, deliveries: 0, events: 0, endpoints: 0, idempotencyRecords: 1, portalSessions: 0 });
    expect((await rows(s, "SELECT key FROM idempotency_records")).map((x) => x.key)).toEqual(["new-key"]);

    // 31 days after T0. The sweep runs before any timer can fire another retry.
    clock.set(T0 + 31 * DAY);
    const deleted = await s.app.services.sweeper.runOnce();
    expect(deleted).toEqual({ attempts: 3, deliveries: 2, events: 1, endpoints: 1, idempotencyRecords: 1, portalSessions: 1 });

    const deliveries = await rows(s, `SELECT endpoint_id AS "endpointId", event_id AS "eventId", status FROM deliveries ORDER BY id`);
    expect(deliveries).toEqual([
      { endpointId: fail, eventId: e1.id, status: "pending" },
      { endpointId: ok, eventId: e2.id, status: "succeeded" },
    ]);
    const attempts = await rows(s, `SELECT endpoint_id AS "endpointId", created_at AS "createdAt" FROM attempts ORDER BY id`);
    expect(attempts).toEqual([
      { endpointId: fail, createdAt: T1 },
      { endpointId: ok, createdAt: T1 },
    ]);
    expect((await rows(s, "SELECT id FROM events ORDER BY id")).map((x) => x.id)).toEqual([e1.id, e2.id]);
    expect((await rows(s, "SELECT id FROM endpoints ORDER BY id")).map((x) => x.id)).toEqual([ok, fail].sort());
    expect(await rows(s, "SELECT key FROM idempotency_records")).toEqual([]);
    expect(await rows(s, "SELECT count(*) AS n FROM portal_sessions")).toEqual([{ n: 0 }]);
    // The API still reads what is left.
    expect((await deliveriesOf(s, key, e1.id)).map((d) => d.endpointId)).toEqual([fail]);
  });
});

describe("WEBHOOKD_RETENTION_DAYS", () => {
  test("sets the window", async () => {
    const clock = manualClock(Date.now());
    const s = await startTestServer({ WEBHOOKD_RETENTION_DAYS: "2", WEBHOOKD_RETENTION_CRON: NO_CRON }, { clock });
    try {
      const { key } = await s.newTenant();
      expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/ok` } }), 201);
      const pub = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
      await eventually(async () => (await deliveriesOf(s, key, pub.id))[0]?.status === "succeeded");
      clock.advance(2 * DAY - 1);
      expect(await s.app.services.sweeper.runOnce()).toEqual({ attempts: 0, deliveries: 0, events: 0, endpoints: 0, idempotencyRecords: 0, portalSessions: 0 });
      clock.advance(2);
      expect(await s.app.services.sweeper.runOnce()).toEqual({ attempts: 1, deliveries: 1, events: 1, endpoints: 0, idempotencyRecords: 0, portalSessions: 0 });
      expect(await rows(s, "SELECT count(*) AS n FROM events")).toEqual([{ n: 0 }]);
    } finally {
      await s.stop();
    }
  });
});
