/**
 * Failing receivers: every way a receiver can fail (5xx, 429/503 with Retry-After, timeouts,
 * resets mid-response, endless and huge bodies, a bad certificate, redirects). Each delivery must
 * end exactly as the retry policy says (schedule length + 1 attempts, then failed, with the
 * right error code on every attempt), the endpoint counters must be exact, and the server's
 * memory must stay flat while it reads from receivers that never stop sending.
 *
 * WEBHOOKD_SOAK=1 sends 1000 deliveries (instead of 200) to the endless/100 MB receivers.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "node:net";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";
import { selfSignedCert } from "../helpers/tls.ts";
import { startRawServer, type RawServer } from "../helpers/hostile.ts";

const SOAK = process.env.WEBHOOKD_SOAK === "1";
setDefaultTimeout(30_000);

/** Two retries: every failing delivery makes exactly 3 attempts. */
const SCHEDULE = [50, 100];
const ATTEMPTS = SCHEDULE.length + 1;
const ATTEMPT_TIMEOUT_MS = 500;

let s: TestServer;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  s = await startTestServer({
    WEBHOOKD_RETRY_SCHEDULE: SCHEDULE.map((ms) => `${ms}ms`).join(","),
    WEBHOOKD_ATTEMPT_TIMEOUT: `${ATTEMPT_TIMEOUT_MS}ms`,
    WEBHOOKD_DISABLE_AFTER: "0",
  });
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await s.stop();
});

async function rawServer(behave: (socket: Socket, head: string) => void): Promise<RawServer> {
  const server = await startRawServer(behave);
  cleanups.push(() => server.close());
  return server;
}

/** A tenant with one endpoint at `url`; publishes `n` events to it. */
async function endpointWithEvents(url: string, n: number): Promise<{ key: string; endpointId: string; eventIds: string[] }> {
  const { key } = await s.newTenant();
  const endpointId = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url } }), 201).id as string;
  const eventIds: string[] = [];
  for (let i = 0; i < n; i++) {
    const pub = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { i } } }), 202);
    expect(pub.deliveries).toBe(1);
    eventIds.push(pub.id);
  }
  return { key, endpointId, eventIds };
}

/** Waits until `n` deliveries of the endpoint are finished and returns them with their attempt logs. */
async function finished(key: string, endpointId: string, n: number, timeoutMs = 20_000): Promise<any[]> {
  const list = await eventually(async () => {
    const res = await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries?limit=100`, { key });
    const rows = res.body.data as any[];
    return rows.length === n && rows.every((d) => d.status !== "pending") ? rows : null;
  }, timeoutMs);
  return Promise.all(list!.map(async (d) => expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${d.id}`, { key }))));
}

async function endpoint(key: string, endpointId: string): Promise<any> {
  return expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}`, { key }));
}

/** The retry policy's verdict on an always-failing receiver, checked delivery by delivery. */
async function expectExhausted(key: string, endpointId: string, n: number, code: string, statusCode: number | null = null): Promise<any[]> {
  const deliveries = await finished(key, endpointId, n);
  for (const d of deliveries) {
    expect(d).toMatchObject({ status: "failed", success: false, attempts: ATTEMPTS, nextAttemptAt: null, error: { code } });
    expect(d.attemptLog.map((a: any) => [a.attempt, a.trigger, a.error?.code, a.statusCode])).toEqual(
      Array.from({ length: ATTEMPTS }, (_, i) => [i + 1, "scheduled", code, statusCode]),
    );
  }
  const ep = await endpoint(key, endpointId);
  expect(ep).toMatchObject({ consecutiveFailures: n, failureCount: n, isActive: true, status: "enabled" });
  return deliveries;
}

describe("each failure ends as the retry policy says, with exact counters", () => {
  test("500: http_status on every attempt", async () => {
    const r = startReceiver(() => ({ status: 500, body: "boom" }));
    cleanups.push(() => r.stop());
    const { key, endpointId } = await endpointWithEvents(r.url, 3);
    const deliveries = await expectExhausted(key, endpointId, 3, "http_status", 500);
    expect(deliveries[0].attemptLog[0].response).toMatchObject({ status: 500, body: "boom" });
    expect(r.received.length).toBe(3 * ATTEMPTS);
  });

  test.each([
    [429, "1"],
    [503, "1"],
    [503, "<an HTTP-date 2 s ahead>"],
  ])("%i with Retry-After %s: the receiver's delay is honoured, then failed", async (status, retryAfter) => {
    const header = () => (retryAfter.startsWith("<") ? new Date(Date.now() + 2_000).toUTCString() : retryAfter);
    const r = startReceiver(() => ({ status, headers: { "retry-after": header() } }));
    cleanups.push(() => r.stop());
    const { key, endpointId } = await endpointWithEvents(r.url, 2);
    await expectExhausted(key, endpointId, 2, "http_status", status);
    const byId = Map.groupBy(r.received, (x) => x.headers["webhook-id"]);
    expect(byId.size).toBe(2);
    for (const arrivals of byId.values()) {
      expect(arrivals).toHaveLength(ATTEMPTS);
      // The schedule says 50 ms and 100 ms; the receiver asked for about a second: it wins.
      for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]!.at - arrivals[i - 1]!.at).toBeGreaterThanOrEqual(900);
    }
  });

  test("no response head within the attempt timeout: timeout", async () => {
    const stall = await rawServer(() => {});
    const { key, endpointId } = await endpointWithEvents(stall.url, 2);
    const deliveries = await expectExhausted(key, endpointId, 2, "timeout");
    for (const d of deliveries) for (const a of d.attemptLog) expect(a.durationMs).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS - 50);
    expect(stall.heads.length).toBe(2 * ATTEMPTS);
  });

  test("a 200 head, then a body that stalls forever: timeout (the response never completed)", async () => {
    const stall = await rawServer((sock) => sock.write("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nstarted..."));
    const { key, endpointId } = await endpointWithEvents(stall.url, 2);
    await expectExhausted(key, endpointId, 2, "timeout", 200);
  });

  test("connection reset before any response: connection_reset", async () => {
    const reset = await rawServer((sock) => sock.resetAndDestroy());
    const { key, endpointId } = await endpointWithEvents(reset.url, 2);
    await expectExhausted(key, endpointId, 2, "connection_reset");
  });

  test("connection reset mid-response (after a 200 head and part of the body): connection_reset", async () => {
    const reset = await rawServer((sock) => {
      sock.write("HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\npartial body");
      setTimeout(() => sock.resetAndDestroy(), 10);
    });
    const { key, endpointId } = await endpointWithEvents(reset.url, 2);
    await expectExhausted(key, endpointId, 2, "connection_reset", 200);
  });

  test("connection closed mid-headers: connection_reset", async () => {
    const cut = await rawServer((sock) => {
      sock.write("HTTP/1.1 200 OK\r\ncontent-len");
      setTimeout(() => sock.destroy(), 10);
    });
    const { key, endpointId } = await endpointWithEvents(cut.url, 2);
    await expectExhausted(key, endpointId, 2, "connection_reset");
  });

  test("a self-signed certificate: tls_error, never sent", async () => {
    const cert = selfSignedCert(["DNS:localhost", "IP:127.0.0.1"]);
    let requests = 0;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: cert.cert, key: cert.key },
      fetch: () => {
        requests++;
        return new Response("ok");
      },
    });
    cleanups.push(() => server.stop(true));
    for (const host of ["127.0.0.1", "localhost"]) {
      const { key, endpointId } = await endpointWithEvents(`https://${host}:${server.port}/hook`, 2);
      await expectExhausted(key, endpointId, 2, "tls_error");
    }
    expect(requests).toBe(0);
  });

  test.each([301, 302, 303, 307, 308])("a %i redirect to 127.0.0.1 is never followed: redirect, the target gets nothing", async (status) => {
    const target = await rawServer((sock) => sock.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
    const r = startReceiver(() => ({ status, headers: { location: `${target.url}/stolen` } }));
    cleanups.push(() => r.stop());
    const { key, endpointId } = await endpointWithEvents(r.url, 2);
    const deliveries = await expectExhausted(key, endpointId, 2, "redirect", status);
    expect(deliveries[0].attemptLog[0].error.message).toContain("not followed");
    expect(r.received.length).toBe(2 * ATTEMPTS);
    expect(target.connections).toBe(0);
  });

  test("an endless body behind a 500: http_status after reading only the capped prefix", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(120);
    const r = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response(new ReadableStream({ pull: (c) => c.enqueue(chunk) }), { status: 500 }),
    });
    cleanups.push(() => r.stop(true));
    const { key, endpointId } = await endpointWithEvents(`http://127.0.0.1:${r.port}/`, 2);
    const deliveries = await expectExhausted(key, endpointId, 2, "http_status", 500);
    // The stored response body is the capped prefix, not megabytes.
    expect(deliveries[0].attemptLog[0].response.body.length).toBeLessThanOrEqual(4096);
    expect(deliveries[0].attemptLog[0].response.body.length).toBeGreaterThan(0);
  });

  test("a success resets consecutiveFailures but not failureCount; a later failure counts from 0 again", async () => {
    let mode = 500;
    const r = startReceiver(() => ({ status: mode }));
    cleanups.push(() => r.stop());
    const { key, endpointId } = await endpointWithEvents(r.url, 2);
    await expectExhausted(key, endpointId, 2, "http_status", 500);
    mode = 200;
    await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } });
    await finished(key, endpointId, 3);
    expect(await endpoint(key, endpointId)).toMatchObject({ consecutiveFailures: 0, failureCount: 2 });
    mode = 503;
    await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } });
    const all = await finished(key, endpointId, 4);
    expect(all.filter((d) => d.status === "succeeded")).toHaveLength(1);
    expect(all.filter((d) => d.status === "failed")).toHaveLength(3);
    expect(await endpoint(key, endpointId)).toMatchObject({ consecutiveFailures: 1, failureCount: 3 });
  });
});

describe("disable after N exhausted deliveries", () => {
  test("exactly at the threshold, and pending work is cancelled", async () => {
    const t = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "30ms", WEBHOOKD_DISABLE_AFTER: "3" });
    const r = startReceiver(() => ({ status: 500 }));
    try {
      const { key } = await t.newTenant();
      const id = expectOk(await t.api("POST", "/api/v1/webhooks", { key, body: { url: r.url } }), 201).id;
      for (let i = 0; i < 2; i++) {
        await t.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { i } } });
        await eventually(async () => (await t.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data.failureCount === i + 1);
      }
      expect((await t.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data).toMatchObject({ isActive: true, consecutiveFailures: 2 });
      await t.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { i: 3 } } });
      const ep = await eventually(async () => {
        const e = (await t.api("GET", `/api/v1/webhooks/${id}`, { key })).body.data;
        return e.status === "disabled" ? e : null;
      });
      expect(ep).toMatchObject({ isActive: false, disabledReason: "too_many_failures", consecutiveFailures: 3, failureCount: 3 });
      expect(r.received.length).toBe(3 * 2);
      // A disabled endpoint gets no new deliveries.
      const pub = expectOk(await t.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
      expect(pub.deliveries).toBe(0);
      await Bun.sleep(200);
      expect(r.received.length).toBe(3 * 2);
    } finally {
      r.stop();
      await t.stop();
    }
  });
});

describe("memory stays flat against endless and 100 MB bodies", () => {
  test(`${SOAK ? 1000 : 200} deliveries to receivers that never stop sending`, async () => {
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const HUNDRED_MB = 100 * 1024 * 1024;
    let bytesOffered = 0;
    const endless = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () =>
        new Response(new ReadableStream({ pull: (c) => ((bytesOffered += chunk.length), c.enqueue(chunk)) }), { status: 500 }),
    });
    const huge = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        let sent = 0;
        return new Response(
          new ReadableStream({
            pull(c) {
              if (sent >= HUNDRED_MB) return c.close();
              sent += chunk.length;
              bytesOffered += chunk.length;
              c.enqueue(chunk);
            },
          }),
          { status: 500, headers: { "content-type": "application/octet-stream" } },
        );
      },
    });
    cleanups.push(() => endless.stop(true), () => huge.stop(true));
    const { key } = await s.newTenant();
    const ids: string[] = [];
    for (const port of [endless.port, huge.port]) {
      ids.push(expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `http://127.0.0.1:${port}/` } }), 201).id);
    }
    const publish = async (n: number) => {
      for (let i = 0; i < n; i += 50) {
        const events = Array.from({ length: Math.min(50, n - i) }, (_, j) => ({ event: "call.ended", data: { i: i + j } }));
        expectOk(await s.api("POST", "/api/v1/events/batch", { key, body: { events } }), 202);
      }
    };
    const settled = async (n: number) => {
      for (const id of ids) {
        await eventually(async () => {
          const res = await s.api("GET", `/api/v1/webhooks/${id}/deliveries?status=failed&limit=1`, { key });
          return res.body.pagination.total === n;
        }, 120_000, 100);
      }
    };
    // Warm up (JIT, pools, caches), then measure.
    await publish(10);
    await settled(10);
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    const events = SOAK ? 500 : 100;
    await publish(events);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      await settled(10 + events);
    } finally {
      clearInterval(sampler);
    }
    Bun.gc(true);
    const after = process.memoryUsage().rss;
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(
      `[failing-receivers] ${events * 2} deliveries (${events * 2 * ATTEMPTS} attempts) to endless/100MB receivers: ` +
        `rss before ${mb(before)} MB, peak ${mb(peak)} MB, after ${mb(after)} MB (growth ${mb(after - before)} MB); ` +
        `receivers offered ${mb(bytesOffered)} MB in total`,
    );
    // Every attempt read at most the capped prefix: nowhere near 100 MB per attempt went through.
    expect(bytesOffered).toBeLessThan(events * 2 * ATTEMPTS * 16 * 1024 * 1024);
    expect(after - before).toBeLessThan(100 * 1024 * 1024);
    // The peak includes the in-process receivers' own stream buffers: a generous bound.
    expect(peak - before).toBeLessThan(400 * 1024 * 1024);
    // And every delivery ended as the policy says.
    for (const id of ids) {
      const ep = await endpoint(key, id);
      expect(ep).toMatchObject({ consecutiveFailures: 10 + events, failureCount: 10 + events });
    }
  }, SOAK ? 600_000 : 120_000);
});
