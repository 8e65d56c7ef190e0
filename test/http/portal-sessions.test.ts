/**
 * Portal sessions (issue 13) over real HTTP: links made by org keys and the admin key, single
 * use, the cookie's attributes, CSRF on writes made with it, read-only sessions refused by the
 * server, other orgs' ids 404, the link pages, the portal's CSP, and the stats route it reads.
 * Runs against the compiled binary too (`bun run test:binary`), except the parts marked source-only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_KEY, startTestServer, TEST_TARGET, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { manualClock } from "../../src/lib/clock.ts";
import { createLogger } from "../../src/lib/logger.ts";

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

async function newLink(key: string, body: unknown = {}, headers: Record<string, string> = {}) {
  const res = await server.api("POST", "/api/v1/portal/sessions", { key, body, headers });
  return res;
}

/** The token a link page's form posts. */
const formToken = (html: string) => /<input type="hidden" name="token" value="([^"]*)">/.exec(html)?.[1];

/** What the link page's form sends, as Chromium sends it from that page (Referrer-Policy no-referrer makes Origin "null"). */
function postLink(base: string, token: string, headers: Record<string, string> = {}, body: string | URLSearchParams = new URLSearchParams({ token })) {
  return fetch(`${base}/portal/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "null", "sec-fetch-site": "same-origin", ...headers },
    body,
  });
}

/** Opens a link as a browser does: GET its page (which uses nothing), then post its form (without following the redirect). */
async function open(url: string, headers: Record<string, string> = {}) {
  const page = await fetch(url, { redirect: "manual", headers });
  if (page.status !== 200) return page;
  const token = formToken(await page.text());
  expect(token).toBeDefined();
  return postLink(new URL(url).origin, token!, headers);
}

/** A session: the cookie value and its CSRF token. */
async function session(key: string, body: unknown = {}) {
  const link = await newLink(key, body);
  expect(link.status).toBe(201);
  const res = await open(link.body.data.url);
  expect(res.status).toBe(303);
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const me = await fetch(`${server.url}/api/v1/portal/session`, { headers: { cookie } });
  const info = ((await me.json()) as { data: Record<string, unknown> }).data;
  return { cookie, csrf: info.csrfToken as string, info };
}

function withCookie(method: string, path: string, cookie: string, opts: { csrf?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { cookie, ...opts.headers };
  if (opts.csrf) headers["x-csrf-token"] = opts.csrf;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  return server.api(method, path, { headers, raw: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
}

describe("making a link", () => {
  test("an org key with webhooks:write gets a single-use URL, 10 minutes to open it", async () => {
    const { key, orgId } = await server.newTenant();
    const res = await newLink(key, { expiresInSeconds: 7200, returnUrl: "https://app.example.com/settings" });
    expect(res.status).toBe(201);
    const data = res.body.data;
    expect(data.url).toStartWith(`${server.url}/portal/login?token=`);
    expect(data.path).toStartWith("/portal/login?token=");
    expect(data.readOnly).toBe(false);
    const linkTtl = Date.parse(data.linkExpiresAt) - Date.now();
    expect(linkTtl).toBeGreaterThan(9 * 60_000);
    expect(linkTtl).toBeLessThanOrEqual(10 * 60_000);
    expect(Date.parse(data.expiresAt) - Date.now()).toBeGreaterThan(7100_000);
    const { info } = await session(key);
    expect(info).toMatchObject({ orgId, orgName: "Test org", readOnly: false, returnUrl: null });
  });

  test("the admin key makes one for the org it names with X-Org-Id, and must name one", async () => {
    const { orgId } = await server.newTenant();
    const res = await newLink(ADMIN_KEY, { readOnly: true }, { "x-org-id": orgId });
    expect(res.status).toBe(201);
    expect(res.body.data.readOnly).toBe(true);
    expect((await newLink(ADMIN_KEY, {})).status).toBe(403);
  });

  test("a key with only webhooks:read makes read-only links only; one without a read scope none", async () => {
    const reader = await server.newTenant(["webhooks:read"]);
    const refused = await newLink(reader.key, {});
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("read-only");
    expect((await newLink(reader.key, { readOnly: true })).status).toBe(201);
    const publisher = await server.newTenant(["events:write"]);
    expect((await newLink(publisher.key, { readOnly: true })).status).toBe(403);
  });

  test("bad fields are 400s that name them; no key is a 401", async () => {
    const { key } = await server.newTenant();
    const js = await newLink(key, { returnUrl: "javascript:alert(1)" });
    expect(js.status).toBe(400);
    expect(js.body.error.path).toBe("returnUrl");
    expect((await newLink(key, { expiresInSeconds: 10 })).status).toBe(400);
    expect((await newLink(key, { admin: true })).status).toBe(400);
    expect((await server.api("POST", "/api/v1/portal/sessions", { body: {} })).status).toBe(401);
  });
});

describe("opening a link", () => {
  test("sets an HttpOnly SameSite=Strict cookie and sends the browser to /portal without the token", async () => {
    const { key } = await server.newTenant();
    const link = await newLink(key);
    const res = await open(link.body.data.url);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/portal");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^webhookd_portal=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // The session's end is counted from the link's making (an hour by default), not from its opening.
    expect(Number(/Max-Age=(\d+)/.exec(cookie)![1])).toBeWithin(3590, 3601);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("over https (a TLS proxy's X-Forwarded-Proto) the cookie is Secure, and still Strict when only 'self' may frame the portal", async () => {
    const { key } = await server.newTenant();
    const link = await newLink(key);
    const res = await open(link.body.data.url, { "x-forwarded-proto": "https" });
    expect(res.headers.get("set-cookie")).toMatch(/; SameSite=Strict; Max-Age=\d+; Secure$/);
  });

  test("framed by another site (WEBHOOKD_PORTAL_FRAME_ANCESTORS) over https: SameSite=None; Secure; Partitioned, with CSRF still checked", async () => {
    const embedded = await startTestServer({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: "'self' https://app.example.com" });
    try {
      const { key } = await embedded.newTenant();
      const link = async () => (await embedded.api("POST", "/api/v1/portal/sessions", { key, body: {} })).body.data.url as string;
      const https = { "x-forwarded-proto": "https" };
      const res = await open(await link(), https);
      expect(res.status).toBe(303);
      const set = res.headers.get("set-cookie")!;
      expect(set).toMatch(/^webhookd_portal=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=None; Max-Age=\d+; Secure; Partitioned$/);
      const cookie = set.split(";")[0]!;
      const me = (await (await fetch(`${embedded.url}/api/v1/portal/session`, { headers: { cookie, ...https } })).json()) as { data: { csrfToken: string } };
      // The cookie now rides along with other sites' requests: the CSRF token and the Origin check still stop them.
      const post = (headers: Record<string, string>) =>
        fetch(`${embedded.url}/api/v1/webhooks`, { method: "POST", headers: { cookie, "content-type": "application/json", ...https, ...headers }, body: JSON.stringify({ url: "https://x.example/hook" }) });
      expect((await post({ origin: "https://app.example.com", "sec-fetch-site": "cross-site" })).status).toBe(403);
      expect((await post({ "x-csrf-token": me.data.csrfToken, origin: "https://app.example.com", "sec-fetch-site": "cross-site" })).status).toBe(403);
      expect((await post({ "x-csrf-token": me.data.csrfToken, origin: "https://evil.example" })).status).toBe(403);
      // Signing out clears it with the same attributes (a partitioned cookie is only replaced by a partitioned one).
      const out = await fetch(`${embedded.url}/api/v1/portal/session`, { method: "DELETE", headers: { cookie, "x-csrf-token": me.data.csrfToken, ...https } });
      expect(out.status).toBe(204);
      expect(out.headers.get("set-cookie")).toBe("webhookd_portal=; Path=/; HttpOnly; SameSite=None; Max-Age=0; Secure; Partitioned");
      // Over plain http a browser refuses SameSite=None (it needs Secure): Strict as before, the same site only.
      expect((await open(await link())).headers.get("set-cookie")).toMatch(/; SameSite=Strict; Max-Age=\d+$/);
    } finally {
      await embedded.stop();
    }
  });

  test("a link works once: the second open gets a clear 410 page, not the session", async () => {
    const { key } = await server.newTenant();
    const { url } = (await newLink(key)).body.data;
    expect((await open(url)).status).toBe(303);
    const again = await open(url);
    expect(again.status).toBe(410);
    expect(again.headers.get("content-type")).toStartWith("text/html");
    expect(again.headers.get("set-cookie")).toBeNull();
    const html = await again.text();
    expect(html).toContain("This link was already used");
    expect(html).not.toContain(new URL(url).searchParams.get("token")!);
  });

  test("opened by many at once, exactly one gets the session", async () => {
    const { key } = await server.newTenant();
    const { url } = (await newLink(key)).body.data;
    const statuses = (await Promise.all(Array.from({ length: 8 }, () => open(url)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    expect(statuses.filter((s) => s === 410)).toHaveLength(7);
  });

  test("a forged, malformed or missing token gets a 404 page", async () => {
    for (const query of ["?token=" + "A".repeat(43), "?token=%3Cscript%3E", "?token=" + "x".repeat(5000), ""]) {
      const res = await open(`${server.url}/portal/login${query}`);
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(html).toContain("This link is not valid");
      expect(html).not.toContain("<script>");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    }
    // Posted straight, too: forged, malformed, missing, or not a string.
    for (const body of [new URLSearchParams({ token: "A".repeat(43) }), new URLSearchParams({ token: "<script>" }), new URLSearchParams({}), ""]) {
      const res = await postLink(server.url, "", {}, body);
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("This link is not valid");
    }
    const json = await postLink(server.url, "", { "content-type": "application/json" }, JSON.stringify({ token: ["x"] }));
    expect(json.status).toBe(404);
  });
});

describe("a GET of a link uses nothing; its page posts the token", () => {
  test("a scanner's GETs leave the link working: each gets the page, with no cookie", async () => {
    const { key } = await server.newTenant();
    const { url } = (await newLink(key)).body.data;
    const token = new URL(url).searchParams.get("token")!;
    for (let i = 0; i < 3; i++) {
      const page = await fetch(url, { redirect: "manual" });
      expect(page.status).toBe(200);
      expect(page.headers.get("set-cookie")).toBeNull();
      expect(page.headers.get("cache-control")).toBe("no-store");
      expect(page.headers.get("referrer-policy")).toBe("no-referrer");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await page.text();
      // The form posts the token; the only script is the file that submits it (no inline script: the CSP forbids it).
      expect(formToken(html)).toBe(token);
      expect(html).toContain('<form id="login" method="post" action="/portal/login">');
      expect(html).toContain('<button type="submit" class="primary">Open Webhooks</button>');
      expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/portal/assets/login.js">']);
    }
    const script = await fetch(`${server.url}/portal/assets/login.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toStartWith("text/javascript");
    const js = await script.text();
    expect(js).toContain("replaceState");
    expect(js).toContain("submit()");
    // The POST the page makes uses the link; after it, a GET gets the 410 page.
    const used = await postLink(server.url, token);
    expect(used.status).toBe(303);
    expect(used.headers.get("location")).toBe("/portal");
    expect(used.headers.get("set-cookie")).toStartWith("webhookd_portal=");
    const again = await fetch(url, { redirect: "manual" });
    expect(again.status).toBe(410);
    expect(await again.text()).toContain("This link was already used");
    expect((await postLink(server.url, token)).status).toBe(410);
  });

  test("login CSRF: a POST from another site or origin is refused with a page, and the link stays usable", async () => {
    const { key } = await server.newTenant();
    const token = new URL((await newLink(key)).body.data.url).searchParams.get("token")!;
    const refusals: Array<Record<string, string>> = [
      { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
      { "sec-fetch-site": "same-site", origin: "https://sub.example" },
      { "sec-fetch-site": "none", origin: "null" },
      // An opaque origin (a sandboxed frame elsewhere, say) without the browser saying same-origin.
      { "sec-fetch-site": "cross-site", origin: "null" },
      { origin: "null", "sec-fetch-site": "" },
      { origin: "https://evil.example", "sec-fetch-site": "same-origin" },
    ];
    for (const headers of refusals) {
      const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ""));
      const res = await fetch(`${server.url}/portal/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", ...clean },
        body: new URLSearchParams({ token }),
      });
      expect(res.status).toBe(403);
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(res.headers.get("content-type")).toStartWith("text/html");
      expect(await res.text()).toContain("This link must be opened from its own page");
    }
    // None of those used it: the page's own POST (Origin: this server) still does.
    const ok = await postLink(server.url, token, { origin: server.url });
    expect(ok.status).toBe(303);
  });

  test("a body that is neither a form nor JSON is a 415; a huge one a 413", async () => {
    const res = await postLink(server.url, "", { "content-type": "text/plain" }, "token=x");
    expect(res.status).toBe(415);
    const huge = await postLink(server.url, "", {}, "token=" + "x".repeat(2 * 1024 * 1024));
    expect(huge.status).toBe(413);
  });
});

describe("requests made with the cookie", () => {
  test("act in the session's org, through the same routes and checks as a key", async () => {
    const { key } = await server.newTenant();
    const s = await session(key);
    const list = await withCookie("GET", "/api/v1/webhooks", s.cookie);
    expect(list.status).toBe(200);
    const created = await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: s.csrf, body: { url: `${receiver.url}/a`, events: ["call.ended"] } });
    expect(created.status).toBe(201);
    // The key sees what the session made: one org.
    const seen = await server.api("GET", `/api/v1/webhooks/${created.body.data.id}`, { key });
    expect(seen.status).toBe(200);
    // Publishing is not a portal scope.
    const publish = await withCookie("POST", "/api/v1/events", s.cookie, { csrf: s.csrf, body: { event: "call.ended", data: {} } });
    expect(publish.status).toBe(403);
  });

  test("a write without the CSRF token, with a wrong one, or from another origin is refused", async () => {
    const { key } = await server.newTenant();
    const s = await session(key);
    const body = { url: `${receiver.url}/b`, events: ["call.ended"] };
    const none = await withCookie("POST", "/api/v1/webhooks", s.cookie, { body });
    expect(none.status).toBe(403);
    expect(none.body.error.message).toContain("X-CSRF-Token");
    expect((await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: "0".repeat(64), body })).status).toBe(403);
    const foreign = await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: s.csrf, body, headers: { origin: "https://evil.example" } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.message).toContain("origin");
    const crossSite = await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: s.csrf, body, headers: { "sec-fetch-site": "cross-site" } });
    expect(crossSite.status).toBe(403);
    const own = await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: s.csrf, body, headers: { origin: server.url } });
    expect(own.status).toBe(201);
    const list = await server.api("GET", "/api/v1/webhooks", { key });
    expect(list.body.data).toHaveLength(1);
  });

  test("Idempotency-Key works with the cookie as with a key: the same request replays, sealed with the session's secret", async () => {
    const { key } = await server.newTenant();
    const s = await session(key);
    const body = { url: `${receiver.url}/idem`, events: ["call.ended"] };
    const first = await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: s.csrf, body, headers: { "idempotency-key": "portal-create-1" } });
    expect(first.status).toBe(201);
    const again = await withCookie("POST", "/api/v1/webhooks", s.cookie, { csrf: s.csrf, body, headers: { "idempotency-key": "portal-create-1" } });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data.id).toBe(first.body.data.id);
    expect((await server.api("GET", "/api/v1/webhooks", { key })).body.data).toHaveLength(1);
  });

  test("a read-only session reads everything and the server refuses every change", async () => {
    const { key } = await server.newTenant();
    const ep = await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/c`, events: ["*"] } });
    const id = ep.body.data.id;
    const s = await session(key, { readOnly: true });
    expect(s.info.readOnly).toBe(true);
    expect((await withCookie("GET", `/api/v1/webhooks/${id}`, s.cookie)).status).toBe(200);
    expect((await withCookie("GET", `/api/v1/webhooks/${id}/deliveries`, s.cookie)).status).toBe(200);
    const writes: [string, string, unknown?][] = [
      ["POST", "/api/v1/webhooks", { url: `${receiver.url}/d`, events: ["*"] }],
      ["PATCH", `/api/v1/webhooks/${id}`, { isActive: false }],
      ["DELETE", `/api/v1/webhooks/${id}`],
      ["POST", `/api/v1/webhooks/${id}/rotate-secret`, {}],
      ["GET", `/api/v1/webhooks/${id}/secret`],
      ["POST", `/api/v1/webhooks/${id}/test`, { event: "call.ended" }],
      ["POST", `/api/v1/webhooks/${id}/recover`, { since: "2025-01-01T00:00:00Z" }],
      ["POST", "/api/v1/portal/sessions", {}],
    ];
    for (const [method, path, body] of writes) {
      const res = await withCookie(method, path, s.cookie, { csrf: s.csrf, body });
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    const after = await server.api("GET", `/api/v1/webhooks/${id}`, { key });
    expect(after.body.data.isActive).toBe(true);
  });

  test("another org's ids are a 404, like with a key", async () => {
    const mine = await server.newTenant();
    const theirs = await server.newTenant();
    const ep = await server.api("POST", "/api/v1/webhooks", { key: theirs.key, body: { url: `${receiver.url}/e`, events: ["*"] } });
    const s = await session(mine.key);
    expect((await withCookie("GET", `/api/v1/webhooks/${ep.body.data.id}`, s.cookie)).status).toBe(404);
    expect((await withCookie("GET", `/api/v1/webhooks/${ep.body.data.id}/deliveries`, s.cookie)).status).toBe(404);
    expect((await withCookie("GET", `/api/v1/webhooks/${ep.body.data.id}/stats`, s.cookie)).status).toBe(404);
    expect((await withCookie("PATCH", `/api/v1/webhooks/${ep.body.data.id}`, s.cookie, { csrf: s.csrf, body: { isActive: false } })).status).toBe(404);
  });

  test("a session cannot make links, reach the admin routes, or the /v1 dialects", async () => {
    const { key } = await server.newTenant();
    const s = await session(key);
    const link = await withCookie("POST", "/api/v1/portal/sessions", s.cookie, { csrf: s.csrf, body: {} });
    expect(link.status).toBe(403);
    expect(link.body.error.message).toContain("cannot create portal sessions");
    expect((await withCookie("GET", "/api/v1/orgs", s.cookie)).status).toBe(403);
    expect((await withCookie("GET", "/v1/webhook_endpoints", s.cookie)).status).toBe(401);
  });

  test("signing out, or revoking the key that made it, ends the session at once; a forged cookie is a 401", async () => {
    const { key } = await server.newTenant();
    const s = await session(key);
    expect((await withCookie("DELETE", "/api/v1/portal/session", s.cookie)).status).toBe(403); // no CSRF token
    const out = await withCookie("DELETE", "/api/v1/portal/session", s.cookie, { csrf: s.csrf });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await withCookie("GET", "/api/v1/webhooks", s.cookie)).status).toBe(401);
    expect((await withCookie("GET", "/api/v1/webhooks", "webhookd_portal=" + "B".repeat(43))).status).toBe(401);
    // Revoking the key that made a session ends the session too.
    const tenant = await server.newTenant();
    const made = await session(tenant.key);
    expect((await withCookie("GET", "/api/v1/webhooks", made.cookie)).status).toBe(200);
    expect((await server.api("DELETE", `/api/v1/orgs/${tenant.orgId}/keys/${tenant.keyId}`, { key: ADMIN_KEY })).status).toBe(204);
    expect((await withCookie("GET", "/api/v1/webhooks", made.cookie)).status).toBe(401);
    // An API key's request has no portal session to describe.
    expect((await server.api("GET", "/api/v1/portal/session", { key })).status).toBe(404);
  });
});

describe("the portal's pages", () => {
  test("/portal and its assets: a strict CSP, framing by 'self' only by default", async () => {
    for (const path of ["/portal", "/portal/", "/portal/assets/portal.js", "/portal/assets/portal.css"]) {
      const res = await fetch(server.url + path);
      expect([path, res.status]).toEqual([path, 200]);
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(csp).toEndWith("frame-ancestors 'self'");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
    const page = await (await fetch(`${server.url}/portal`)).text();
    expect(page).toContain('<html lang="en" data-theme="auto">');
    expect(page).not.toContain("data-logo");
    expect((await fetch(`${server.url}/portal/assets/logo`)).status).toBe(404);
    expect(page).toContain('<script type="module" src="/portal/assets/portal.js"></script>');
    expect(page).not.toMatch(/<script>[^<]/); // no inline script
    expect((await fetch(`${server.url}/portal/assets/portal.js`)).headers.get("content-type")).toStartWith("text/javascript");
  });

  test("the bundle goes gzipped to a browser that takes gzip, as it is to one that does not", async () => {
    for (const asset of ["portal.js", "portal.css"]) {
      const plain = await fetch(`${server.url}/portal/assets/${asset}`, { headers: { "accept-encoding": "identity" } });
      expect(plain.headers.get("content-encoding")).toBeNull();
      const body = new Uint8Array(await plain.arrayBuffer());
      const zipped = await fetch(`${server.url}/portal/assets/${asset}`, { headers: { "accept-encoding": "gzip, deflate, br" }, decompress: false });
      expect(zipped.headers.get("content-encoding")).toBe("gzip");
      expect(zipped.headers.get("vary")).toBe("accept-encoding");
      const compressed = new Uint8Array(await zipped.arrayBuffer());
      expect(compressed.length).toBeLessThan(body.length / 2);
      expect(Bun.gunzipSync(compressed)).toEqual(body);
    }
  });

  test("WEBHOOKD_PORTAL_FRAME_ANCESTORS, _TITLE, _THEME, _BRAND_COLOR and _LOGO reach the page", async () => {
    const logoDir = mkdtempSync(join(tmpdir(), "webhookd-logo-"));
    const logo = join(logoDir, "logo.svg");
    writeFileSync(logo, "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><script>alert(1)</script></svg>");
    const other = await startTestServer({
      WEBHOOKD_PORTAL_LOGO: logo,
      WEBHOOKD_PORTAL_FRAME_ANCESTORS: "'self' https://app.example.com",
      WEBHOOKD_PORTAL_TITLE: "Acme <Hooks>",
      WEBHOOKD_PORTAL_BRAND_COLOR: "#aa3300",
      WEBHOOKD_PORTAL_THEME: "dark",
    });
    try {
      const res = await fetch(`${other.url}/portal`);
      expect(res.headers.get("content-security-policy")).toEndWith("frame-ancestors 'self' https://app.example.com");
      const html = await res.text();
      expect(html).toContain("<title>Acme &#60;Hooks&#62;</title>");
      expect(html).toContain('data-brand="#aa3300"');
      expect(html).toContain('<html lang="en" data-theme="dark">');
      expect(html).toContain('data-logo="/portal/assets/logo"');
      const served = await fetch(`${other.url}/portal/assets/logo`);
      expect(served.headers.get("content-type")).toBe("image/svg+xml");
      // Opened on its own, the SVG is a document: the CSP keeps its script from running.
      expect(served.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await served.text()).toContain("<svg");
    } finally {
      await other.stop();
      rmSync(logoDir, { recursive: true, force: true });
    }
  });
});

describe("GET /api/v1/webhooks/{id}/stats", () => {
  test("counts the endpoint's deliveries by status in buckets, and the success rate", async () => {
    const { key } = await server.newTenant();
    const ok = await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/ok`, events: ["call.ended"] } });
    const id = ok.body.data.id;
    const before = receiver.received.length;
    for (let i = 0; i < 3; i++) await server.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: { i } } });
    await receiver.waitFor(before + 3);
    const stats = await eventually(async () => {
      const res = await server.api("GET", `/api/v1/webhooks/${id}/stats?buckets=4`, { key });
      return res.body.data.total.succeeded === 3 ? res : null;
    });
    if (!stats) throw new Error("no stats");
    expect(stats.status).toBe(200);
    expect(stats.body.data.successRate).toBe(1);
    expect(stats.body.data.buckets).toHaveLength(4);
    expect(stats.body.data.buckets.at(-1).counts.succeeded).toBe(3);
    expect(stats.body.data.bucketSeconds).toBe(6 * 3600);
    // A range before the deliveries counts none.
    const earlier = await server.api("GET", `/api/v1/webhooks/${id}/stats?since=2024-01-01T00:00:00Z&until=2024-01-02T00:00:00Z`, { key });
    expect(earlier.body.data).toMatchObject({ total: { succeeded: 0, failed: 0, pending: 0, cancelled: 0 }, successRate: null });
  });

  test("a backwards or too wide range, or too many buckets, is a 400", async () => {
    const { key } = await server.newTenant();
    const ep = await server.api("POST", "/api/v1/webhooks", { key, body: { url: `${receiver.url}/s`, events: ["*"] } });
    const id = ep.body.data.id;
    expect((await server.api("GET", `/api/v1/webhooks/${id}/stats?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z`, { key })).status).toBe(400);
    expect((await server.api("GET", `/api/v1/webhooks/${id}/stats?since=2000-01-01T00:00:00Z&until=2025-01-01T00:00:00Z`, { key })).status).toBe(400);
    expect((await server.api("GET", `/api/v1/webhooks/${id}/stats?buckets=1000`, { key })).status).toBe(400);
    expect((await server.api("GET", `/api/v1/webhooks/${id}/stats?since=yesterday`, { key })).status).toBe(400);
  });
});

// Injected clock and logger: from source only.
describe.skipIf(TEST_TARGET === "binary")("time and logs (from source)", () => {
  test("a link not opened within 10 minutes, or a session past its expiry, stops working", async () => {
    const clock = manualClock(Date.now());
    const lines: string[] = [];
    const s = await startTestServer({ WEBHOOKD_LOG_LEVEL: "debug" }, { clock, logger: createLogger("debug", (l) => lines.push(l)) });
    try {
      const tenant = await s.newTenant();
      const late = (await s.api("POST", "/api/v1/portal/sessions", { key: tenant.key, body: {} })).body.data.url as string;
      const timely = (await s.api("POST", "/api/v1/portal/sessions", { key: tenant.key, body: { expiresInSeconds: 900 } })).body.data.url as string;
      const opened = await open(timely);
      expect(opened.status).toBe(303);
      const cookie = opened.headers.get("set-cookie")!.split(";")[0]!;
      clock.advance(10 * 60_000 + 1);
      const expired = await open(late);
      expect(expired.status).toBe(410);
      expect(await expired.text()).toContain("This link has expired");
      expect((await fetch(`${s.url}/api/v1/webhooks`, { headers: { cookie } })).status).toBe(200);
      clock.advance(5 * 60_000);
      expect((await fetch(`${s.url}/api/v1/webhooks`, { headers: { cookie } })).status).toBe(401);
      // No token or cookie value in any log line.
      for (const secret of [new URL(late).searchParams.get("token")!, new URL(timely).searchParams.get("token")!, cookie.split("=")[1]!]) {
        expect(lines.join("\n")).not.toContain(secret);
      }
    } finally {
      await s.stop();
    }
  });
});
