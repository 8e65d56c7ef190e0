/**
 * Issue 12, item 3: a receiver decides what it answers, and every tenant shares the disk, so
 * what is stored of a response is capped (body bytes, header count and header bytes). HTTP only.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";

const HUGE_HEADERS = 100;
const HUGE_HEADER_BYTES = 8 * 1024;

let s: TestServer;
let receiver: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  s = await startTestServer();
  const huge = "h".repeat(HUGE_HEADER_BYTES);
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch() {
      const headers = new Headers({ "x-first": "kept" });
      for (let i = 0; i < HUGE_HEADERS; i++) headers.set(`x-huge-${i}`, huge);
      headers.set("x-after-the-huge-ones", "kept too");
      return new Response("z".repeat(64 * 1024), { status: 200, headers });
    },
  });
});
afterAll(async () => {
  receiver.stop(true);
  await s.stop();
});

test("100 headers of 8 KB and a 64 KB body: at most 50 headers and 4 KiB of them are stored, with a marker, and 4 KiB of body", async () => {
  const { key } = await s.newTenant();
  const endpointId = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `http://127.0.0.1:${receiver.port}/` } }), 201).id;
  expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
  const [delivery] = await eventually(async () => {
    const page = await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries?status=succeeded`, { key });
    return page.body.data.length === 1 ? page.body.data : null;
  });
  const detail = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${delivery.id}`, { key }));
  for (const response of [delivery.response, detail.attemptLog[0].response]) {
    const headers: Record<string, string> = response.headers;
    const { "(truncated)": marker, ...real } = headers;
    expect(Object.keys(real).length).toBeLessThanOrEqual(50);
    expect(Object.entries(real).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)).toBeLessThanOrEqual(4096);
    expect(real["x-first"]).toBe("kept");
    expect(real["x-after-the-huge-ones"]).toBe("kept too");
    expect(marker).toMatch(new RegExp(`^${HUGE_HEADERS} more headers \\(\\d+ bytes\\) not stored$`));
    expect(response.body).toBe("z".repeat(4096));
  }
});
