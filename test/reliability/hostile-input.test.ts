/**
 * Hostile input, property-based (fast-check), over every route of the API: random and malformed
 * JSON, wrong types, truncated JSON, invalid UTF-8, deep nesting, huge bodies, CR/LF and junk in
 * header values, junk and traversal in path ids, out-of-range pagination.
 *
 * The properties: never a 5xx; every 4xx is the JSON error envelope; and a refused request
 * wrote nothing (every table's rows are fingerprinted before and after through a read-only
 * connection to the server's database file).
 *
 * WEBHOOKD_SOAK=1 runs each property 2000 times instead of 150.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fc from "fast-check";
import { join } from "node:path";
import { ADMIN_KEY, startTestServer, TEST_TARGET, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { dechunk, openFingerprinter, rawRequest, scriptedDns } from "../helpers/hostile.ts";

const SOAK = process.env.WEBHOOKD_SOAK === "1";
const RUNS = SOAK ? 2000 : 150;
setDefaultTimeout(SOAK ? 900_000 : 60_000);
const PROPERTY_TIMEOUT = SOAK ? 900_000 : 60_000;

interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  admin?: boolean;
}

/** Every route of the API (src/api/*\/routes.ts), with its path parameters. */
const ROUTES: Route[] = [
  { method: "POST", path: "/api/v1/orgs", admin: true },
  { method: "GET", path: "/api/v1/orgs", admin: true },
  { method: "POST", path: "/api/v1/orgs/:orgId/keys", admin: true },
  { method: "GET", path: "/api/v1/orgs/:orgId/keys", admin: true },
  { method: "DELETE", path: "/api/v1/orgs/:orgId/keys/:keyId", admin: true },
  { method: "GET", path: "/api/v1/admin/keys", admin: true },
  { method: "POST", path: "/api/v1/admin/keys/rotate", admin: true },
  { method: "DELETE", path: "/api/v1/admin/keys/:keyId", admin: true },
  { method: "GET", path: "/api/v1/webhooks" },
  { method: "POST", path: "/api/v1/webhooks" },
  { method: "GET", path: "/api/v1/webhooks/:id" },
  { method: "PATCH", path: "/api/v1/webhooks/:id" },
  { method: "DELETE", path: "/api/v1/webhooks/:doomedId" },
  { method: "POST", path: "/api/v1/webhooks/:id/rotate-secret" },
  { method: "GET", path: "/api/v1/webhooks/:id/secret" },
  { method: "GET", path: "/api/v1/webhooks/:id/deliveries" },
  { method: "GET", path: "/api/v1/webhooks/:id/deliveries/:deliveryId" },
  { method: "POST", path: "/api/v1/webhooks/:id/deliveries/:deliveryId/replay" },
  { method: "POST", path: "/api/v1/webhooks/:id/recover" },
  { method: "POST", path: "/api/v1/webhooks/:id/test" },
  { method: "POST", path: "/api/v1/webhooks/test" },
  { method: "POST", path: "/api/v1/events" },
  { method: "POST", path: "/api/v1/events/batch" },
  { method: "GET", path: "/api/v1/events/:eventId" },
  { method: "GET", path: "/api/v1/event-types" },
];
const BODY_ROUTES = ROUTES.filter((r) => r.method === "POST" || r.method === "PATCH");
const PARAM_ROUTES = ROUTES.filter((r) => r.path.includes(":"));

let s: TestServer;
let receiver: Receiver;
let tenant: { orgId: string; key: string; keyId: string };
let ids: Record<string, string>;
let db: ReturnType<typeof openFingerprinter>;
let port: number;

beforeAll(async () => {
  receiver = startReceiver(() => ({ status: 200 }));
  // From source every name resolves to loopback: nothing a fuzzed URL says can send traffic
  // elsewhere. The binary takes no resolver; there names go to this machine's DNS, which answers
  // none that a fuzzer makes up, so they are refused at create.
  const options = TEST_TARGET === "binary" ? {} : { resolver: scriptedDns().resolver };
  s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "10ms", WEBHOOKD_ATTEMPT_TIMEOUT: "1s" }, options);
  port = Number(new URL(s.url).port);
  tenant = await s.newTenant();
  const sacrificial = await s.api("POST", `/api/v1/orgs/${tenant.orgId}/keys`, { key: ADMIN_KEY, body: { scopes: ["webhooks:read"] } });
  const main = (await s.api("POST", "/api/v1/webhooks", { key: tenant.key, body: { url: `${receiver.url}/main` } })).body.data;
  const doomed = (await s.api("POST", "/api/v1/webhooks", { key: tenant.key, body: { url: `${receiver.url}/doomed` } })).body.data;
  const pub = await s.api("POST", "/api/v1/events", { key: tenant.key, body: { event: "call.ended", data: { n: 1 } } });
  const delivery = await eventually(async () => {
    const list = (await s.api("GET", `/api/v1/webhooks/${main.id}/deliveries`, { key: tenant.key })).body.data as any[];
    return list[0]?.status === "succeeded" ? list[0] : null;
  });
  // Disabled, so test sends and fan-out do not keep writing in the background.
  for (const e of [main, doomed]) await s.api("PATCH", `/api/v1/webhooks/${e.id}`, { key: tenant.key, body: { isActive: false } });
  ids = { orgId: tenant.orgId, keyId: sacrificial.body.data.id, id: main.id, doomedId: doomed.id, deliveryId: delivery.id, eventId: pub.body.data.id };
  db = openFingerprinter(s.config);
});

afterAll(async () => {
  db?.close();
  receiver?.stop();
  await s?.stop();
});

function fill(path: string, values: Record<string, string> = ids): string {
  return path.replace(/:(\w+)/g, (_m, name: string) => values[name] ?? `:${name}`);
}

interface Sent {
  status: number;
  contentType: string;
  text: string;
}

async function send(method: string, path: string, opts: { admin?: boolean; body?: string | Uint8Array; contentType?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const headers: Record<string, string> = { "x-api-key": opts.admin ? ADMIN_KEY : tenant.key, ...opts.headers };
  if (opts.contentType !== undefined) headers["content-type"] = opts.contentType;
  const res = await fetch(s.url + path, { method, headers, body: method === "GET" ? undefined : opts.body });
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** The error envelope exactly: `{success: false, error: {code, message[, path]}}`, as JSON. */
function expectEnvelope(r: Sent, context: string): void {
  let body: any;
  try {
    body = JSON.parse(r.text);
  } catch {
    throw new Error(`${context}: ${r.status} is not JSON: ${r.text.slice(0, 200)}`);
  }
  const ok =
    r.contentType.startsWith("application/json") &&
    body?.success === false &&
    typeof body.error?.code === "string" &&
    /^[A-Z_]+$/.test(body.error.code) &&
    typeof body.error.message === "string" &&
    body.error.message.length > 0 &&
    Object.keys(body).sort().join() === "error,success" &&
    Object.keys(body.error).every((k) => ["code", "message", "path"].includes(k));
  if (!ok) throw new Error(`${context}: ${r.status} is not the error envelope: ${r.text.slice(0, 300)}`);
}

function expectStatusIn(status: number, allowed: number[], context: string): void {
  if (!allowed.includes(status)) throw new Error(`${context}: status ${status}, expected one of ${allowed.join(", ")}`);
}

let baseline: Record<string, string> | null = null;

/** No delivery queued, in flight or held by the scheduler, read from /metrics (as an operator would). */
async function engineIdle(): Promise<boolean> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return gauge("webhookd_due_queue_depth") === 0 && gauge("webhookd_deliveries_in_memory") === 0;
}

/** Waits until background work (deliveries a 2xx request started) is done and the tables are still. */
async function quiesce(): Promise<Record<string, string>> {
  let last = (await db.fingerprint());
  for (let i = 0; i < 200; i++) {
    await Bun.sleep(25);
    const now = (await db.fingerprint());
    if ((await engineIdle()) && JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}

/**
 * The three properties for one response: no 5xx, the envelope on 4xx, and no write unless 2xx
 * (after a 2xx the baseline moves on).
 */
async function judge(r: Sent, context: string): Promise<void> {
  if (r.status >= 500) throw new Error(`${context}: ${r.status} ${r.text.slice(0, 300)}`);
  if (r.status >= 400) {
    expectEnvelope(r, context);
    const now = (await db.fingerprint());
    baseline ??= now;
    if (JSON.stringify(now) !== JSON.stringify(baseline)) {
      throw new Error(`${context}: ${r.status} but the database changed: ${JSON.stringify(baseline)} -> ${JSON.stringify(now)}`);
    }
  } else {
    baseline = await quiesce();
  }
}

async function freshBaseline(): Promise<void> {
  baseline = await quiesce();
}

const CURATED = [
  "call.ended",
  ["call.ended"],
  ["*"],
  "",
  "http://127.0.0.1:1/refused",
  "ftp://x/",
  "javascript:alert(1)",
  "http://[::1",
  "2020-01-01T00:00:00Z",
  "not-a-date",
  ["webhooks:read"],
  ["admin"],
  "live",
  "test",
  -1,
  0,
  1e309,
  Number.MAX_SAFE_INTEGER,
  true,
  null,
  {},
  [],
  { __proto__: null },
  "a".repeat(600),
];

const bodyKey = fc.constantFrom("url", "events", "description", "isActive", "event", "data", "id", "since", "name", "scopes", "mode", "gracePeriodSeconds", "events", "__proto__", "constructor", "extra");
const curatedValue = fc.constantFrom(...CURATED);
const value = fc.oneof(curatedValue, fc.anything({ maxDepth: 3 }));
const stringifySafe = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return "";
  }
};

/** Bodies: random JSON, wrong types, almost-right objects, truncated JSON, non-JSON text, bad UTF-8. */
const hostileBody: fc.Arbitrary<{ label: string; bytes: string | Uint8Array }> = fc.oneof(
  fc.json().map((j) => ({ label: "json", bytes: j })),
  fc.anything().map((v) => ({ label: "anything", bytes: stringifySafe(v) })),
  fc.dictionary(bodyKey, value, { maxKeys: 6 }).map((o) => ({ label: "almost", bytes: stringifySafe(o) })),
  fc.array(fc.dictionary(bodyKey, value, { maxKeys: 4 }), { maxLength: 3 }).map((events) => ({ label: "batch-ish", bytes: stringifySafe({ events }) })),
  fc.tuple(fc.json({ maxDepth: 4 }), fc.nat()).map(([j, n]) => ({ label: "truncated", bytes: j.slice(0, n % Math.max(1, j.length)) })),
  fc.string({ unit: "binary" }).map((t) => ({ label: "text", bytes: t })),
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => ({ label: "bytes", bytes: b })),
  fc.tuple(fc.json({ maxDepth: 2 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.nat()).map(([j, junk, at]) => {
    const text = Buffer.from(j);
    const i = at % (text.length + 1);
    return { label: "json-with-bad-bytes", bytes: new Uint8Array(Buffer.concat([text.subarray(0, i), Buffer.from([0xff, ...junk]), text.subarray(i)])) };
  }),
);
const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "application/vnd.api+json", "text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "*/*");

describe("bodies", () => {
  test(`random, wrong-typed, truncated and badly encoded bodies on every POST/PATCH route (${RUNS} runs)`, async () => {
    await freshBaseline();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BODY_ROUTES), hostileBody, contentType, fc.boolean(), async (route, body, ct, viaAdmin) => {
        // Tenant routes are also tried with the admin key acting in the tenant's org.
        const admin = route.admin || (viaAdmin && !route.path.startsWith("/api/v1/orgs"));
        const headers: Record<string, string> = admin && !route.admin ? { "x-org-id": tenant.orgId } : {};
        const r = await send(route.method, fill(route.path), { admin, body: body.bytes, contentType: ct, headers });
        await judge(r, `${route.method} ${route.path} [${body.label}, ${ct}]`);
      }),
      { numRuns: RUNS },
    );
  }, PROPERTY_TIMEOUT);

  test("JSON nested 10,000 levels deep: 400 on every body route, nothing written", async () => {
    await freshBaseline();
    const deep = [
      "[".repeat(10_000) + "]".repeat(10_000),
      '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000),
      `{"event":"call.ended","data":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`,
      `{"events":[{"event":"call.ended","data":{"x":${"[".repeat(10_000)}${"]".repeat(10_000)}}}]}`,
      // Unbalanced: opens and never closes.
      '{"url":' + "[".repeat(10_000),
    ];
    for (const route of BODY_ROUTES) {
      for (const body of deep) {
        const r = await send(route.method, fill(route.path), { admin: route.admin, body, contentType: "application/json" });
        expect({ route: route.path, status: r.status }).toEqual({ route: route.path, status: 400 });
        await judge(r, `${route.method} ${route.path} deep`);
      }
    }
  });

  test("bodies over the limit: 413, with or without Content-Length, nothing written", async () => {
    await freshBaseline();
    const limit = s.config.maxPayloadBytes + 64 * 1024;
    const big = JSON.stringify({ event: "call.ended", data: { x: "a".repeat(limit) } });
    for (const route of BODY_ROUTES) {
      if (route.path.endsWith("/batch")) continue;
      const withLength = await send(route.method, fill(route.path), { admin: route.admin, body: big, contentType: "application/json" });
      expect({ route: route.path, status: withLength.status }).toEqual({ route: route.path, status: 413 });
      await judge(withLength, `${route.path} big`);
      // Chunked, no Content-Length: the cap is enforced while reading.
      const res = await fetch(s.url + fill(route.path), {
        method: route.method,
        headers: { "x-api-key": route.admin ? ADMIN_KEY : tenant.key, "content-type": "application/json" },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(16 * 1024).fill(32));
            c.close();
          },
        }),
      });
      const streamed = { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
      expect({ route: route.path, status: streamed.status }).toEqual({ route: route.path, status: 413 });
      await judge(streamed, `${route.path} streamed`);
    }
    // The batch route's own cap (16 MiB by default).
    const batchBig = JSON.stringify({ events: [{ event: "call.ended", data: { x: "a".repeat(17 * 1024 * 1024) } }] });
    const r = await send("POST", "/api/v1/events/batch", { body: batchBig, contentType: "application/json" });
    expect(r.status).toBe(413);
    await judge(r, "batch big");
    // One event over the per-event limit inside an otherwise small batch.
    const oneBig = { events: [{ event: "call.ended", data: {} }, { event: "call.ended", data: { x: "a".repeat(s.config.maxPayloadBytes) } }] };
    const r2 = await send("POST", "/api/v1/events/batch", { body: JSON.stringify(oneBig), contentType: "application/json" });
    expect(r2.status).toBe(413);
    await judge(r2, "batch one big");
  }, 60_000);

  test("a batch is all or nothing: 999 good events and one bad one write nothing", async () => {
    await freshBaseline();
    const before = (await db.counts());
    for (const bad of [{ event: "no.such.event", data: {} }, { event: "call.ended", data: 1 }, { event: "call.ended" }, { event: "call.ended", data: {}, extra: 1 }]) {
      const events = [...Array.from({ length: 999 }, (_, i) => ({ event: "call.ended", data: { i } })), bad];
      const r = await send("POST", "/api/v1/events/batch", { body: JSON.stringify({ events }), contentType: "application/json" });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text).error.message).toContain("999");
      await judge(r, "batch with a bad item");
    }
    expect((await db.counts())).toEqual(before);
  });

  // Known bug (reported): a body schema that is an optional object lets any non-object JSON
  // through, so `"x"`, `1`, `true`, `null` and `[]` are accepted on these two routes (and
  // rotate-secret rotates the secret). Flip to `test` when fixed.
  test("non-object JSON on routes whose body is an optional object: 400", async () => {
    for (const path of [`/api/v1/webhooks/${ids.id}/rotate-secret`, "/api/v1/webhooks/test"]) {
      for (const body of ['"x"', "1", "true", "[]"]) {
        const r = await send("POST", path, { body, contentType: "application/json" });
        expect({ path, body, status: r.status }).toEqual({ path, body, status: 400 });
      }
    }
  });

  test("non-object JSON on every route with a required object body: 400", async () => {
    await freshBaseline();
    const required = BODY_ROUTES.filter((r) => !/\/(rotate-secret|webhooks\/test|replay|admin\/keys\/rotate)$/.test(r.path));
    for (const route of required) {
      for (const body of ['"x"', "1", "true", "[]", "null", "[{}]", '""']) {
        const r = await send(route.method, fill(route.path), { admin: route.admin, body, contentType: "application/json" });
        expect({ route: route.path, body, status: r.status }).toEqual({ route: route.path, body, status: 400 });
        await judge(r, `${route.path} ${body}`);
      }
    }
  });
});

/** Percent-encodes a string's UTF-8 bytes, keeping `keep` characters as they are. */
function encodeSegment(text: string, keep: RegExp): string {
  let out = "";
  for (const ch of text) {
    if (keep.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, "utf8")) out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

const junkId = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ minLength: 65, maxLength: 3000 }),
  fc.stringMatching(/^(wh|org|key|evt|dlv|att)_[0-9A-Za-z]{0,40}$/),
  fc.constantFrom(
    "..%2F..%2Fetc",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%00",
    "wh_%00",
    "wh_01ARZ3NDEKTSV4RRFFQ69G5FAV%00",
    "%",
    "%E0%A4%A",
    "%ff%fe",
    "%C0%AE%C0%AE",
    "%u002e",
    "%252e%252e",
    "wh_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "org_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "🙂".repeat(40),
    "\u202e",
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "null",
    "undefined",
    "*",
    "'; DROP TABLE endpoints; --",
    "\" OR 1=1 --",
  ),
);

describe("path ids", () => {
  test(`junk, traversal, NUL, unicode and huge ids in every path parameter (${RUNS} runs)`, async () => {
    await freshBaseline();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PARAM_ROUTES), junkId, fc.boolean(), fc.boolean(), async (route, junk, raw, allParams) => {
        // Raw: percent sequences in the junk stay as written (pre-encoded attacks); else encode all.
        const segment = raw ? encodeSegment(junk, /[A-Za-z0-9%._~!$&'()*+,;=:@-]/) : encodeSegment(junk, /[A-Za-z0-9_~-]/);
        const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
        const replace = allParams ? names : [names[names.length - 1]!];
        const values = { ...ids, ...Object.fromEntries(replace.map((n) => [n, segment])) };
        const path = fill(route.path, values);
        const body = route.method === "POST" || route.method === "PATCH" ? "{}" : undefined;
        const r = await send(route.method, path, { admin: route.admin, body, contentType: "application/json" });
        const context = `${route.method} ${path.slice(0, 200)}`;
        // Bun's HTTP server refuses a request line over its limit before the app sees it.
        if (r.status === 414 || r.status === 431) return;
        await judge(r, context);
        // Unless the URL parser folded a dot segment away (".", "%2e") or the segment is empty
        // (another route's path then), junk is never found.
        const folded = segment === "" || new URL(s.url + path).pathname !== path;
        if (!folded) expectStatusIn(r.status, [400, 404], context);
      }),
      { numRuns: RUNS },
    );
  }, PROPERTY_TIMEOUT);
});

describe("pagination", () => {
  const deliveries = () => `/api/v1/webhooks/${ids.id}/deliveries`;

  test.each([
    ["page=0"],
    ["page=-1"],
    ["page=1e309"],
    ["page=NaN"],
    ["page=Infinity"],
    ["page="],
    ["page=abc"],
    ["page=1000001"],
    ["limit=101"],
    ["limit=0"],
    ["limit=-5"],
    ["limit=NaN"],
    ["limit=1e309"],
    ["limit=0.5"],
    ["status=bogus"],
    ["success=maybe"],
    ["unknown=1"],
    ["event=" + "x".repeat(129)],
  ])("?%s -> 400 VALIDATION_ERROR", async (query) => {
    const r = await send("GET", `${deliveries()}?${query}`);
    expect(r.status).toBe(400);
    expectEnvelope(r, query);
    expect(JSON.parse(r.text).error.code).toBe("VALIDATION_ERROR");
  });

  const numberish = fc.oneof(
    fc.integer({ min: -1e6, max: 2e6 }).map(String),
    fc.double().map(String),
    fc.constantFrom("NaN", "Infinity", "-Infinity", "1e309", "-0", "0x10", "1_000", " 1", "1 ", "+1", "01", "1.0", "1e2", "", "%00", "%FF", "[]", "{}", "true"),
    fc.string({ maxLength: 12 }),
  );
  const queryArb = fc.array(
    fc.tuple(fc.constantFrom("page", "limit", "success", "status", "event", "page", "limit", "x", "__proto__", "page[]", "limit[0]"), numberish),
    { maxLength: 5 },
  );

  test(`random query strings (${RUNS} runs): a 2xx always has a sane page and limit`, async () => {
    await freshBaseline();
    await fc.assert(
      fc.asyncProperty(queryArb, async (pairs) => {
        const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${/^%[0-9A-F]{2}$/.test(v) ? v : encodeURIComponent(v)}`).join("&");
        const r = await send("GET", `${deliveries()}?${query}`);
        await judge(r, `GET deliveries?${query}`);
        if (r.status === 200) {
          const body = JSON.parse(r.text);
          const { page, limit } = body.pagination;
          expect(Number.isInteger(page) && page >= 1 && page <= 1_000_000).toBe(true);
          expect(Number.isInteger(limit) && limit >= 1 && limit <= 100).toBe(true);
          expect(body.data.length).toBeLessThanOrEqual(limit);
        } else expect(r.status).toBe(400);
      }),
      { numRuns: RUNS },
    );
  }, PROPERTY_TIMEOUT);
});

describe("headers", () => {
  const headerName = fc.constantFrom("idempotency-key", "x-org-id", "x-api-key", "authorization", "content-type", "x-request-id", "host");
  /** Header values as raw bytes: CR, LF, NUL, obs-text and printable ASCII. */
  const headerValue = fc
    .array(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) }, fc.constantFrom(0x0d, 0x0a, 0x00, 0x09, 0x20, 0x7f, 0x80, 0xc3, 0xff)), { maxLength: 300 })
    .map((bytes) => Buffer.from(bytes));

  test(`CR/LF, NUL and junk in header values, over the wire (${RUNS} runs)`, async () => {
    await freshBaseline();
    const body = '{"event":"call.ended","data":{"fuzz":true}}';
    await fc.assert(
      fc.asyncProperty(headerName, headerValue, fc.constantFrom("tenant", "admin"), async (name, junk, who) => {
        const key = who === "admin" ? ADMIN_KEY : tenant.key;
        const lines = [`POST /api/v1/events HTTP/1.1`, `host: 127.0.0.1`, `content-type: application/json`, `content-length: ${body.length}`, `connection: close`];
        if (name !== "x-api-key" && name !== "authorization") lines.push(`x-api-key: ${key}`);
        if (who === "admin" && name !== "x-org-id") lines.push(`x-org-id: ${tenant.orgId}`);
        const head = Buffer.from(lines.filter((l) => !l.startsWith(`${name}:`)).join("\r\n") + `\r\n${name}: `, "latin1");
        const request = Buffer.concat([head, junk, Buffer.from(`\r\n\r\n${body}`, "latin1")]);
        const res = await rawRequest(port, request, 5_000);
        const context = `${name}: ${JSON.stringify(junk.toString("latin1")).slice(0, 120)}`;
        expect({ context, answered: res.status > 0 }).toEqual({ context, answered: true });
        const chunked = /transfer-encoding:\s*chunked/i.test(res.head);
        const text = chunked ? dechunk(res.body) : res.body;
        const contentType = /content-type:\s*([^\r\n]+)/i.exec(res.head)?.[1] ?? "";
        if (res.status >= 400 && text === "") {
          // Bun's HTTP parser refused the request before the app saw it: a bare 4xx, no body.
          expectStatusIn(res.status, [400, 431], context);
          const now = (await db.fingerprint());
          expect(now).toEqual(baseline!);
          return;
        }
        await judge({ status: res.status, contentType, text }, context);
      }),
      { numRuns: RUNS },
    );
  }, PROPERTY_TIMEOUT);

  test("Idempotency-Key and X-Org-Id junk that fetch can carry: 4xx envelope, nothing written", async () => {
    await freshBaseline();
    const body = JSON.stringify({ event: "call.ended", data: {} });
    for (const idem of ["", " ", "k".repeat(256), "kÿ", "a b", "a\tb"]) {
      const r = await send("POST", "/api/v1/events", { body, contentType: "application/json", headers: { "idempotency-key": idem } });
      expect({ idem, status: r.status }).toEqual({ idem, status: 400 });
      await judge(r, `idempotency-key ${JSON.stringify(idem)}`);
    }
    for (const org of ["../../etc", "org_", "org_" + "Z".repeat(26), "org_ÿ", "x".repeat(5000), "%00"]) {
      const r = await send("GET", "/api/v1/webhooks", { admin: true, headers: { "x-org-id": org } });
      expect({ org, status: r.status }).toEqual({ org, status: 404 });
      await judge(r, `x-org-id ${org}`);
    }
  });
});
