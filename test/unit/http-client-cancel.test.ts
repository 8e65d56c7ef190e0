import { afterAll, expect, test } from "bun:test";
import { createHttpClient } from "../../src/delivery/http-client.ts";

const hits: string[] = [];
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (hits.push(req.url), new Response("ok")) });
afterAll(() => server.stop(true));

const client = createHttpClient({
  pickTarget: async () => ({ ok: true, address: "127.0.0.1", family: 4 }),
  userAgent: "test",
});
const url = `http://127.0.0.1:${server.port}/hook`;

test("an attempt no longer wanted after the address lookup sends nothing", async () => {
  const result = await client.send({ url, headers: {}, body: "{}", timeoutMs: 2000, stillWanted: () => false });
  expect(result.ok).toBe(false);
  expect(result.error?.code).toBe("cancelled");
  expect(result.statusCode).toBeNull();
  expect(hits).toHaveLength(0);
});

test("an attempt still wanted is sent", async () => {
  const result = await client.send({ url, headers: {}, body: "{}", timeoutMs: 2000, stillWanted: () => true });
  expect(result.ok).toBe(true);
  expect(hits).toHaveLength(1);
});

test("a verdict known at once asks nothing more: the caller's own check just before still holds", async () => {
  const immediate = createHttpClient({
    pickTarget: () => ({ ok: true, address: "127.0.0.1", family: 4 }),
    userAgent: "test",
  });
  const before = hits.length;
  let asked = 0;
  const result = await immediate.send({ url, headers: {}, body: "{}", timeoutMs: 2000, stillWanted: () => (asked++, true) });
  expect(result.ok).toBe(true);
  expect(asked).toBe(0);
  expect(hits).toHaveLength(before + 1);
});
