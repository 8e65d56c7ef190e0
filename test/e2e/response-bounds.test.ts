/**
 * Issue 12, item 5: what one API response holds is bounded in bytes, not only in rows, and a
 * client that stops reading is disconnected. HTTP only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";

let r: Receiver;
beforeAll(() => {
  r = startReceiver();
});
afterAll(() => r.stop());

async function endpointWithDeliveries(s: TestServer, count: number, dataBytes: number) {
  const { key } = await s.newTenant();
  const endpointId = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url } }), 201).id;
  const data = { blob: "é".repeat(dataBytes / 2) };
  for (let i = 0; i < count; i++) expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data } }), 202);
  await eventually(async () => (await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries?status=succeeded&limit=1`, { key })).body.pagination.total === count, 30_000);
  return { key, endpointId };
}

describe("a page of the delivery log", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  test("100 deliveries of 200 KB payloads: the page is a few hundred KiB, not 20 MB; each entry previews 4 KiB, the delivery itself has it all", async () => {
    const { key, endpointId } = await endpointWithDeliveries(s, 100, 200 * 1024);
    const res = await fetch(`${s.url}/api/v1/webhooks/${endpointId}/deliveries?limit=100`, { headers: { "x-api-key": key } });
    const text = await res.text();
    expect(res.status).toBe(200);
    const page = JSON.parse(text);
    expect(page.data).toHaveLength(100);
    console.log(`[response-bounds] a page of 100 entries with 200 KB payloads: ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB`);
    expect(Buffer.byteLength(text)).toBeLessThan(100 * 13 * 1024);
    const entry = page.data[0];
    expect(entry.payloadTruncated).toBe(true);
    expect(Buffer.byteLength(entry.payload)).toBeLessThanOrEqual(4096);
    const whole = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${entry.id}`, { key }));
    expect(whole.payloadTruncated).toBe(false);
    expect(whole.payload.startsWith(entry.payload)).toBe(true);
    expect(whole.payload).toBe(r.received.find((x) => x.headers["webhook-id"] === entry.eventId)!.body);
  }, 60_000);
});

describe("a client that stops reading", () => {
  let s: TestServer;
  // 1 s attempts and no probe: the idle timeout is then 1 + 5 (lock wait) + 2 = 8 s.
  const IDLE_S = 8;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_ATTEMPT_TIMEOUT: "1s", WEBHOOKD_MAX_PAYLOAD_BYTES: String(32 * 1024 * 1024) });
  });
  afterAll(() => s.stop());

  test("is disconnected after the idle timeout, having received only what the socket buffers held", async () => {
    // One delivery whose GET is far larger than what the kernel buffers, so the write stalls.
    const { key, endpointId } = await endpointWithDeliveries(s, 1, 24 * 1024 * 1024);
    const [delivery] = (await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries`, { key })).body.data;
    const { port, hostname } = new URL(s.url);
    const socket = net.connect(Number(port), hostname);
    socket.pause();
    let received = 0;
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      if (!head) head = chunk.subarray(0, 12).toString();
      received += chunk.length;
    });
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    socket.write(`GET /api/v1/webhooks/${endpointId}/deliveries/${delivery.id} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-API-Key: ${key}\r\n\r\n`);
    await Bun.sleep((IDLE_S + 3) * 1000);
    socket.resume();
    await closed;
    console.log(`[response-bounds] a stalled reader got ${(received / 1024 / 1024).toFixed(1)} MiB of a ~26 MiB response before the server closed`);
    expect(head).toBe("HTTP/1.1 200");
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(20 * 1024 * 1024);
  }, 60_000);
});
