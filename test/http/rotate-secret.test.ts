/**
 * Secret rotation under concurrency: every secret a rotation answered with 200 still verifies a
 * delivery afterwards, as the current secret or the previous one in its grace period.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { standardVerifies, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";

let s: TestServer;
let r: Receiver;
beforeAll(async () => {
  s = await startTestServer();
  r = startReceiver();
});
afterAll(async () => {
  r.stop();
  await s.stop();
});

test("two concurrent rotations with a grace period: both answered secrets keep signing", async () => {
  const { key } = await s.newTenant();
  const endpoints = await Promise.all(
    Array.from({ length: 5 }, async (_, i) => expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/pair-${i}` } }), 201)),
  );
  const rotate = (id: string) => s.api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { key, body: { gracePeriodSeconds: 3600 } });
  const pairs = await Promise.all(endpoints.map(async (ep) => (await Promise.all([rotate(ep.id), rotate(ep.id)])).map((res) => expectOk(res).secret as string)));

  for (const [i, ep] of endpoints.entries()) {
    expectOk(await s.api("POST", `/api/v1/webhooks/${ep.id}/test`, { key, body: { event: "call.ended" } }));
    const got = r.received.find((x) => x.path === `/pair-${i}`)!;
    expect(pairs[i]!.map((secret) => standardVerifies(secret, got))).toEqual([true, true]);
  }
});
