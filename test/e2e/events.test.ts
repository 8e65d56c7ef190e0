/**
 * Publishing (one, batch, read back), validation, idempotent publishing, and fan-out to the
 * subscribed endpoints, against the real server and a loopback receiver.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

const MAX_PAYLOAD = 2048;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let s: TestServer;
let r: Receiver;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) });
  r = startReceiver();
});
afterAll(async () => {
  r.stop();
  await s.stop();
});

/** A fresh org with one endpoint on its own receiver path. */
async function tenantWithEndpoint(events: string[] = ["*"]) {
  const { key, orgId } = await s.newTenant();
  const path = `/t/${crypto.randomUUID()}`;
  const endpoint = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url + path, events } }), 201);
  return { key, orgId, path, endpoint, arrivals: () => r.received.filter((x) => x.path === path) };
}

const publish = (key: string, body: unknown, headers?: Record<string, string>) => s.api("POST", "/api/v1/events", { key, body, headers });

describe("POST /api/v1/events", () => {
  test("202 with {id, event, timestamp, deliveries, duplicate}; the body sent carries the same timestamp", async () => {
    const t = await tenantWithEndpoint(["call.ended"]);
    const data = expectOk(await publish(t.key, { event: "call.ended", data: { id: "abc123", duration: 45 } }), 202);
    expect(Object.keys(data).sort()).toEqual(["deliveries", "duplicate", "event", "id", "timestamp"]);
    expect(data).toEqual({ id: expect.stringMatching(/^evt_[0-9A-Z]{26}$/), event: "call.ended", timestamp: expect.stringMatching(ISO), deliveries: 1, duplicate: false });
    await eventually(() => t.arrivals().length === 1);
    expect(JSON.parse(t.arrivals()[0]!.body)).toEqual({ event: "call.ended", timestamp: data.timestamp, data: { id: "abc123", duration: 45 } });
  });

  test("an unknown event type is a 400 naming the field", async () => {
    const t = await tenantWithEndpoint();
    expectError(await publish(t.key, { event: "call.exploded", data: {} }), 400, "VALIDATION_ERROR", "event");
  });

  test("missing data, or data that is not an object, is a 400", async () => {
    const t = await tenantWithEndpoint();
    expectError(await publish(t.key, { event: "call.ended" }), 400, "VALIDATION_ERROR", "data");
    expectError(await publish(t.key, { event: "call.ended", data: "text" }), 400, "VALIDATION_ERROR", "data");
  });

  test("a number a 64-bit float cannot carry exactly is a 400 naming it; nothing is published, and exact numbers arrive as sent", async () => {
    const t = await tenantWithEndpoint();
    for (const [number, path] of [
      ["12345678901234567890", "data.amount"],
      ["9007199254740993", "data.amount"],
      ["1e400", "data.amount"],
      ["0.1000000000000000055511151231257827", "data.amount"],
    ] as const) {
      const res = await s.api("POST", "/api/v1/events", { key: t.key, raw: `{"event":"call.ended","data":{"id":"x","amount":${number}}}`, headers: { "content-type": "application/json" } });
      expectError(res, 400, "VALIDATION_ERROR", path);
      expect(res.body.error.message).toContain(number);
    }
    const batch = await s.api("POST", "/api/v1/events/batch", {
      key: t.key,
      raw: `{"events":[{"event":"call.ended","data":{}},{"event":"call.ended","data":{"ids":[1,12345678901234567890]}}]}`,
      headers: { "content-type": "application/json" },
    });
    expectError(batch, 400, "VALIDATION_ERROR", "events[1].data.ids[1]");
    const exact = '{"event":"call.ended","data":{"max":9007199254740991,"big":1.5e20,"pi":3.141592653589793,"id":"12345678901234567890"}}';
    expectOk(await s.api("POST", "/api/v1/events", { key: t.key, raw: exact, headers: { "content-type": "application/json" } }), 202);
    await eventually(() => t.arrivals().length === 1);
    expect(JSON.parse(t.arrivals()[0]!.body).data).toEqual({ max: 9007199254740991, big: 1.5e20, pi: 3.141592653589793, id: "12345678901234567890" });
  });

  test("data up to WEBHOOKD_MAX_PAYLOAD_BYTES is accepted; one byte more is 413 PAYLOAD_TOO_LARGE", async () => {
    const t = await tenantWithEndpoint();
    const sized = (bytes: number) => ({ x: "y".repeat(bytes - '{"x":""}'.length) });
    expect(Buffer.byteLength(JSON.stringify(sized(MAX_PAYLOAD)))).toBe(MAX_PAYLOAD);
    expectOk(await publish(t.key, { event: "call.ended", data: sized(MAX_PAYLOAD) }), 202);
    const res = await publish(t.key, { event: "call.ended", data: sized(MAX_PAYLOAD + 1) });
    expectError(res, 413, "PAYLOAD_TOO_LARGE");
    expect(res.body.error.message).toContain(String(MAX_PAYLOAD));
  });

  test("needs the events:write scope", async () => {
    const { key } = await s.newTenant(["webhooks:read", "webhooks:write"]);
    expectError(await publish(key, { event: "call.ended", data: {} }), 403, "FORBIDDEN");
  });
});

describe("idempotent publishing", () => {
  test("the same client id twice: the second is duplicate:true with the same event, and one delivery is sent", async () => {
    const t = await tenantWithEndpoint();
    const first = expectOk(await publish(t.key, { event: "call.ended", data: { n: 1 }, id: "call-42-ended" }), 202);
    const second = expectOk(await publish(t.key, { event: "call.ended", data: { n: 1 }, id: "call-42-ended" }), 202);
    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ ...first, duplicate: true });
    // Even with other data, an id already published is not sent again.
    const third = expectOk(await publish(t.key, { event: "call.ended", data: { n: 2 }, id: "call-42-ended" }), 202);
    expect(third).toEqual({ ...first, duplicate: true });
    await eventually(() => t.arrivals().length >= 1);
    await Bun.sleep(300);
    expect(t.arrivals()).toHaveLength(1);
    expect(t.arrivals()[0]!.headers["webhook-id"]).toBe(first.id);
  });

  test("client ids are per org", async () => {
    const a = await tenantWithEndpoint();
    const b = await tenantWithEndpoint();
    const fromA = expectOk(await publish(a.key, { event: "call.ended", data: {}, id: "shared-id" }), 202);
    const fromB = expectOk(await publish(b.key, { event: "call.ended", data: {}, id: "shared-id" }), 202);
    expect(fromB.duplicate).toBe(false);
    expect(fromB.id).not.toBe(fromA.id);
  });

  test("an Idempotency-Key header does the same", async () => {
    const t = await tenantWithEndpoint();
    const body = { event: "contact.created", data: { id: "c1" } };
    const first = await publish(t.key, body, { "idempotency-key": "create-contact-c1" });
    const firstData = expectOk(first, 202);
    const again = await publish(t.key, body, { "idempotency-key": "create-contact-c1" });
    expect(again.status).toBe(202);
    expect(again.body.data.id).toBe(firstData.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    // Another key of the same org with the same Idempotency-Key reaches the events service: duplicate.
    const { key: otherKey } = expectOk(await s.api("POST", `/api/v1/orgs/${t.orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["events:write"] } }), 201);
    const viaOtherKey = expectOk(await publish(otherKey, body, { "idempotency-key": "create-contact-c1" }), 202);
    expect(viaOtherKey).toEqual({ ...firstData, duplicate: true });
    // The same text as a client id is a different namespace: a new event.
    const asId = expectOk(await publish(t.key, { ...body, id: "create-contact-c1" }), 202);
    expect(asId.duplicate).toBe(false);
    await eventually(() => t.arrivals().length >= 2);
    await Bun.sleep(300);
    expect(t.arrivals().map((x) => x.headers["webhook-id"]).sort()).toEqual([firstData.id, asId.id].sort());
  });

  test("an Idempotency-Key reused with another event or data, from any key of the org: 422 IDEMPOTENCY_KEY_REUSED, nothing published", async () => {
    const t = await tenantWithEndpoint();
    const idem = { "idempotency-key": "order-7" };
    const first = expectOk(await publish(t.key, { event: "call.ended", data: { n: 1 } }, idem), 202);
    const { key: otherKey } = expectOk(await s.api("POST", `/api/v1/orgs/${t.orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["events:write"] } }), 201);
    for (const body of [{ event: "call.ended", data: { n: 2 } }, { event: "call.started", data: { n: 1 } }]) {
      expectError(await publish(otherKey, body, idem), 422, "IDEMPOTENCY_KEY_REUSED");
    }
    // The refusal leaves the key as it was: the first request still gets its event back.
    expect(expectOk(await publish(otherKey, { event: "call.ended", data: { n: 1 } }, idem), 202)).toEqual({ ...first, duplicate: true });
    await eventually(() => t.arrivals().length >= 1);
    await Bun.sleep(300);
    expect(t.arrivals().map((x) => x.headers["webhook-id"])).toEqual([first.id]);
  });
});

describe("POST /api/v1/events/batch", () => {
  test("202 with one result per item, in order, each delivered", async () => {
    const t = await tenantWithEndpoint(["call.*"]);
    const events = [
      { event: "call.started", data: { n: 0 } },
      { event: "call.ended", data: { n: 1 }, id: "b-1" },
      { event: "contact.created", data: { n: 2 } },
    ];
    const results = expectOk(await s.api("POST", "/api/v1/events/batch", { key: t.key, body: { events } }), 202);
    expect(results).toHaveLength(3);
    results.forEach((res: any, i: number) => {
      expect(res).toEqual({ id: expect.stringMatching(/^evt_/), event: events[i]!.event, timestamp: expect.stringMatching(ISO), deliveries: i === 2 ? 0 : 1, duplicate: false });
    });
    expect(new Set(results.map((x: any) => x.id)).size).toBe(3);
    await eventually(() => t.arrivals().length === 2);
    expect(t.arrivals().map((x) => JSON.parse(x.body).data.n).sort()).toEqual([0, 1]);
    // An id from the batch is known afterwards.
    expect(expectOk(await publish(t.key, { event: "call.ended", data: {}, id: "b-1" }), 202)).toMatchObject({ id: results[1].id, duplicate: true });
  });

  test("one invalid item rejects the whole batch with a 400 naming its index, and nothing is stored", async () => {
    const t = await tenantWithEndpoint();
    const good = (i: number) => ({ event: "call.ended", data: { i }, id: `item-${i}` });
    const unknownType = [good(0), good(1), good(2), { event: "nope.nope", data: {}, id: "item-3" }];
    expectError(await s.api("POST", "/api/v1/events/batch", { key: t.key, body: { events: unknownType } }), 400, "VALIDATION_ERROR", "events[3].event");
    const noData = [good(0), good(1), { event: "call.ended", id: "item-2" }];
    expectError(await s.api("POST", "/api/v1/events/batch", { key: t.key, body: { events: noData } }), 400, "VALIDATION_ERROR", "events[2].data");
    const dupIds = [good(0), good(1), good(0)];
    expectError(await s.api("POST", "/api/v1/events/batch", { key: t.key, body: { events: dupIds } }), 400, "VALIDATION_ERROR", "events");
    const tooBig = [good(0), { event: "call.ended", data: { x: "y".repeat(MAX_PAYLOAD) }, id: "item-1" }];
    const big = await s.api("POST", "/api/v1/events/batch", { key: t.key, body: { events: tooBig } });
    expectError(big, 413, "PAYLOAD_TOO_LARGE");
    expect(big.body.error.message).toStartWith("events[1].data");
    // Nothing of those batches was stored: the same ids are new now.
    for (const i of [0, 1, 2]) expect(expectOk(await publish(t.key, good(i)), 202).duplicate).toBe(false);
    await eventually(() => t.arrivals().length === 3);
    await Bun.sleep(200);
    expect(t.arrivals()).toHaveLength(3);
  });

  test("up to 1000 items; 1001 or none is a 400", async () => {
    const { key } = await s.newTenant();
    const item = (i: number) => ({ event: "call.ended", data: { i } });
    const thousand = await s.api("POST", "/api/v1/events/batch", { key, body: { events: Array.from({ length: 1000 }, (_, i) => item(i)) } });
    expect(expectOk(thousand, 202)).toHaveLength(1000);
    expectError(await s.api("POST", "/api/v1/events/batch", { key, body: { events: Array.from({ length: 1001 }, (_, i) => item(i)) } }), 400, "VALIDATION_ERROR", "events");
    expectError(await s.api("POST", "/api/v1/events/batch", { key, body: { events: [] } }), 400, "VALIDATION_ERROR", "events");
  });
});

describe("GET /api/v1/events/{id}", () => {
  test("the event with its exact payload and its deliveries; 404 for another org's event", async () => {
    const t = await tenantWithEndpoint();
    const pub = expectOk(await publish(t.key, { event: "call.failed", data: { reason: "busy" } }), 202);
    await eventually(() => t.arrivals().length === 1);
    const got = await eventually(async () => {
      const data = expectOk(await s.api("GET", `/api/v1/events/${pub.id}`, { key: t.key }));
      return data.deliveries[0]?.status === "succeeded" ? data : null;
    });
    expect(got).toEqual({
      id: pub.id,
      event: "call.failed",
      timestamp: pub.timestamp,
      payload: t.arrivals()[0]!.body,
      deliveries: [
        {
          id: expect.stringMatching(/^dlv_/),
          endpointId: t.endpoint.id,
          status: "succeeded",
          attempts: 1,
          nextAttemptAt: null,
          lastAttemptAt: expect.stringMatching(ISO),
          statusCode: 200,
        },
      ],
    });
    const other = await s.newTenant();
    expectError(await s.api("GET", `/api/v1/events/${pub.id}`, { key: other.key }), 404, "NOT_FOUND");
    expectError(await s.api("GET", "/api/v1/events/evt_01JH2W8Q4V3N6X0Z9K7B5C1D2E", { key: t.key }), 404, "NOT_FOUND");
  });
});

describe("fan-out", () => {
  test("an event reaches every enabled endpoint matching exactly, by * or by prefix.*, and no other", async () => {
    const { key } = await s.newTenant();
    const base = `/fan/${crypto.randomUUID()}`;
    const make = async (name: string, events: string[]) =>
      expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}${base}/${name}`, events } }), 201).id as string;
    const exact = await make("exact", ["contact.updated", "call.ended"]);
    const star = await make("star", ["*"]);
    const prefix = await make("prefix", ["call.*"]);
    await make("other", ["contact.*", "call.started"]);
    const disabled = await make("disabled", ["*"]);
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${disabled}`, { key, body: { isActive: false } }));

    const pub = expectOk(await publish(key, { event: "call.ended", data: {} }), 202);
    expect(pub.deliveries).toBe(3);
    const detail = expectOk(await s.api("GET", `/api/v1/events/${pub.id}`, { key }));
    expect(detail.deliveries.map((d: any) => d.endpointId).sort()).toEqual([exact, star, prefix].sort());
    const here = () => r.received.filter((x) => x.path.startsWith(base));
    await eventually(() => here().length === 3);
    await Bun.sleep(200);
    expect(here().map((x) => x.path.slice(base.length + 1)).sort()).toEqual(["exact", "prefix", "star"]);
  });

  test("every endpoint change is honoured by the very next publish", async () => {
    const { key } = await s.newTenant();
    const path = `/changes/${crypto.randomUUID()}`;
    const count = async (event: string) => expectOk(await publish(key, { event, data: {} }), 202).deliveries as number;

    expect(await count("contact.created")).toBe(0);
    const id = expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: r.url + path, events: ["call.ended"] } }), 201).id;
    expect(await count("call.ended")).toBe(1); // create
    expect(await count("contact.created")).toBe(0);
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { events: ["contact.*"] } }));
    expect(await count("contact.created")).toBe(1); // patch events
    expect(await count("call.ended")).toBe(0);
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { isActive: false } }));
    expect(await count("contact.created")).toBe(0); // disable
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { isActive: true } }));
    expect(await count("contact.created")).toBe(1); // enable
    const moved = `${path}/moved`;
    expectOk(await s.api("PATCH", `/api/v1/webhooks/${id}`, { key, body: { url: r.url + moved } }));
    expect(await count("contact.updated")).toBe(1); // url change: the next delivery goes to the new url
    expect((await s.api("DELETE", `/api/v1/webhooks/${id}`, { key })).status).toBe(204);
    expect(await count("contact.created")).toBe(0); // delete

    await eventually(() => r.received.filter((x) => x.path.startsWith(path)).length === 4);
    await Bun.sleep(200);
    const got = r.received.filter((x) => x.path.startsWith(path)).map((x) => `${x.path.slice(path.length) || "/"} ${JSON.parse(x.body).event}`);
    expect(got.sort()).toEqual(["/ call.ended", "/ contact.created", "/ contact.created", "/moved contact.updated"]);
  });
});
