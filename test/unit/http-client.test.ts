import { afterEach, describe, expect, spyOn, test } from "bun:test";
import http from "node:http";
import net from "node:net";
import zlib from "node:zlib";
import {
  createHttpClient,
  type AttemptErrorCode,
  type AttemptResult,
  type PickTarget,
} from "../../src/delivery/http-client.ts";
import { vetTarget } from "../../src/security/target-guard.ts";
import { caSignedCert, selfSignedCert, type TestCert } from "../helpers/tls.ts";

const USER_AGENT = "webhookd-test/1";

/** A pickTarget that vets every URL to one fixed address, recording what it was asked. */
function pinTo(address = "127.0.0.1", family: 4 | 6 = 4) {
  const asked: URL[] = [];
  const pickTarget: PickTarget = async (url) => {
    asked.push(url);
    return { ok: true, address, family };
  };
  return { pickTarget, asked };
}

function client(options: { caCerts?: string[]; maxResponseBytes?: number; pickTarget?: PickTarget } = {}) {
  return createHttpClient({ pickTarget: pinTo().pickTarget, userAgent: USER_AGENT, ...options });
}

const send = (url: string, extra: { headers?: Record<string, string>; timeoutMs?: number; body?: string } = {}) => ({
  url,
  headers: extra.headers ?? {},
  body: extra.body ?? '{"hello":"world"}',
  timeoutMs: extra.timeoutMs ?? 5000,
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface ServeOptions {
  fetch: (req: Request) => Response | Promise<Response>;
  hostname?: string;
  port?: number;
  tls?: { cert: string; key: string };
}

function serve({ fetch, hostname = "127.0.0.1", port = 0, tls }: ServeOptions) {
  const server = Bun.serve({ hostname, port, tls, fetch });
  cleanups.push(() => server.stop(true));
  return server;
}

/** A raw TCP server for misbehaving peers; `onData` gets each socket's first request bytes. */
async function rawServer(onData: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("data", () => onData(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectFailure(result: AttemptResult, code: AttemptErrorCode, statusCode: number | null = null) {
  expect(result.error?.code).toBe(code);
  expect(result.ok).toBe(false);
  expect(result.statusCode).toBe(statusCode);
}

describe("successful delivery", () => {
  test("POSTs the body and headers, and captures status, lower-cased headers and body", async () => {
    const seen: { method: string; headers: Headers; body: string }[] = [];
    const server = serve({
      async fetch(req) {
        seen.push({ method: req.method, headers: req.headers, body: await req.text() });
        return new Response("thanks", { headers: { "X-Receiver-Id": "r-1" } });
      },
    });
    const result = await client().send(
      send(`http://127.0.0.1:${server.port}/hooks`, { headers: { "Webhook-Id": "evt_1" }, body: '{"n":1}' }),
    );
    expect(result).toMatchObject({ ok: true, statusCode: 200, responseBody: "thanks", error: null, address: "127.0.0.1" });
    expect(result.responseHeaders?.["x-receiver-id"]).toBe("r-1");
    expect(Object.keys(result.responseHeaders ?? {}).every((name) => name === name.toLowerCase())).toBe(true);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request?.method).toBe("POST");
    expect(request?.body).toBe('{"n":1}');
    expect(request?.headers.get("webhook-id")).toBe("evt_1");
    expect(request?.headers.get("user-agent")).toBe(USER_AGENT);
    // The headers as handed to fetch (Bun adds the length and its transport's own).
    expect(result.requestHeaders).toEqual({
      "content-type": "application/json",
      "webhook-id": "evt_1",
      "user-agent": USER_AGENT,
      host: `127.0.0.1:${server.port}`,
    });
  });

  test.each<{ name: string; headers: Record<string, string>; expected: string }>([
    { name: "defaults to application/json", headers: {}, expected: "application/json" },
    { name: "keeps the caller's Content-Type", headers: { "Content-Type": "text/plain" }, expected: "text/plain" },
  ])("Content-Type $name", async ({ headers, expected }) => {
    const contentTypes: (string | null)[] = [];
    const server = serve({
      fetch(req) {
        contentTypes.push(req.headers.get("content-type"));
        return new Response(null, { status: 204 });
      },
    });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`, { headers }));
    expect(result).toMatchObject({ ok: true, statusCode: 204, responseBody: "" });
    expect(contentTypes).toEqual([expected]);
  });

  test("reuses the keep-alive connection, also after a capped body was cancelled", async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      res.end(req.url === "/big" ? "x".repeat(64 * 1024) : "ok");
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as net.AddressInfo;
    const sender = client();
    for (let i = 0; i < 3; i++) {
      expect((await sender.send(send(`http://127.0.0.1:${port}/`))).ok).toBe(true);
    }
    expect(connections).toBe(1);
    expect((await sender.send(send(`http://127.0.0.1:${port}/big`))).responseBody).toHaveLength(4096);
    expect((await sender.send(send(`http://127.0.0.1:${port}/`))).responseBody).toBe("ok");
  });
});

describe("non-2xx responses", () => {
  test.each([500, 404, 429])("%d → http_status", async (status) => {
    const server = serve({ fetch: () => new Response("nope", { status }) });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`));
    expectFailure(result, "http_status", status);
    expect(result.error?.message).toContain(`HTTP ${status}`);
    expect(result.responseBody).toBe("nope");
  });

  test.each([301, 302, 307, 308])("%d is a redirect failure and is not followed", async (status) => {
    let followed = 0;
    const elsewhere = serve({
      fetch() {
        followed++;
        return new Response("followed");
      },
    });
    const location = `http://127.0.0.1:${elsewhere.port}/internal`;
    const server = serve({ fetch: () => new Response(null, { status, headers: { location } }) });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`));
    expectFailure(result, "redirect", status);
    expect(result.error?.message).toContain(location);
    expect(followed).toBe(0);
  });
});

describe("SSRF pinning", () => {
  test.each([
    { code: "blocked_address" as const, message: "resolves to 10.0.0.1 (private)" },
    { code: "dns_error" as const, message: "ENOTFOUND" },
  ])("a pickTarget refusal ($code) makes no connection", async ({ code, message }) => {
    let requests = 0;
    const server = serve({
      fetch() {
        requests++;
        return new Response("ok");
      },
    });
    const refuse: PickTarget = async () => ({ ok: false, code, message });
    const result = await client({ pickTarget: refuse }).send(send(`http://127.0.0.1:${server.port}/`));
    expectFailure(result, code);
    expect(result.error?.message).toBe(message);
    expect(result.address).toBeNull();
    // Nothing was sent, so no request headers are logged.
    expect(result.requestHeaders).toBeNull();
    expect(requests).toBe(0);
  });

  test("connects to the vetted IP while sending the original Host", async () => {
    const hosts: (string | null)[] = [];
    const server = serve({
      fetch(req) {
        hosts.push(req.headers.get("host"));
        return new Response("ok");
      },
    });
    const pin = pinTo("127.0.0.1", 4);
    const url = `http://pinned.test:${server.port}/path?q=1`;
    const result = await client({ pickTarget: pin.pickTarget }).send(send(url));
    expect(result).toMatchObject({ ok: true, address: "127.0.0.1" });
    expect(hosts).toEqual([`pinned.test:${server.port}`]);
    expect(pin.asked.map(String)).toEqual([url]);
  });

  test.skipIf(!canListenOn("127.0.0.2"))("the same URL pinned to different addresses reaches each, Host unchanged", async () => {
    const hosts: (string | null)[] = [];
    const answer = (name: string) => (req: Request) => (hosts.push(req.headers.get("host")), new Response(name));
    const first = serve({ hostname: "127.0.0.1", fetch: answer("first") });
    serve({ hostname: "127.0.0.2", port: first.port, fetch: answer("second") });
    const addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.1"];
    const asked: string[] = [];
    const pickTarget: PickTarget = (url) => {
      asked.push(url.href);
      return { ok: true, address: addresses[asked.length - 1]!, family: 4 };
    };
    const url = `http://pinned.test:${first.port}/path?q=1`;
    const sender = client({ pickTarget });
    const results = [];
    for (const _ of addresses) results.push(await sender.send(send(url)));
    expect(results.map((r) => [r.address, r.responseBody])).toEqual([
      ["127.0.0.1", "first"],
      ["127.0.0.2", "second"],
      ["127.0.0.1", "first"],
    ]);
    // The URL vetted on each attempt is still the configured one, never a pinned copy.
    expect(asked).toEqual([url, url, url]);
    expect(hosts).toEqual(Array(3).fill(`pinned.test:${first.port}`));
  });

  test("ignores HTTP_PROXY so the connection really goes to the vetted IP", async () => {
    let proxied = 0;
    const proxy = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: () => void proxied++,
        data: (socket) => void socket.end("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied"),
      },
    });
    cleanups.push(() => proxy.stop(true));
    const server = serve({ fetch: () => new Response("direct") });
    const saved = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = `http://127.0.0.1:${proxy.port}`;
    try {
      const result = await client().send(send(`http://pinned.test:${server.port}/`));
      expect(result).toMatchObject({ ok: true, responseBody: "direct" });
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
    }
    expect(proxied).toBe(0);
  });

  test.skipIf(!canListenOn("::1"))("pins to an IPv6 address", async () => {
    const hosts: (string | null)[] = [];
    const server = serve({
      hostname: "::1",
      fetch(req) {
        hosts.push(req.headers.get("host"));
        return new Response("ok");
      },
    });
    const result = await client({ pickTarget: pinTo("::1", 6).pickTarget }).send(send(`http://pinned.test:${server.port}/`));
    expect(result).toMatchObject({ ok: true, address: "::1" });
    expect(hosts).toEqual([`pinned.test:${server.port}`]);
  });

  test.each<{ name: string; url: string; address: string; code: AttemptErrorCode }>([
    { name: "a pickTarget answer that is not an IP", url: "http://example.test/", address: "example.test", code: "blocked_address" },
    { name: "a non-HTTP scheme", url: "file:///etc/passwd", address: "127.0.0.1", code: "blocked_address" },
    { name: "an unparseable URL", url: "not a url", address: "127.0.0.1", code: "network_error" },
  ])("refuses $name", async ({ url, address, code }) => {
    const result = await client({ pickTarget: pinTo(address).pickTarget }).send(send(url));
    expectFailure(result, code);
  });
});

describe("vetting with the real target guard", () => {
  /** vetTarget over a resolver that answers loopback and counts lookups; records what each vetting returned. */
  function guarded(allowPrivate = true) {
    const lookups: string[] = [];
    const returned: unknown[] = [];
    const resolver = async (host: string) => (lookups.push(host), ["127.0.0.1"]);
    const pickTarget: PickTarget = (url) => {
      const verdict = vetTarget(url, { resolver, allowPrivate });
      returned.push(verdict);
      return verdict;
    };
    return { sender: client({ pickTarget }), lookups, returned };
  }

  test("an IP-literal URL is vetted without a promise or a lookup", async () => {
    const server = serve({ fetch: () => new Response("ok") });
    const { sender, lookups, returned } = guarded();
    const result = await sender.send(send(`http://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ ok: true, responseBody: "ok", address: "127.0.0.1" });
    expect(returned).toHaveLength(1);
    expect(returned[0]).not.toBeInstanceOf(Promise);
    expect(lookups).toEqual([]);
  });

  test("a synchronous refusal makes no connection", async () => {
    let requests = 0;
    const server = serve({ fetch: () => (requests++, new Response("ok")) });
    const { sender, returned } = guarded(false);
    const result = await sender.send(send(`http://127.0.0.1:${server.port}/`));
    expectFailure(result, "blocked_address");
    expect(result.error?.message).toBe("the host 127.0.0.1 is a loopback address");
    expect(returned[0]).not.toBeInstanceOf(Promise);
    expect(requests).toBe(0);
  });

  test("a hostname is resolved again on every attempt", async () => {
    const server = serve({ fetch: () => new Response("ok") });
    const { sender, lookups, returned } = guarded();
    for (let i = 0; i < 2; i++) {
      expect(await sender.send(send(`http://hooks.test:${server.port}/`))).toMatchObject({ ok: true, address: "127.0.0.1" });
    }
    expect(lookups).toEqual(["hooks.test", "hooks.test"]);
    expect(returned.every((verdict) => verdict instanceof Promise)).toBe(true);
  });
});

describe("transport failures", () => {
  test("a server that never answers → timeout", async () => {
    const port = await rawServer(() => {});
    const result = await client().send(send(`http://127.0.0.1:${port}/`, { timeoutMs: 200 }));
    expectFailure(result, "timeout");
    expect(result.address).toBe("127.0.0.1");
  });

  test("the timeout also covers reading the body", async () => {
    const port = await rawServer((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    });
    const result = await client().send(send(`http://127.0.0.1:${port}/`, { timeoutMs: 200 }));
    expectFailure(result, "timeout", 200);
  });

  test("the timeout also covers pickTarget", async () => {
    const hang: PickTarget = () => new Promise(() => {});
    const result = await client({ pickTarget: hang }).send(send("http://slow-dns.test/", { timeoutMs: 200 }));
    expectFailure(result, "timeout");
  });

  test("a closed port → connection_refused", async () => {
    const result = await client().send(send(`http://127.0.0.1:${await closedPort()}/`));
    expectFailure(result, "connection_refused");
    expect(result.error?.message).toContain("ECONNREFUSED");
  });

  test.each([
    { name: "inside the status line", partial: "HTTP/1.1 200 O", statusCode: null },
    { name: "inside the headers", partial: "HTTP/1.1 200 OK\r\nContent-Le", statusCode: null },
    { name: "inside the body", partial: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", statusCode: 200 },
  ])("a socket closed $name → connection_reset", async ({ partial, statusCode }) => {
    const port = await rawServer((socket) => {
      socket.write(partial, () => socket.destroy());
    });
    const result = await client().send(send(`http://127.0.0.1:${port}/`));
    expectFailure(result, "connection_reset", statusCode);
  });
});

describe("response body cap", () => {
  test("a body that never ends is cut at 4096 bytes and the stream is cancelled", async () => {
    const { promise: cancelled, resolve: onCancel } = Promise.withResolvers<void>();
    const chunk = new Uint8Array(16 * 1024).fill("a".charCodeAt(0));
    const server = serve({
      fetch: () =>
        new Response(
          new ReadableStream({ pull: (controller) => controller.enqueue(chunk), cancel: () => onCancel() }, { highWaterMark: 0 }),
        ),
    });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ ok: true, statusCode: 200 });
    expect(result.responseBody).toBe("a".repeat(4096));
    await cancelled;
  });

  test("a 100 MB body is cut at 4096 bytes without being transferred", async () => {
    const total = 100 * 1024 * 1024;
    const chunk = new Uint8Array(64 * 1024).fill("b".charCodeAt(0));
    let sent = 0;
    const { promise: outcome, resolve: settle } = Promise.withResolvers<"cancelled" | "fully sent">();
    const server = serve({
      fetch: () =>
        new Response(
          new ReadableStream(
            {
              pull(controller) {
                controller.enqueue(chunk);
                sent += chunk.length;
                if (sent >= total) {
                  controller.close();
                  settle("fully sent");
                }
              },
              cancel: () => settle("cancelled"),
            },
            { highWaterMark: 0 },
          ),
          { headers: { "Content-Length": String(total) } },
        ),
    });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ ok: true, statusCode: 200 });
    expect(result.responseBody).toBe("b".repeat(4096));
    expect(await outcome).toBe("cancelled");
  });

  test.each([
    { name: "ASCII", body: "abcdefgh", max: 5, expected: "abcde" },
    { name: "a multi-byte character cut in half", body: "ééé", max: 5, expected: "éé\uFFFD" },
    { name: "a body shorter than the cap", body: "ok", max: 5, expected: "ok" },
  ])("maxResponseBytes with $name", async ({ body, max, expected }) => {
    const server = serve({ fetch: () => new Response(body) });
    const result = await client({ maxResponseBytes: max }).send(send(`http://127.0.0.1:${server.port}/`));
    expect(result.responseBody).toBe(expected);
  });
});

describe("response header cap", () => {
  test("Retry-After is read even when the headers before it are over the stored cap", async () => {
    const server = serve({
      fetch() {
        const headers = new Headers();
        for (let i = 0; i < 60; i++) headers.set(`a-filler-${i}`, "f".repeat(200));
        headers.set("retry-after", "120");
        return new Response("busy", { status: 503, headers });
      },
    });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`));
    expect(result.retryAfter).toBe("120");
    expect(result.responseHeaders?.["retry-after"]).toBeUndefined();
    expect(result.responseHeaders?.["(truncated)"]).toMatch(/^\d+ more headers/);
  });
});

describe("response bodies with a Content-Length", () => {
  const gzipBomb = zlib.gzipSync("z".repeat(1 << 20));

  /** Counts whole-body reads (the fast path), as opposed to the capped stream reader. */
  function wholeReads() {
    const spy = spyOn(Response.prototype, "text");
    cleanups.push(() => spy.mockRestore());
    return spy;
  }

  /** A raw server answering every request with `head` (CRLF-joined, ending the header block) then `body`. */
  function answer(head: string[], body: Uint8Array | string): Promise<number> {
    return rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\n${head.map((line) => `${line}\r\n`).join("")}\r\n`);
      socket.write(body);
    });
  }

  test("a body within the cap is read whole", async () => {
    const reads = wholeReads();
    const server = serve({ fetch: () => new Response("x".repeat(4096)) });
    const result = await client().send(send(`http://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ ok: true, responseBody: "x".repeat(4096) });
    expect(result.responseHeaders?.["content-length"]).toBe("4096");
    expect(reads).toHaveBeenCalledTimes(1);
  });

  test("invalid UTF-8 read whole is replaced as the stream reader would", async () => {
    const bytes = new Uint8Array([0x61, 0xff, 0xc3, 0x62, 0xe2, 0x82]);
    const reads = wholeReads();
    const port = await answer([`Content-Length: ${bytes.length}`], bytes);
    const result = await client().send(send(`http://127.0.0.1:${port}/`));
    expect(result.responseBody).toBe("a\uFFFD\uFFFDb\uFFFD");
    expect(result.responseBody).toBe(new TextDecoder().decode(bytes));
    expect(reads).toHaveBeenCalledTimes(1);
  });

  test("a Content-Length over the cap is still cut at the cap", async () => {
    const reads = wholeReads();
    const port = await answer(["Content-Length: 10000"], "c".repeat(10_000));
    const result = await client().send(send(`http://127.0.0.1:${port}/`));
    expect(result).toMatchObject({ ok: true, responseBody: "c".repeat(4096) });
    expect(reads).not.toHaveBeenCalled();
  });

  test("a Content-Length promising more than arrives → timeout, as with the reader", async () => {
    const port = await answer(["Content-Length: 100"], "abc");
    const result = await client().send(send(`http://127.0.0.1:${port}/`, { timeoutMs: 200 }));
    expectFailure(result, "timeout", 200);
  });

  test.each<{ name: string; head: string[]; body: Uint8Array | string; expected: string }>([
    {
      // Chunked framing wins over Content-Length, so the length says nothing about the size.
      name: "alongside Transfer-Encoding",
      head: ["Content-Length: 3", "Transfer-Encoding: chunked"],
      body: `1000\r\n${"t".repeat(4096)}\r\n1000\r\n${"t".repeat(4096)}\r\n0\r\n\r\n`,
      expected: "t".repeat(4096),
    },
    {
      // About 1 KB of gzip that fetch inflates to 1 MB.
      name: "of a compressed body",
      head: ["Content-Encoding: gzip", `Content-Length: ${gzipBomb.length}`],
      body: gzipBomb,
      expected: "z".repeat(4096),
    },
  ])("a small Content-Length $name does not bypass the cap", async ({ head, body, expected }) => {
    const reads = wholeReads();
    const port = await answer(head, body);
    const result = await client().send(send(`http://127.0.0.1:${port}/`));
    expect(result).toMatchObject({ ok: true, responseBody: expected });
    expect(reads).not.toHaveBeenCalled();
  });
});

describe("https", () => {
  const localhost = selfSignedCert(["DNS:localhost", "IP:127.0.0.1"]);
  const otherName = selfSignedCert(["DNS:other.example"]);
  const caIssued = caSignedCert(["DNS:localhost"]);

  function tlsServer(cert: TestCert) {
    return serve({ tls: { cert: cert.cert, key: cert.key }, fetch: () => new Response("secure") });
  }

  test.each<{ name: string; cert: TestCert; host: string; caCerts?: string[]; outcome: "ok" | "tls_error" }>([
    { name: "self-signed, trusted via caCerts", cert: localhost, host: "localhost", caCerts: [localhost.trust], outcome: "ok" },
    { name: "self-signed, addressed by IP", cert: localhost, host: "127.0.0.1", caCerts: [localhost.trust], outcome: "ok" },
    { name: "CA-issued, CA trusted", cert: caIssued, host: "localhost", caCerts: [caIssued.trust], outcome: "ok" },
    { name: "self-signed, not trusted", cert: localhost, host: "localhost", caCerts: undefined, outcome: "tls_error" },
    { name: "CA-issued, CA not trusted", cert: caIssued, host: "localhost", caCerts: undefined, outcome: "tls_error" },
    { name: "certificate for another name", cert: otherName, host: "localhost", caCerts: [otherName.trust], outcome: "tls_error" },
  ])("$name → $outcome", async ({ cert, host, caCerts, outcome }) => {
    const server = tlsServer(cert);
    const result = await client({ caCerts }).send(send(`https://${host}:${server.port}/`));
    if (outcome === "ok") {
      expect(result).toMatchObject({ ok: true, statusCode: 200, responseBody: "secure", address: "127.0.0.1" });
    } else {
      expectFailure(result, outcome);
    }
  });

  test("the certificate is checked against the URL's host name, not the pinned IP", async () => {
    const dnsOnly = selfSignedCert(["DNS:localhost"]);
    const server = tlsServer(dnsOnly);
    const trusting = client({ caCerts: [dnsOnly.trust] });
    expect((await trusting.send(send(`https://localhost:${server.port}/`))).ok).toBe(true);
    expectFailure(await trusting.send(send(`https://pinned.test:${server.port}/`)), "tls_error");
  });

  test("a plain-HTTP server on an https URL → tls_error", async () => {
    const server = serve({ fetch: () => new Response("plain") });
    expectFailure(await client().send(send(`https://localhost:${server.port}/`)), "tls_error");
  });
});

function canListenOn(hostname: string): boolean {
  try {
    Bun.serve({ hostname, port: 0, fetch: () => new Response() }).stop(true);
    return true;
  } catch {
    return false;
  }
}
