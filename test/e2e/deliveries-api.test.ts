/**
 * The delivery log API (seed 002): listing, filters and pagination, the entry's shape, the
 * attempt log, replay, recover, and test sends (seeds 002 and 004).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import crypto from "node:crypto";
import { Webhook } from "standardwebhooks";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LOG_KEYS = ["attempts", "createdAt", "durationMs", "error", "event", "eventId", "id", "lastAttemptAt", "nextAttemptAt", "payload", "payloadTruncated", "response", "status", "statusCode", "success"];

function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  const expected = crypto.createHmac("sha256", secret).update(payload).digest("hex");
  const expectedSig = `sha256=${expected}`;
  return signature.length === expectedSig.length && crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSig));
}

/** The list endpoint's body is `{success, data, pagination}`. */
async function list(s: TestServer, key: string, id: string, query = "") {
  const res = await s.api("GET", `/api/v1/webhooks/${id}/deliveries${query}`, { key });
  expect(res.status).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(["data", "pagination", "success"]);
  return res.body as { data: any[]; pagination: { page: number; limit: number; total: number; totalExact: boolean; hasMore: boolean; nextBefore: string | null } };
}

describe("delivery logs", () => {
  let s: TestServer;
  let r: Receiver;
  let key: string;
  let endpointId: string;
  const published: Array<{ id: string; kind: string; event: string }> = [];
  const BIG = "x".repeat(10 * 1024);

  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "50ms", WEBHOOKD_DISABLE_AFTER: "0" });
    r = startReceiver((req): { status: number; body: string; headers: Record<string, string> } =>
      JSON.parse(req.body).data.kind === "fail"
        ? { status: 500, body: "nope", headers: { "x-reason": "testing" } }
        : { status: 200, body: BIG, headers: { "content-type": "text/plain" } },
    );
    key = (await s.newTenant()).key;
    endpointId = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url } }), 201).id;
    for (const [kind, event] of [["ok", "call.ended"], ["fail", "call.failed"], ["ok", "contact.created"]] as const) {
      const pub = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event, data: { kind } } }), 202);
      published.push({ id: pub.id, kind, event });
      // One at a time, so creation order is the publish order.
      await eventually(async () => (await list(s, key, endpointId, "?status=pending")).pagination.total === 0 && (await list(s, key, endpointId)).pagination.total === published.length);
    }
  });
  afterAll(async () => {
    r.stop();
    await s.stop();
  });

  test("newest first, every field of the entry, with the exact payload sent and the response received", async () => {
    const page = await list(s, key, endpointId);
    expect(page.pagination).toEqual({ page: 1, limit: 20, total: 3, hasMore: false, totalExact: true, nextBefore: null });
    expect(page.data.map((d) => d.eventId)).toEqual(published.map((p) => p.id).reverse());
    for (const d of page.data) expect(Object.keys(d).sort()).toEqual(LOG_KEYS);

    const [newest, failed, oldest] = page.data;
    const sent = (eventId: string) => r.received.find((x) => x.headers["webhook-id"] === eventId)!.body;
    expect(newest).toEqual({
      id: expect.stringMatching(/^dlv_/),
      eventId: published[2]!.id,
      event: "contact.created",
      status: "succeeded",
      success: true,
      attempts: 1,
      statusCode: 200,
      durationMs: expect.any(Number),
      payload: sent(published[2]!.id),
      payloadTruncated: false,
      response: { status: 200, headers: expect.objectContaining({ "content-type": "text/plain" }), body: "x".repeat(4096) },
      error: null,
      createdAt: expect.stringMatching(ISO),
      lastAttemptAt: expect.stringMatching(ISO),
      nextAttemptAt: null,
    });
    expect(newest.durationMs).toBeGreaterThanOrEqual(0);
    expect(Buffer.byteLength(newest.response.body)).toBe(4096);
    expect(failed).toMatchObject({
      event: "call.failed",
      status: "failed",
      success: false,
      attempts: 2,
      statusCode: 500,
      payload: sent(published[1]!.id),
      payloadTruncated: false,
      response: { status: 500, headers: expect.objectContaining({ "x-reason": "testing" }), body: "nope" },
      error: { code: "http_status", message: "HTTP 500" },
      nextAttemptAt: null,
    });
    expect(oldest.payload).toBe(JSON.stringify({ event: "call.ended", timestamp: JSON.parse(oldest.payload).timestamp, data: { kind: "ok" } }));
  });

  test("filters: success, status, event", async () => {
    expect((await list(s, key, endpointId, "?success=true")).data.map((d) => d.event)).toEqual(["contact.created", "call.ended"]);
    expect((await list(s, key, endpointId, "?success=false")).data.map((d) => d.event)).toEqual(["call.failed"]);
    expect((await list(s, key, endpointId, "?status=failed")).data.map((d) => d.event)).toEqual(["call.failed"]);
    expect((await list(s, key, endpointId, "?status=pending")).data).toEqual([]);
    const byEvent = await list(s, key, endpointId, "?event=call.ended");
    expect(byEvent.data.map((d) => d.eventId)).toEqual([published[0]!.id]);
    expect(byEvent.pagination).toEqual({ page: 1, limit: 20, total: 1, hasMore: false, totalExact: true, nextBefore: null });
    expect((await list(s, key, endpointId, "?success=true&event=call.failed")).data).toEqual([]);
  });

  test("pagination: page and limit, hasMore, bounds", async () => {
    const first = await list(s, key, endpointId, "?page=1&limit=2");
    expect(first.pagination).toEqual({ page: 1, limit: 2, total: 3, hasMore: true, totalExact: true, nextBefore: first.data[1].id });
    expect(first.data.map((d) => d.eventId)).toEqual([published[2]!.id, published[1]!.id]);
    const second = await list(s, key, endpointId, "?page=2&limit=2");
    expect(second.pagination).toEqual({ page: 2, limit: 2, total: 3, hasMore: false, totalExact: true, nextBefore: null });
    expect(second.data.map((d) => d.eventId)).toEqual([published[0]!.id]);
    expect((await list(s, key, endpointId, "?page=3&limit=2")).data).toEqual([]);
    // Keyset: `before` continues where nextBefore left off, filters included.
    const rest = await list(s, key, endpointId, `?limit=2&before=${first.pagination.nextBefore}`);
    expect(rest.data.map((d) => d.eventId)).toEqual([published[0]!.id]);
    expect(rest.pagination).toEqual({ page: 1, limit: 2, total: 1, hasMore: false, totalExact: true, nextBefore: null });
    expect((await list(s, key, endpointId, `?success=true&before=${first.data[0].id}`)).data.map((d) => d.eventId)).toEqual([published[0]!.id]);
    // `page` reaches 10,000 deliveries back; beyond, `before` pages on.
    expect((await list(s, key, endpointId, "?page=100&limit=100")).data).toEqual([]);
    expectError(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries?page=101&limit=100`, { key }), 400, "VALIDATION_ERROR", "page");
    expect((await list(s, key, endpointId, "?limit=100")).pagination.limit).toBe(100);
    for (const bad of ["?limit=101", "?limit=0", "?page=0", "?page=-1", "?limit=abc", "?success=maybe", "?status=lost"]) {
      const res = await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries${bad}`, { key });
      expect({ bad, status: res.status, code: res.body?.error?.code }).toEqual({ bad, status: 400, code: "VALIDATION_ERROR" });
    }
  });

  test("GET one delivery adds attemptLog, every attempt; 404 for unknown ids and other orgs", async () => {
    const failed = (await list(s, key, endpointId, "?success=false")).data[0];
    const detail = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${failed.id}`, { key }));
    const { attemptLog, ...rest } = detail;
    expect(rest).toEqual(failed);
    expect(attemptLog).toHaveLength(2);
    // Each attempt lists the request headers exactly as the receiver got them on that attempt
    // (signatures and the body's length included), but for the HTTP client's own transport ones.
    const got = r.received.filter((x) => x.headers["webhook-id"] === failed.eventId);
    expect(got).toHaveLength(2);
    const TRANSPORT = ["accept", "accept-encoding", "connection"];
    attemptLog.forEach((a: any, i: number) => {
      const asReceived = Object.fromEntries(Object.entries(got[i]!.headers).filter(([name]) => !TRANSPORT.includes(name)));
      expect(a.request).toEqual({ headers: asReceived });
      expect(Object.keys(a.request.headers).sort()).toEqual(
        ["content-length", "content-type", "host", "user-agent", "webhook-id", "webhook-signature", "webhook-timestamp", "x-webhook-event", "x-webhook-id", "x-webhook-signature"],
      );
      expect(a.request.headers["x-webhook-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(a.request.headers["webhook-signature"]).toMatch(/^v1,/);
      expect(a.request.headers["content-length"]).toBe(String(Buffer.byteLength(got[i]!.body)));
      expect(a).toEqual({
        id: expect.stringMatching(/^att_/),
        attempt: i + 1,
        trigger: "scheduled",
        url: `${r.url}/`,
        statusCode: 500,
        durationMs: expect.any(Number),
        error: { code: "http_status", message: "HTTP 500" },
        request: { headers: expect.any(Object) },
        response: { status: 500, headers: expect.objectContaining({ "x-reason": "testing" }), body: "nope" },
        createdAt: expect.stringMatching(ISO),
      });
    });
    // The signing secret itself is never stored nor shown, only what it signed.
    const secret = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/secret`, { key })).secret;
    expect(JSON.stringify(detail)).not.toContain(secret);
    expect(JSON.stringify(detail)).not.toContain(secret.replace(/^whsec_/, ""));
    expect(Date.parse(attemptLog[1].createdAt)).toBeGreaterThanOrEqual(Date.parse(attemptLog[0].createdAt) + 45);
    expectError(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/dlv_01JH2W8Q4V3N6X0Z9K7B5C1D2E`, { key }), 404, "NOT_FOUND");
    const other = await s.newTenant();
    expectError(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${failed.id}`, { key: other.key }), 404, "NOT_FOUND");
    expectError(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries`, { key: other.key }), 404, "NOT_FOUND");
    // Another endpoint of the same org does not see this delivery either.
    const sibling = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url, events: ["appointment.scheduled"] } }), 201);
    expectError(await s.api("GET", `/api/v1/webhooks/${sibling.id}/deliveries/${failed.id}`, { key }), 404, "NOT_FOUND");
  });
});

describe("replay and recover", () => {
  let s: TestServer;
  let r1: Receiver;
  let r2: Receiver;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "50ms", WEBHOOKD_DISABLE_AFTER: "0" });
    r1 = startReceiver();
    r2 = startReceiver();
  });
  afterAll(async () => {
    r1.stop();
    r2.stop();
    await s.stop();
  });

  test("replay re-sends the original bytes, freshly signed, to the endpoint's current URL, and leaves attempts alone", async () => {
    const { key } = await s.newTenant();
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r1.url}/v1` } }), 201);
    const pub = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: 1 } } }), 202);
    const original = (await eventually(() => r1.received.find((x) => x.headers["webhook-id"] === pub.id)))!;
    const delivery = await eventually(async () => (await list(s, key, ep.id, "?status=succeeded")).data[0]);
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, body: { url: `${r2.url}/v2` } }));
    await Bun.sleep(1_050); // into another second, so the timestamp must differ

    const res = await s.api("POST", `/api/v1/webhooks/${ep.id}/deliveries/${delivery.id}/replay`, { key });
    const outcome = expectOk(res);
    expect(outcome).toEqual({ deliveryId: delivery.id, success: true, statusCode: 200, durationMs: expect.any(Number), error: null });
    const replayed = r2.received.find((x) => x.headers["webhook-id"] === pub.id)!;
    expect(replayed.path).toBe("/v2");
    expect(replayed.body).toBe(original.body);
    expect(Number(replayed.headers["webhook-timestamp"])).toBeGreaterThan(Number(original.headers["webhook-timestamp"]));
    expect(replayed.headers["webhook-signature"]).not.toBe(original.headers["webhook-signature"]);
    expect(() => new Webhook(ep.secret).verify(replayed.body, replayed.headers)).not.toThrow();
    expect(verifyWebhookSignature(replayed.body, replayed.headers["x-webhook-signature"]!, ep.secret)).toBe(true);
    expect(r1.received.filter((x) => x.headers["webhook-id"] === pub.id)).toHaveLength(1);

    const detail = expectOk(await s.api("GET", `/api/v1/webhooks/${ep.id}/deliveries/${delivery.id}`, { key }));
    expect(detail.attempts).toBe(1);
    expect(detail.attemptLog.map((a: any) => [a.trigger, a.url])).toEqual([
      ["scheduled", `${r1.url}/v1`],
      ["replay", `${r2.url}/v2`],
    ]);
    expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/deliveries/dlv_01JH2W8Q4V3N6X0Z9K7B5C1D2E/replay`, { key }), 404, "NOT_FOUND");
  });

  test("a failed replay leaves status and attempts alone; the log shows the answer it got", async () => {
    const { key } = await s.newTenant();
    const recv = startReceiver((_, i) => (i < 2 ? { status: 500, body: "first" } : { status: 502, body: "replayed" }));
    try {
      const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: recv.url } }), 201);
      expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
      const failed = await eventually(async () => (await list(s, key, ep.id, "?status=failed")).data[0]);
      expect(failed).toMatchObject({ attempts: 2, statusCode: 500, response: { status: 500, body: "first" } });
      const outcome = expectOk(await s.api("POST", `/api/v1/webhooks/${ep.id}/deliveries/${failed.id}/replay`, { key }));
      expect(outcome).toMatchObject({ success: false, statusCode: 502, error: { code: "http_status", message: "HTTP 502" } });
      const after = (await list(s, key, ep.id)).data[0];
      expect(after).toMatchObject({
        id: failed.id,
        status: "failed",
        success: false,
        attempts: 2,
        nextAttemptAt: null,
        statusCode: 502,
        response: { status: 502, body: "replayed" },
        error: { code: "http_status", message: "HTTP 502" },
      });
      expect(Date.parse(after.lastAttemptAt)).toBeGreaterThanOrEqual(Date.parse(failed.lastAttemptAt));
      expect(expectOk(await s.api("GET", `/api/v1/webhooks/${ep.id}`, { key })).failureCount).toBe(1);
    } finally {
      recv.stop();
    }
  });

  test("recover replays every failed delivery created since the given time", async () => {
    const { key } = await s.newTenant();
    const recv = startReceiver(() => ({ status: 500 }));
    try {
      const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: recv.url } }), 201);
      // One success first, then two failures.
      recv.respond(() => ({ status: 200 }));
      const good = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: 0 } } }), 202);
      await eventually(async () => (await list(s, key, ep.id, "?status=succeeded")).data.length === 1);
      recv.respond(() => ({ status: 500 }));
      const since = new Date(Date.now() - 1_000).toISOString();
      const bad: string[] = [];
      for (const n of [1, 2]) bad.push(expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n } } }), 202).id);
      await eventually(async () => (await list(s, key, ep.id, "?status=failed")).data.length === 2);
      const sentBefore = recv.received.length;
      expect(sentBefore).toBe(1 + 2 * 2);

      const future = await s.api("POST", `/api/v1/webhooks/${ep.id}/recover`, { key, body: { since: new Date(Date.now() + 60_000).toISOString() } });
      expect(expectOk(future, 202)).toEqual({ deliveries: 0 });

      recv.respond(() => ({ status: 200 }));
      const res = await s.api("POST", `/api/v1/webhooks/${ep.id}/recover`, { key, body: { since } });
      expect(expectOk(res, 202)).toEqual({ deliveries: 2 });
      await eventually(async () => (await list(s, key, ep.id, "?status=succeeded")).data.length === 3);
      const resent = recv.received.slice(sentBefore);
      expect(resent.map((x) => x.headers["webhook-id"]).sort()).toEqual([...bad].sort());
      expect(resent.some((x) => x.headers["webhook-id"] === good.id)).toBe(false);
      const one = (await list(s, key, ep.id, `?event=call.ended&status=succeeded`)).data.find((d) => d.eventId === bad[0]);
      expect(one.attempts).toBe(2);
      expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/recover`, { key, body: { since: "yesterday" } }), 400, "VALIDATION_ERROR", "since");
    } finally {
      recv.stop();
    }
  });

  test("a deleted endpoint's log stays readable (seed 002: logs kept 30 days); replay, recover and test are 422 ENDPOINT_DELETED", async () => {
    const { key } = await s.newTenant();
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r1.url}/deleted` } }), 201);
    const pub = expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: 1 } } }), 202);
    await eventually(async () => (await list(s, key, ep.id, "?status=succeeded")).data.length === 1);
    expect((await s.api("DELETE", `/api/v1/webhooks/${ep.id}`, { key })).status).toBe(204);

    const logged = await list(s, key, ep.id);
    expect(logged.data.map((d) => d.eventId)).toEqual([pub.id]);
    const one = expectOk(await s.api("GET", `/api/v1/webhooks/${ep.id}/deliveries/${logged.data[0].id}`, { key }));
    expect(one).toMatchObject({ status: "succeeded", attemptLog: [expect.objectContaining({ statusCode: 200 })] });

    const sent = r1.received.length;
    expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/deliveries/${one.id}/replay`, { key }), 422, "ENDPOINT_DELETED");
    expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/recover`, { key, body: { since: new Date(0).toISOString() } }), 422, "ENDPOINT_DELETED");
    expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.ended" } }), 422, "ENDPOINT_DELETED");
    expect(r1.received.length).toBe(sent);
    // The endpoint itself stays gone, and another org still sees nothing of it.
    expectError(await s.api("GET", `/api/v1/webhooks/${ep.id}`, { key }), 404, "NOT_FOUND");
    const other = await s.newTenant();
    expectError(await s.api("GET", `/api/v1/webhooks/${ep.id}/deliveries`, { key: other.key }), 404, "NOT_FOUND");
  });
});

describe("test events", () => {
  let s: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "50ms", WEBHOOKD_DISABLE_AFTER: "1" });
    r = startReceiver((req) => (req.path.startsWith("/fail") ? { status: 500 } : { status: 200 }));
  });
  afterAll(async () => {
    r.stop();
    await s.stop();
  });

  test("POST /webhooks/{id}/test sends a synthetic event of that type now and returns the outcome", async () => {
    const { key } = await s.newTenant();
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/one`, events: ["contact.created"] } }), 201);
    const res = await s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.ended" } });
    const outcome = expectOk(res);
    expect(outcome).toEqual({ deliveryId: expect.stringMatching(/^dlv_/), eventId: expect.stringMatching(/^evt_/), success: true, statusCode: 200, durationMs: expect.any(Number), error: null });
    const got = r.received.find((x) => x.headers["webhook-id"] === outcome.eventId)!;
    expect(got.path).toBe("/one");
    expect(got.headers["x-webhook-event"]).toBe("call.ended");
    // Seed 002: "a synthetic payload of the requested event type": the catalog's example for it.
    const catalog = expectOk(await s.api("GET", "/api/v1/event-types"));
    const example = catalog.find((e: { name: string }) => e.name === "call.ended").example;
    expect(JSON.parse(got.body)).toEqual({ event: "call.ended", timestamp: expect.any(String), data: example });
    expect(() => new Webhook(ep.secret).verify(got.body, got.headers)).not.toThrow();
    const logged = (await list(s, key, ep.id)).data[0];
    expect(logged).toMatchObject({ id: outcome.deliveryId, status: "succeeded", attempts: 1 });

    expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.exploded" } }), 400, "VALIDATION_ERROR", "event");
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${ep.id}`, { key, body: { isActive: false } }));
    expectError(await s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.ended" } }), 422, "ENDPOINT_DISABLED");
    expectError(await s.api("POST", `/api/v1/webhooks/wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E/test`, { key, body: { event: "call.ended" } }), 404, "NOT_FOUND");
  });

  test("a test sent at once is never due while it runs (no second send), and due after the attempt timeout should it be lost", async () => {
    const { key } = await s.newTenant();
    const slow = startReceiver(() => ({ status: 200, delayMs: 800 }));
    try {
      const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${slow.url}/slow` } }), 201);
      const sent = s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.ended" } });
      await slow.waitFor(1);
      // Read through the API, so the check holds on every backend and against the binary.
      const row = (await list(s, key, ep.id)).data[0];
      expect(row.status).toBe("pending");
      expect(Date.parse(row.nextAttemptAt)).toBeGreaterThan(Date.parse(row.createdAt) + s.config.attemptTimeoutMs);
      const outcome = expectOk(await sent);
      expect(outcome).toMatchObject({ success: true, statusCode: 200 });
      expect((await list(s, key, ep.id)).data[0]).toMatchObject({ id: outcome.deliveryId, status: "succeeded", attempts: 1, nextAttemptAt: null });
      await Bun.sleep(300);
      expect(slow.received).toHaveLength(1);
    } finally {
      slow.stop();
    }
  });

  test("a failed test send gets one attempt and does not count toward auto-disable", async () => {
    const { key } = await s.newTenant();
    const ep = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/fail/one` } }), 201);
    const outcome = expectOk(await s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.ended" } }));
    expect(outcome).toMatchObject({ success: false, statusCode: 500, error: { code: "http_status" } });
    await Bun.sleep(250); // well past the 50 ms retry delay
    expect(r.received.filter((x) => x.headers["webhook-id"] === outcome.eventId)).toHaveLength(1);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${ep.id}`, { key }))).toMatchObject({ isActive: true, consecutiveFailures: 0, failureCount: 0 });
    expect((await list(s, key, ep.id)).data[0]).toMatchObject({ status: "failed", attempts: 1 });
  });

  test("POST /webhooks/test (seed 004) sends one to every enabled endpoint, whatever its filters, and returns messageId", async () => {
    const { key } = await s.newTenant();
    const base = `/all/${crypto.randomUUID()}`;
    const make = async (name: string, events: string[]) => expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}${name}${base}`, events } }), 201).id;
    const narrow = await make("", ["call.ended"]);
    await make("", ["*"]);
    const failing = await make("/fail", ["contact.*"]);
    const off = await make("", ["*"]);
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${off}`, { key, body: { isActive: false } }));

    const res = await s.api("POST", "/api/v1/webhooks/test", { key });
    const data = expectOk(res);
    expect(data).toEqual({ success: true, messageId: expect.stringMatching(/^evt_/), message_id: data.messageId, deliveries: 3 });
    const here = () => r.received.filter((x) => x.path.endsWith(base));
    await eventually(() => here().length === 3);
    await Bun.sleep(250);
    expect(here()).toHaveLength(3); // the failing one got one attempt, the disabled one none
    expect(new Set(here().map((x) => x.headers["webhook-id"]))).toEqual(new Set([data.messageId]));
    expect(here().every((x) => JSON.parse(x.body).event === "webhook.test")).toBe(true);
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${failing}`, { key }))).toMatchObject({ isActive: true, consecutiveFailures: 0, failureCount: 0 });
    expect((await list(s, key, narrow)).data[0]).toMatchObject({ event: "webhook.test", status: "succeeded" });

    const named = expectOk(await s.api("POST", "/api/v1/webhooks/test", { key, body: { event: "contact.created" } }));
    expect(named.deliveries).toBe(3);
    expectError(await s.api("POST", "/api/v1/webhooks/test", { key, body: { event: "nope" } }), 400, "VALIDATION_ERROR", "event");
  });
});
