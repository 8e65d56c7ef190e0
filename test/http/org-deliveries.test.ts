/** GET /api/v1/deliveries: the delivery log across an org's endpoints, merged newest first, paged by `before`. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";

let server: TestServer;
let receiver: Receiver;
beforeAll(async () => {
  server = await startTestServer();
  receiver = startReceiver();
});
afterAll(async () => {
  receiver?.stop();
  await server?.stop();
});

describe("GET /api/v1/deliveries", () => {
  test("merges every endpoint's log newest first; pages by before until each delivery was seen once", async () => {
    const { key } = await server.newTenant();
    const other = await server.newTenant();
    const a = (await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/a`, events: ["call.ended"] } })).body.data.id;
    const b = (await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/b`, events: ["call.ended", "contact.created"] } })).body.data.id;
    await server.api("POST", "/api/v1/webhooks", { key: other.key, body: { url: `${receiver.url}/o`, events: ["*"] } });
    for (let i = 0; i < 4; i++) {
      await server.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { i } } }); // to a and b
      await server.api("POST", "/api/v1/events", { key, body: { event: "contact.created", data: { i } } }); // to b
      await server.api("POST", "/api/v1/events", { key: other.key, body: { event: "call.ended", data: { i } } });
    }
    await eventually(async () => (await server.api("GET", "/api/v1/deliveries?status=succeeded&limit=100", { key })).body.data.length === 12);

    const seen: { id: string; endpointId: string }[] = [];
    let before: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res: any = await server.api("GET", `/api/v1/deliveries?limit=5${before ? `&before=${before}` : ""}`, { key });
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((d: { id: string; endpointId: string }) => ({ id: d.id, endpointId: d.endpointId })));
      before = res.body.pagination.nextBefore;
      expect(res.body.pagination.hasMore).toBe(before !== null);
      if (!before) break;
    }
    expect(seen).toHaveLength(12);
    expect(new Set(seen.map((d) => d.id)).size).toBe(12);
    expect(seen.map((d) => d.id)).toEqual(seen.map((d) => d.id).sort().reverse());
    expect(seen.filter((d) => d.endpointId === a)).toHaveLength(4);
    expect(seen.filter((d) => d.endpointId === b)).toHaveLength(8);

    const contacts = await server.api("GET", "/api/v1/deliveries?event=contact.created", { key });
    expect(contacts.body.data.map((d: { endpointId: string; event: string }) => [d.endpointId, d.event])).toEqual(Array(4).fill([b, "contact.created"]));
    expect((await server.api("GET", "/api/v1/deliveries?status=failed", { key })).body.data).toEqual([]);
  });

  test("a deleted endpoint's deliveries stay in the log, marked deleted; their detail opens; a replay is refused with a clear 422", async () => {
    const { key } = await server.newTenant();
    const other = await server.newTenant();
    const gone = (await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/gone`, events: ["call.ended"] } })).body.data.id;
    const kept = (await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/kept`, events: ["call.ended"] } })).body.data.id;
    await server.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n: 1 } } });
    await eventually(async () => (await server.api("GET", "/api/v1/deliveries?status=succeeded", { key })).body.data.length === 2);
    expect((await server.api("DELETE", `/api/v1/webhooks/${gone}`, { key })).status).toBe(204);

    const log = (await server.api("GET", "/api/v1/deliveries", { key })).body.data;
    expect(log.map((d: any) => [d.endpointId, d.endpointUrl, d.endpointDeleted]).sort()).toEqual(
      [
        [gone, `${receiver.url}/gone`, true],
        [kept, `${receiver.url}/kept`, false],
      ].sort(),
    );
    const dlv = log.find((d: any) => d.endpointId === gone);
    const detail = await server.api("GET", `/api/v1/webhooks/${gone}/deliveries/${dlv.id}`, { key });
    expect(detail.status).toBe(200);
    expect(detail.body.data).toMatchObject({ id: dlv.id, status: "succeeded", attemptLog: [expect.objectContaining({ statusCode: 200 })] });
    const replay = await server.api("POST", `/api/v1/webhooks/${gone}/deliveries/${dlv.id}/replay`, { key });
    expect(replay.status).toBe(422);
    expect(replay.body.error).toMatchObject({ code: "ENDPOINT_DELETED", message: expect.stringContaining("was deleted") });
    // Filters apply to them as to any; another org sees none of it.
    expect((await server.api("GET", "/api/v1/deliveries?status=failed", { key })).body.data).toEqual([]);
    expect((await server.api("GET", "/api/v1/deliveries", { key: other.key })).body.data).toEqual([]);
    expect((await server.api("GET", `/api/v1/webhooks/${gone}/deliveries/${dlv.id}`, { key: other.key })).status).toBe(404);
  });

  test("an org with no endpoints has an empty log; bad filters are 400s; no key is a 401", async () => {
    const { key } = await server.newTenant();
    const empty = await server.api("GET", "/api/v1/deliveries", { key });
    expect(empty.body).toEqual({ success: true, data: [], pagination: { limit: 20, hasMore: false, nextBefore: null } });
    expect((await server.api("GET", "/api/v1/deliveries?status=lost", { key })).status).toBe(400);
    expect((await server.api("GET", "/api/v1/deliveries?limit=1000", { key })).status).toBe(400);
    expect((await server.api("GET", "/api/v1/deliveries")).status).toBe(401);
  });
});
