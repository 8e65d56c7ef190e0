/**
 * The per-org publish rate: one bucket per org, whichever of its keys publishes, counting every
 * event of a batch. Rate 1/s (burst 2), so the refill between quick requests is far below one.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_ORG_PUBLISH_RATE: "1" });
});
afterAll(() => s.stop());

const publish = (key: string, n: number) => s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { n } } });
const newKey = async (orgId: string) =>
  expectOk(await s.api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["events:write"] } }), 201).key as string;

test("another key of the same org shares the org's bucket; another org has its own", async () => {
  const a = await s.newTenant();
  const second = await newKey(a.orgId);
  expectOk(await publish(a.key, 1), 202);
  expectOk(await publish(second, 2), 202);
  for (const key of [a.key, second, await newKey(a.orgId)]) {
    const limited = await publish(key, 3);
    expectError(limited, 429, "RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  }
  const b = await s.newTenant();
  expectOk(await publish(b.key, 1), 202);
});

test("a batch counts each of its events: after a batch of 3 the org waits for the debt", async () => {
  const { key } = await s.newTenant();
  const events = [1, 2, 3].map((n) => ({ event: "call.ended", data: { n } }));
  expect(expectOk(await s.api("POST", "/api/v1/events/batch", { key, body: { events } }), 202)).toHaveLength(3);
  const limited = await publish(key, 4);
  expectError(limited, 429, "RATE_LIMITED");
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(2);
});
