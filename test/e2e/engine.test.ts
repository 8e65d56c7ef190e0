/**
 * The delivery engine end to end: what goes on the wire, concurrency limits, retries and their
 * schedule, auto-disable, and delete. Real HTTP on loopback, short retry schedules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import crypto from "node:crypto";
import { VERSION } from "../../src/version.ts";
import { startTestServer, type TestServer, ON_SQLITE } from "../helpers/server.ts";
import { eventually, standardVerifies, startReceiver, type Received, type Receiver } from "../helpers/receiver.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

/** Seed 001's verification code, verbatim apart from types. */
function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  const expected = crypto.createHmac("sha256", secret).update(payload).digest("hex");
  const expectedSig = `sha256=${expected}`;
  return signature.length === expectedSig.length && crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSig));
}

/** Waits until exactly `n` requests arrived, and returns them. */
async function arrived(list: () => Received[], n: number): Promise<Received[]> {
  await eventually(() => list().length === n, 10_000);
  return list();
}

function gaps(list: Received[]): number[] {
  return list.slice(1).map((x, i) => x.at - list[i]!.at);
}

async function endpointOf(s: TestServer, key: string, id: string): Promise<any> {
  return expectOk(await s.api("GET", `/api/v1/webhooks/${id}`, { key }));
}

async function deliveryOf(s: TestServer, key: string, endpointId: string, eventId: string): Promise<any> {
  const log = expectOk(await s.api("GET", `/api/v1/events/${eventId}`, { key }));
  const brief = log.deliveries.find((d: any) => d.endpointId === endpointId);
  if (!brief) return null;
  return expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${brief.id}`, { key }));
}

describe("what is sent", () => {
  let s: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "100ms,1500ms" });
    r = startReceiver();
  });
  afterAll(async () => {
    r.stop();
    await s.stop();
  });

  async function setup(events = ["*"]) {
    const { key } = await s.newTenant();
    const path = `/sent/${crypto.randomUUID()}`;
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url + path, events } }), 201);
    return { key, ep, secret: ep.secret as string, arrivals: () => r.received.filter((x) => x.path === path), path };
  }

  test("the body is exactly {event, timestamp, data}; the headers carry both signature schemes", async () => {
    const t = await setup();
    const data = { id: "abc123", status: "ended", to: "+14155551234", nested: { list: [1, "two", null], unicode: "é✓" } };
    const pub = expectOk(await s.api("POST", "/api/v1/events", { key: t.key, body: { event: "call.ended", data } }), 202);
    const [got] = await arrived(t.arrivals, 1);
    expect(got!.body).toBe(JSON.stringify({ event: "call.ended", timestamp: pub.timestamp, data }));
    expect(Object.keys(JSON.parse(got!.body))).toEqual(["event", "timestamp", "data"]);
    const h = got!.headers;
    expect(h["content-type"]).toBe("application/json");
    expect(h["user-agent"]).toBe(`webhookd/${VERSION}`);
    expect(h["x-webhook-event"]).toBe("call.ended");
    expect(h["x-webhook-id"]).toBe(pub.id);
    expect(h["webhook-id"]).toBe(pub.id);
    expect(h["x-webhook-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    // Seed 001's handler verifies JSON.stringify(req.body): the same bytes.
    expect(verifyWebhookSignature(JSON.stringify(JSON.parse(got!.body)), h["x-webhook-signature"]!, t.secret)).toBe(true);
    expect(verifyWebhookSignature(got!.body, h["x-webhook-signature"]!, t.secret.replace(/.$/, "A"))).toBe(false);
    expect(h["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(Math.abs(Number(h["webhook-timestamp"]) - got!.at / 1000)).toBeLessThan(2);
    expect(standardVerifies(t.secret, got!)).toBe(true);
    expect(standardVerifies(t.secret, { ...got!, body: got!.body.replace("abc123", "abc124") })).toBe(false);
  });

  test("every retry sends the same bytes with the same webhook-id, and a fresh timestamp and signature", async () => {
    const t = await setup();
    r.respond((req) => (req.path === t.path && r.received.filter((x) => x.path === t.path).length <= 2 ? { status: 500 } : { status: 200 }));
    try {
      const pub = expectOk(await s.api("POST", "/api/v1/events", { key: t.key, body: { event: "contact.updated", data: { v: 1 } } }), 202);
      const three = await arrived(t.arrivals, 3);
      expect(new Set(three.map((x) => x.body)).size).toBe(1);
      expect(three.map((x) => x.headers["webhook-id"])).toEqual([pub.id, pub.id, pub.id]);
      expect(new Set(three.map((x) => x.headers["x-webhook-signature"])).size).toBe(1); // HMAC of the body alone
      // The second retry came >= 1.35 s after the first: another second, so another timestamp and signature.
      expect(Number(three[2]!.headers["webhook-timestamp"])).toBeGreaterThan(Number(three[1]!.headers["webhook-timestamp"]));
      expect(three[2]!.headers["webhook-signature"]).not.toBe(three[1]!.headers["webhook-signature"]);
      for (const got of three) expect(standardVerifies(t.secret, got)).toBe(true);
      const event = expectOk(await s.api("GET", `/api/v1/events/${pub.id}`, { key: t.key }));
      expect(event.payload).toBe(three[0]!.body);
    } finally {
      r.respond(() => ({ status: 200 }));
    }
  });

  test("during a rotation grace period both secrets verify (X-Webhook-Signature with the old one); after a rotation without grace only the new one", async () => {
    const t = await setup();
    const old = t.secret;
    const graced = expectOk(await s.api("POST", `/api/v1/webhooks/${t.ep.id}/rotate-secret`, { key: t.key, body: { gracePeriodSeconds: 60 } }));
    expect(graced.secret).not.toBe(old);
    expectOk(await s.api("POST", "/api/v1/events", { key: t.key, body: { event: "call.ended", data: { n: 1 } } }), 202);
    const [during] = await arrived(t.arrivals, 1);
    const entries = during!.headers["webhook-signature"]!.split(" ");
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.startsWith("v1,"))).toBe(true);
    expect(standardVerifies(graced.secret, during!)).toBe(true);
    expect(standardVerifies(old, during!)).toBe(true);
    // Seed 001's snippet, on the secret the receiver already has, keeps verifying through the grace period.
    expect(verifyWebhookSignature(JSON.stringify(JSON.parse(during!.body)), during!.headers["x-webhook-signature"]!, old)).toBe(true);
    expect(verifyWebhookSignature(during!.body, during!.headers["x-webhook-signature"]!, graced.secret)).toBe(false);

    const hard = expectOk(await s.api("POST", `/api/v1/webhooks/${t.ep.id}/rotate-secret`, { key: t.key }));
    expectOk(await s.api("POST", "/api/v1/events", { key: t.key, body: { event: "call.ended", data: { n: 2 } } }), 202);
    const after = (await arrived(t.arrivals, 2))[1]!;
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(standardVerifies(hard.secret, after)).toBe(true);
    expect(standardVerifies(graced.secret, after)).toBe(false);
    expect(standardVerifies(old, after)).toBe(false);
    expect(verifyWebhookSignature(after.body, after.headers["x-webhook-signature"]!, hard.secret)).toBe(true);
    expect(verifyWebhookSignature(after.body, after.headers["x-webhook-signature"]!, graced.secret)).toBe(false);
  });
});

/** A receiver that answers after `delayMs` and counts requests in progress, per path and in all. */
function countingReceiver(delayFor: (path: string) => number) {
  let active = 0;
  let maxActive = 0;
  const activeByPath = new Map<string, number>();
  const maxByPath = new Map<string, number>();
  const received: Received[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      received.push({ at: Date.now(), path, headers: Object.fromEntries(req.headers), body: await req.text() });
      active++;
      maxActive = Math.max(maxActive, active);
      activeByPath.set(path, (activeByPath.get(path) ?? 0) + 1);
      maxByPath.set(path, Math.max(maxByPath.get(path) ?? 0, activeByPath.get(path)!));
      await Bun.sleep(delayFor(path));
      active--;
      activeByPath.set(path, activeByPath.get(path)! - 1);
      return new Response("ok");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    get maxActive() {
      return maxActive;
    },
    maxByPath,
    stop: () => server.stop(true),
  };
}

describe("concurrency", () => {
  test("WEBHOOKD_CONCURRENCY=2: never more than 2 requests in flight, across endpoints", async () => {
    const s = await startTestServer({ WEBHOOKD_CONCURRENCY: "2" });
    const recv = countingReceiver(() => 250);
    try {
      const { key } = await s.newTenant();
      for (const name of ["a", "b", "c"]) {
        expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${recv.url}/${name}` } }), 201);
      }
      const events = [1, 2].map((n) => ({ event: "call.ended", data: { n } }));
      expect(expectOk(await s.api("POST", "/api/v1/events/batch", { key, body: { events } }), 202).map((x: any) => x.deliveries)).toEqual([3, 3]);
      await eventually(() => recv.received.length === 6, 10_000);
      await eventually(async () => {
        const metrics = (await s.api("GET", "/metrics")).body as string;
        return /^webhookd_due_queue_depth 0$/m.test(metrics);
      });
      expect(recv.maxActive).toBe(2);
    } finally {
      recv.stop();
      await s.stop();
    }
  });

  test("WEBHOOKD_ENDPOINT_CONCURRENCY=1: a slow endpoint's backlog does not hold up another endpoint", async () => {
    const s = await startTestServer({ WEBHOOKD_CONCURRENCY: "2", WEBHOOKD_ENDPOINT_CONCURRENCY: "1" });
    const recv = countingReceiver((path) => (path === "/slow" ? 400 : 0));
    try {
      const { key } = await s.newTenant();
      expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${recv.url}/slow`, events: ["call.ended"] } }), 201);
      expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${recv.url}/fast`, events: ["contact.created"] } }), 201);
      const slowEvents = Array.from({ length: 5 }, (_, n) => ({ event: "call.ended", data: { n } }));
      expectOk(await s.api("POST", "/api/v1/events/batch", { key, body: { events: slowEvents } }), 202);
      expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "contact.created", data: {} } }), 202);
      await eventually(() => recv.received.some((x) => x.path === "/fast"));
      // The fast delivery arrived while most of the slow endpoint's deliveries were still queued.
      const slowBefore = recv.received.findIndex((x) => x.path === "/fast");
      expect(slowBefore).toBeLessThanOrEqual(2);
      await eventually(() => recv.received.filter((x) => x.path === "/slow").length === 5, 10_000);
      expect(recv.maxByPath.get("/slow")).toBe(1);
    } finally {
      recv.stop();
      await s.stop();
    }
  });
});

describe("retries", () => {
  let s: TestServer;
  let key: string;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "100ms,200ms", WEBHOOKD_ATTEMPT_TIMEOUT: "200ms", WEBHOOKD_DISABLE_AFTER: "0" });
    key = (await s.newTenant()).key;
  });
  afterAll(async () => {
    await s.stop();
  });

  async function endpointTo(url: string) {
    return expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url, events: ["call.ended"] } }), 201).id as string;
  }

  /** Publishes to this endpoint alone (it is the only call.ended subscriber while the test runs). */
  async function publishOne(): Promise<string> {
    return expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { at: Date.now() } } }), 202).id;
  }

  async function finished(endpointId: string, eventId: string) {
    return eventually(async () => {
      const d = await deliveryOf(s, key, endpointId, eventId);
      return d && d.status !== "pending" ? d : null;
    }, 10_000);
  }

  async function remove(id: string) {
    expect((await s.api("DELETE", `/api/v1/webhooks/${id}`, { key })).status).toBe(204);
  }

  test("a non-2xx is retried on schedule, then the delivery fails", async () => {
    const recv = startReceiver(() => ({ status: 500, body: "broken" }));
    const id = await endpointTo(recv.url);
    try {
      const eventId = await publishOne();
      const three = await recv.waitFor(3);
      const [g1, g2] = gaps(three);
      expect(g1!).toBeGreaterThanOrEqual(100 * 0.9 - 5);
      expect(g2!).toBeGreaterThanOrEqual(200 * 0.9 - 5);
      const d = await finished(id, eventId);
      expect(d).toMatchObject({ status: "failed", success: false, attempts: 3, statusCode: 500, error: { code: "http_status", message: "HTTP 500" }, nextAttemptAt: null });
      expect(d.attemptLog.map((a: any) => [a.attempt, a.trigger, a.statusCode])).toEqual([
        [1, "scheduled", 500],
        [2, "scheduled", 500],
        [3, "scheduled", 500],
      ]);
      await Bun.sleep(300);
      expect(recv.received).toHaveLength(3);
    } finally {
      await remove(id);
      recv.stop();
    }
  });

  test("a timeout is a failed attempt; the next one waits the delay after it", async () => {
    const recv = startReceiver(() => ({ status: 200, delayMs: 1_000 }));
    const id = await endpointTo(recv.url);
    try {
      const eventId = await publishOne();
      const d = await finished(id, eventId);
      expect(d).toMatchObject({ status: "failed", attempts: 3, statusCode: null, response: null, error: { code: "timeout" } });
      expect(d.attemptLog.every((a: any) => a.error?.code === "timeout" && a.durationMs >= 190)).toBe(true);
      const [g1, g2] = gaps(recv.received.slice(0, 3));
      // 200 ms of timeout, then the scheduled delay (jitter at most -10%); 40 ms of slack for the
      // time the first request took to arrive. Counting the delay from the start would give ~200 ms.
      expect(g1!).toBeGreaterThanOrEqual(200 + 100 * 0.9 - 40);
      expect(g2!).toBeGreaterThanOrEqual(200 + 200 * 0.9 - 40);
    } finally {
      await remove(id);
      recv.stop();
    }
  });

  test("a refused connection is a failed attempt", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const url = `http://127.0.0.1:${closed.port}/gone`;
    closed.stop(true);
    const id = await endpointTo(url);
    try {
      const eventId = await publishOne();
      const d = await finished(id, eventId);
      expect(d).toMatchObject({ status: "failed", attempts: 3, statusCode: null, response: null, error: { code: "connection_refused" } });
    } finally {
      await remove(id);
    }
  });

  test("429 and 503 with Retry-After: 1 push the next attempt back by a second, beyond a 100 ms schedule", async () => {
    const recv = startReceiver((_, i) => (i === 0 ? { status: 503, headers: { "retry-after": "1" } } : i === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }));
    const id = await endpointTo(recv.url);
    try {
      const eventId = await publishOne();
      const three = await recv.waitFor(3, 10_000);
      const [g1, g2] = gaps(three);
      expect(g1!).toBeGreaterThanOrEqual(1_000 - 5);
      expect(g2!).toBeGreaterThanOrEqual(1_000 - 5);
      expect((await finished(id, eventId)).status).toBe("succeeded");
      // Seconds apart, so fresh webhook-timestamps and signatures over the same body.
      expect(new Set(three.map((x) => x.headers["webhook-timestamp"])).size).toBe(3);
      expect(new Set(three.map((x) => x.body)).size).toBe(1);
    } finally {
      await remove(id);
      recv.stop();
    }
  });

  test("a 3xx is a failure with error code redirect, and is never followed", async () => {
    const target = startReceiver();
    const recv = startReceiver(() => ({ status: 302, headers: { location: `${target.url}/elsewhere` } }));
    const id = await endpointTo(recv.url);
    try {
      const eventId = await publishOne();
      const d = await finished(id, eventId);
      expect(d).toMatchObject({ status: "failed", attempts: 3, statusCode: 302, error: { code: "redirect" } });
      expect(d.error.message).toContain(`${target.url}/elsewhere`);
      expect(recv.received).toHaveLength(3);
      expect(target.received).toHaveLength(0);
    } finally {
      await remove(id);
      recv.stop();
      target.stop();
    }
  });
});

describe("auto-disable", () => {
  let s: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "50ms", WEBHOOKD_DISABLE_AFTER: "3" });
    // The event's data says how to answer.
    r = startReceiver((req) => {
      const kind = JSON.parse(req.body).data.kind;
      if (kind === "ok") return { status: 200 };
      if (kind === "later") return { status: 503, headers: { "retry-after": "30" } };
      return { status: 500 };
    });
  });
  afterAll(async () => {
    r.stop();
    await s.stop();
  });

  test("counts exhausted deliveries, resets on success, disables at the limit, cancels pending deliveries, which stay replayable once it is enabled again", async () => {
    const { key } = await s.newTenant();
    const id = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url } }), 201).id;
    const publish = async (kind: string) => expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { kind } } }), 202);
    const waitEndpoint = (check: (e: any) => boolean) =>
      eventually(async () => {
        const e = await endpointOf(s, key, id);
        return check(e) ? e : null;
      });

    expect((await endpointOf(s, key, id)).lastTriggeredAt).toBeNull();
    await publish("fail");
    const one = await waitEndpoint((e) => e.failureCount === 1);
    expect(one).toMatchObject({ consecutiveFailures: 1, isActive: true, status: "enabled" });
    expect(one.lastTriggeredAt).toBeString();

    const okEvent = await publish("ok");
    await eventually(async () => (await deliveryOf(s, key, id, okEvent.id))?.status === "succeeded");
    expect(await endpointOf(s, key, id)).toMatchObject({ consecutiveFailures: 0, failureCount: 1 });

    // A delivery waiting for its retry (Retry-After: 30) when the endpoint gets disabled.
    const waiting = await publish("later");
    const pending = await eventually(async () => {
      const d = await deliveryOf(s, key, id, waiting.id);
      return d?.attempts === 1 ? d : null;
    });
    expect(pending.status).toBe("pending");
    expect(pending.nextAttemptAt).toBeString();

    for (const n of [1, 2]) {
      await publish("fail");
      await waitEndpoint((e) => e.consecutiveFailures === n);
    }
    await publish("fail");
    const disabled = await waitEndpoint((e) => e.status === "disabled");
    expect(disabled).toMatchObject({ isActive: false, status: "disabled", disabledReason: "too_many_failures", consecutiveFailures: 3, failureCount: 4 });
    expect(Date.parse(disabled.disabledAt)).toBeGreaterThan(Date.now() - 60_000);

    const metrics = (await s.api("GET", "/metrics")).body as string;
    expect(metrics).toContain('webhookd_deliveries_total{outcome="cancelled"} 1\n');
    expect(metrics).toContain('webhookd_deliveries_total{outcome="failed"} 4\n');
    const cancelled = await deliveryOf(s, key, id, waiting.id);
    expect(cancelled).toMatchObject({ status: "cancelled", success: false, attempts: 1, nextAttemptAt: null });
    const cancelledLog = await s.api("GET", `/api/v1/webhooks/${id}/deliveries?status=cancelled`, { key });
    expect(cancelledLog.status).toBe(200);
    expect(cancelledLog.body.data.map((d: any) => d.id)).toEqual([cancelled.id]);
    const unsuccessful = await s.api("GET", `/api/v1/webhooks/${id}/deliveries?success=false`, { key });
    expect(unsuccessful.body.data.map((d: any) => d.status).sort()).toEqual(["cancelled", "failed", "failed", "failed", "failed"]);

    // Published while disabled: not sent to it.
    const during = await publish("ok");
    expect(during.deliveries).toBe(0);
    const before = r.received.length;
    await Bun.sleep(200);
    expect(r.received.length).toBe(before);

    // Disabled, it gets no replay either.
    expectError(await s.api("POST", `/api/v1/webhooks/${id}/deliveries/${cancelled.id}/replay`, { key }), 422, "ENDPOINT_DISABLED");
    // Re-enabling resets the run.
    const enabled = expectOk(await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { isActive: true } }));
    expect(enabled).toMatchObject({ isActive: true, status: "enabled", disabledReason: null, disabledAt: null, consecutiveFailures: 0, failureCount: 4 });

    // The cancelled delivery stays replayable; the replay does not change attempts.
    const replay = expectOk(await s.api("POST", `/api/v1/webhooks/${id}/deliveries/${cancelled.id}/replay`, { key }));
    expect(replay).toMatchObject({ deliveryId: cancelled.id, success: false, statusCode: 503 });
    expect(await deliveryOf(s, key, id, waiting.id)).toMatchObject({ status: "cancelled", attempts: 1 });
    // With a healthy answer the replay succeeds and ends the delivery.
    r.respond(() => ({ status: 200 }));
    try {
      const again = expectOk(await s.api("POST", `/api/v1/webhooks/${id}/deliveries/${cancelled.id}/replay`, { key }));
      expect(again).toMatchObject({ success: true, statusCode: 200 });
      expect(await deliveryOf(s, key, id, waiting.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    } finally {
      r.respond((req) => {
        const kind = JSON.parse(req.body).data.kind;
        return kind === "ok" ? { status: 200 } : kind === "later" ? { status: 503, headers: { "retry-after": "30" } } : { status: 500 };
      });
    }
  });
});

describe("delete", () => {
  test("DELETE cancels pending deliveries at once; nothing reaches the receiver after the 204; the logs stay", async () => {
    const s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "1s" });
    const recv = startReceiver(() => ({ status: 500 }));
    try {
      const { key } = await s.newTenant();
      const id = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: recv.url } }), 201).id;
      const pub = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
      const pending = await eventually(async () => {
        const d = await deliveryOf(s, key, id, pub.id);
        return d?.attempts === 1 ? d : null;
      });
      expect(pending.status).toBe("pending");
      const deleted = await s.api("DELETE", `/api/v1/webhooks/${id}`, { key });
      expect(deleted.status).toBe(204);
      const seen = recv.received.length;
      expect(seen).toBe(1);
      // Past the retry's due time (1 s + 10% jitter from the first failure).
      await Bun.sleep(1_500);
      expect(recv.received.length).toBe(seen);
      // The log stays readable (seed 002), showing the delivery cancelled.
      const log = await s.api("GET", `/api/v1/webhooks/${id}/deliveries`, { key });
      expect(log.body.data.map((d: any) => [d.id, d.status])).toEqual([[pending.id, "cancelled"]]);
      // The rows stay until retention: the delivery (cancelled), its attempt, the endpoint tombstone.
      const { store } = s.app.services;
      expect(await store.deliveries.get(id, pending.id)).toMatchObject({ status: "cancelled", attempts: 1 });
      expect(await store.attempts.latestForDelivery(pending.id, 10)).toHaveLength(1);
      const tombstone = (await store.endpoints.getById(id))!;
      expect(tombstone.enabled).toBe(false);
      expect(tombstone.deletedAt).toBeNumber();
    } finally {
      recv.stop();
      await s.stop();
    }
  });

  // The same group commit is SQLite's; on PostgreSQL each write is a transaction of its own.
  test.skipIf(!ON_SQLITE)("a publish committed after a DELETE or a disable, even in the same group commit, does not fan out to that endpoint", async () => {
    const s = await startTestServer();
    try {
      const { orgId, key } = await s.newTenant();
      const { store, events } = s.app.services;
      const gone = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "http://127.0.0.1:9/gone" } }), 201).id;
      const off = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "http://127.0.0.1:9/off" } }), 201).id;
      const kept = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "http://127.0.0.1:9/kept" } }), 201).id;
      // Warm the fan-out cache, then queue the changes and a publish in one tick: one transaction, in this order.
      expect((await events.publish(orgId, { event: "call.ended", data: {} })).deliveries).toBe(3);
      const now = Date.now();
      const changes = [
        store.write((tx) => tx.endpoints.update(orgId, gone, { deletedAt: now, updatedAt: now, enabled: false })),
        store.write((tx) => tx.endpoints.update(orgId, off, { enabled: false, disabledReason: "manual", disabledAt: now })),
      ];
      const published = events.publish(orgId, { event: "call.ended", data: {} });
      await Promise.all(changes);
      const after = await published;
      expect(after.deliveries).toBe(1);
      const targets = expectOk(await s.api("GET", `/api/v1/events/${after.id}`, { key })).deliveries.map((d: { endpointId: string }) => d.endpointId);
      expect(targets).toEqual([kept]);
    } finally {
      await s.stop();
    }
  });
});
