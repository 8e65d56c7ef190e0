/** The error envelope on every kind of bad request, and never a 5xx. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { createEndpoint, expectError } from "../helpers/assert.ts";
import { rawRequest } from "../helpers/hostile.ts";

const MAX_PAYLOAD = 1024;
const LIMIT = MAX_PAYLOAD + 64 * 1024; // non-batch routes: one payload and some room

let s: TestServer;
let key: string;
let endpointId: string;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) });
  ({ key } = await s.newTenant());
  endpointId = (await createEndpoint(s.api, key, { url: "http://127.0.0.1:9/x" })).id;
});
afterAll(() => s.stop());

const json = { "content-type": "application/json" };
const raw = (method: string, path: string, body: string | Uint8Array | ReadableStream, headers: Record<string, string> = json) =>
  fetch(s.url + path, { method, headers: { "x-api-key": key, ...headers }, body }).then(async (r) => ({
    status: r.status,
    headers: r.headers,
    body: (await r.json().catch(() => null)) as any,
  }));

describe("routing", () => {
  test("an unknown route is 404 NOT_FOUND", async () => {
    for (const path of ["/nope", "/api/v1/nope", "/api/v2/webhooks", "/api/v1/webhooks/wh_x/unknown"]) {
      const res = await s.api("GET", path, { key });
      expectError(res, 404, "NOT_FOUND");
      expect(res.body.error.message).toContain(new URL(path, s.url).pathname);
    }
    expectError(await s.api("GET", "/nope"), 404, "NOT_FOUND");
  });

  test("routing reads the path alone, whatever the Host header says (short hosts included)", async () => {
    const port = Number(new URL(s.url).port);
    const get = (path: string, host: string, apiKey = ADMIN_KEY) =>
      rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-API-Key: ${apiKey}\r\nConnection: close\r\n\r\n`);
    for (const host of ["x", "x:80", "ab", "a.b", "127.0.0.1"]) {
      // A prefix before a real route is not that route: a proxy's path rules must mean what they say.
      for (const path of ["/zz/api/v1/orgs", "/a/api/v1/orgs", "/zzzz/api/v1/orgs"]) {
        const res = await get(path, host);
        expect({ host, path, status: res.status }).toEqual({ host, path, status: 404 });
      }
      // Legitimate short hosts reach static and parameterized routes alike.
      expect({ host, status: (await get("/api/v1/orgs", host)).status }).toEqual({ host, status: 200 });
      const one = await get(`/api/v1/webhooks/${endpointId}`, host, key);
      expect({ host, status: one.status }).toEqual({ host, status: 200 });
      expect(JSON.parse(one.body).data.id).toBe(endpointId);
    }
    // An empty Host (the URL is then the path alone) never routes on a cut of the path either;
    // static routes still answer, so an HTTP/1.0 health probe with no Host works.
    for (const path of ["/zzzzzz/api/v1/orgs", "/zzzzzz/v1/webhook_endpoints", "/abcdefg/healthz"]) {
      const res = await get(path, "");
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(JSON.parse(res.body.slice(res.body.indexOf("{"))).error.code).toBe("NOT_FOUND");
    }
    expect((await get("/api/v1/orgs", "")).status).toBe(200);
    expect((await rawRequest(port, "GET /healthz HTTP/1.0\r\n\r\n")).status).toBe(200);
  });

  test("a method a path does not take is 405 METHOD_NOT_ALLOWED, with Allow naming the ones it does", async () => {
    for (const [method, path, allow] of [
      ["PUT", "/api/v1/webhooks", "GET, POST"],
      ["DELETE", "/api/v1/webhooks", "GET, POST"],
      ["PUT", `/api/v1/webhooks/${endpointId}`, "DELETE, GET, PATCH"],
      ["GET", `/api/v1/webhooks/${endpointId}/rotate-secret`, "POST"],
      ["POST", "/healthz", "GET"],
      ["POST", `/api/v1/webhooks/${endpointId}/`, "DELETE, GET, PATCH"],
    ]) {
      const res = await raw(method!, path!, "");
      expectError(res, 405, "METHOD_NOT_ALLOWED");
      expect(res.headers.get("allow")).toBe(allow!);
      expect(res.body.error.message).toContain(method!);
    }
  });
});

describe("bodies", () => {
  test("malformed JSON is 400 VALIDATION_ERROR", async () => {
    for (const body of ["{bad", '{"url": "http://127.0.0.1:9/x",}', "{'url': 1}", "{", "nul"]) {
      const res = await raw("POST", "/api/v1/webhooks", body);
      expectError(res, 400, "VALIDATION_ERROR");
      expect(res.body.error.message).toContain("not valid JSON");
    }
  });

  test.each([
    ["text/plain", "text/plain"],
    ["form", "application/x-www-form-urlencoded"],
    ["multipart", "multipart/form-data; boundary=x"],
    ["xml", "application/xml"],
  ])("a %s body is 415", async (_label, type) => {
    const res = await raw("POST", "/api/v1/webhooks", '{"url":"http://127.0.0.1:9/x"}', { "content-type": type });
    expectError(res, 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  test("application/json with a charset, and +json types, are JSON", async () => {
    const { key: k } = await s.newTenant();
    for (const type of ["application/json; charset=utf-8", "application/vnd.api+json"]) {
      const res = await fetch(s.url + "/api/v1/webhooks", { method: "POST", headers: { "x-api-key": k, "content-type": type }, body: '{"url":"http://127.0.0.1:9/x"}' });
      expect(res.status).toBe(201);
    }
  });

  test("invalid UTF-8 is 400", async () => {
    const bytes = new Uint8Array([...Buffer.from('{"url":"http://127.0.0.1:9/'), 0xff, 0xfe, ...Buffer.from('"}')]);
    const res = await raw("POST", "/api/v1/webhooks", bytes);
    expectError(res, 400, "VALIDATION_ERROR");
    expect(res.body.error.message).toContain("UTF-8");
  });

  test.each([
    ["an array", "[]"],
    ["an array of objects", '[{"url":"http://127.0.0.1:9/x"}]'],
    ["a string", '"http://127.0.0.1:9/x"'],
    ["null", "null"],
    ["a number", "42"],
    ["true", "true"],
    ["nothing", ""],
  ])("%s as body is 400 VALIDATION_ERROR", async (_label, body) => {
    expectError(await raw("POST", "/api/v1/webhooks", body), 400, "VALIDATION_ERROR");
    expectError(await raw("PATCH", `/api/v1/webhooks/${endpointId}`, body), 400, "VALIDATION_ERROR");
    expectError(await s.api("POST", "/api/v1/orgs", { key: ADMIN_KEY, raw: body, headers: json }), 400, "VALIDATION_ERROR");
  });

  test("deeply nested JSON is 400, not a crash", async () => {
    for (const depth of [200, 5_000, 30_000]) {
      const array = "[".repeat(depth) + "]".repeat(depth);
      expectError(await raw("POST", "/api/v1/webhooks", array), 400, "VALIDATION_ERROR");
      const object = `{"url":"http://127.0.0.1:9/x","description":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
      const res = await raw("POST", "/api/v1/webhooks", object);
      expect(res.status).toBeLessThan(500);
      expect(res.body.success).toBe(false);
    }
  });

  test("brackets inside strings do not count as nesting", async () => {
    const { key: k } = await s.newTenant();
    const description = "[[[{{{".repeat(50) + '\\"[[[';
    const res = await fetch(s.url + "/api/v1/webhooks", {
      method: "POST",
      headers: { "x-api-key": k, ...json },
      body: `{"url":"http://127.0.0.1:9/x","description":"${description}"}`,
    });
    expect(res.status).toBe(201);
  });
});

describe("size limit (WEBHOOKD_MAX_PAYLOAD_BYTES + 64 KiB on non-batch routes)", () => {
  const sized = (n: number) => {
    const head = '{"url":"http://127.0.0.1:9/x","description":"';
    return head + "d".repeat(n - head.length - 2) + '"}';
  };

  test("one byte over is 413 PAYLOAD_TOO_LARGE", async () => {
    const res = await raw("POST", "/api/v1/webhooks", sized(LIMIT + 1));
    expectError(res, 413, "PAYLOAD_TOO_LARGE");
    expect(res.body.error.message).toContain(String(LIMIT));
  });

  test("exactly the limit is read (and then judged on its content)", async () => {
    const body = sized(LIMIT);
    expect(Buffer.byteLength(body)).toBe(LIMIT);
    expectError(await raw("POST", "/api/v1/webhooks", body), 400, "VALIDATION_ERROR", "description");
  });

  test("a chunked body with no Content-Length is cut off at the limit too", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT * 4) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    expectError(await raw("POST", "/api/v1/webhooks", stream), 413, "PAYLOAD_TOO_LARGE");
  });

  test("on every POST/PATCH route", async () => {
    const big = sized(LIMIT + 10);
    for (const [method, path, k] of [
      ["PATCH", `/api/v1/webhooks/${endpointId}`, key],
      ["POST", `/api/v1/webhooks/${endpointId}/rotate-secret`, key],
      ["POST", "/api/v1/orgs", ADMIN_KEY],
    ] as const) {
      expectError(await s.api(method, path, { key: k, raw: big, headers: json }), 413, "PAYLOAD_TOO_LARGE");
    }
  });
});

describe("validation errors name the field", () => {
  test.each([
    [{ url: "http://127.0.0.1:9/x", events: [1] }, "events[0]"],
    [{ url: "http://127.0.0.1:9/x", events: ["call.ended", 7] }, "events[1]"],
    [{ url: ["http://127.0.0.1:9/x"] }, "url"],
    [{ url: "http://127.0.0.1:9/x", description: { a: 1 } }, "description"],
  ])("%j → %s", async (body, path) => {
    const res = await s.api("POST", "/api/v1/webhooks", { key, body });
    expectError(res, 400, "VALIDATION_ERROR", path);
    expect(res.body.error.message).toStartWith(`${path}:`);
    expect(res.body.error.message).not.toContain("should be one of");
  });
});

describe("never a 5xx", () => {
  test("every route × every kind of bad input", async () => {
    const routes = [
      ["POST", "/api/v1/webhooks"],
      ["PATCH", `/api/v1/webhooks/${endpointId}`],
      ["POST", `/api/v1/webhooks/${endpointId}/rotate-secret`],
      ["POST", "/api/v1/orgs"],
      ["POST", "/api/v1/orgs/org_nope/keys"],
      ["DELETE", `/api/v1/webhooks/%ff%fe`],
    ] as const;
    const inputs: [string, Record<string, string>][] = [
      ["{bad", json],
      ["[".repeat(50_000), json],
      ['{"__proto__":{"polluted":true},"url":"http://127.0.0.1:9/x"}', json],
      ['{"constructor":{"prototype":{"x":1}}}', json],
      ['{"url":"http://127.0.0.1:9/x","events":null}', json],
      ['{"url":"\\u0000"}', json],
      ['{"url":"http://127.0.0.1:9/x","description":"\\ud800"}', json],
      ["{}", { "content-type": "application/octet-stream" }],
      ["{}", { "content-type": "application/json", "idempotency-key": "x".repeat(1000) }],
      ["{}", { "content-type": "application/json", authorization: "Bearer " + "a".repeat(10_000) }],
    ];
    for (const [method, path] of routes) {
      for (const [body, headers] of inputs) {
        const k = path.includes("/orgs") ? ADMIN_KEY : key;
        const res = await s.api(method, path, { key: k, raw: body, headers });
        expect({ route: `${method} ${path}`, body: body.slice(0, 40), status: res.status < 500 }).toMatchObject({ status: true });
        if (res.status >= 400) expect(res.body).toMatchObject({ success: false, error: { code: expect.any(String), message: expect.any(String) } });
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
