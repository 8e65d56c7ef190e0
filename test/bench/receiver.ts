/**
 * The webhook receiver, in its own process: counts requests and distinct deliveries, answers 200,
 * records arrival times and, when the body carries `data.sentAt`, the end-to-end latency. A path
 * `/slow/<ms>/...` answers only after <ms> (a slow tenant's endpoint); a path `/fail-first/...`
 * answers 500 to the first attempt of each webhook-id (an endpoint whose deliveries are retried).
 * Controlled over HTTP under /_bench/.
 * Prints `{"url": ...}` once listening.
 */
import { epochMs, exitWithParent, report } from "./payload.ts";

/** Requests, and distinct deliveries among them (URL + webhook-id: a redelivery is not new). */
let count = 0;
let seen = new Set<string>();
let firstAt = 0;
/** Arrival of the latest distinct delivery. */
let lastAt = 0;
let latencies: number[] = [];
/** /fail-first/: webhook-id -> [first arrival, retry arrival]. */
let attempts = new Map<string, [number, number]>();
let waiters: Array<{ n: number; of: "count" | "unique"; resolve: () => void }> = [];

function stats() {
  return { count, unique: seen.size, firstAt, lastAt };
}

async function receive(req: Request): Promise<Response> {
  const at = epochMs();
  const body = await req.text();
  const id = req.headers.get("webhook-id") ?? "";
  count++;
  const key = `${req.url} ${id}`;
  if (!seen.has(key)) {
    seen.add(key);
    if (seen.size === 1) firstAt = at;
    lastAt = at;
    // Only the latency scenarios' bodies carry sentAt: the others are read and counted, not parsed,
    // so the receiver's own cost hides as little as it can of the sender's.
    if (body.includes('"sentAt":')) {
      const sentAt = (JSON.parse(body) as { data?: { sentAt?: number } }).data?.sentAt;
      if (typeof sentAt === "number") latencies.push(at - sentAt);
    }
  }
  if (waiters.length) waiters = waiters.filter((w) => ((w.of === "count" ? count : seen.size) >= w.n ? (w.resolve(), false) : true));
  if (req.url.includes("/slow/")) await Bun.sleep(Number(/\/slow\/(\d+)\//.exec(req.url)?.[1] ?? 0));
  if (req.url.includes("/fail-first/")) {
    const times = attempts.get(id);
    if (!times) {
      attempts.set(id, [at, 0]);
      return new Response("not yet", { status: 500 });
    }
    if (times[1] === 0) times[1] = at;
  }
  return new Response("ok");
}

async function control(path: string, url: URL, req: Request): Promise<Response> {
  switch (path) {
    case "/_bench/reset": {
      count = firstAt = lastAt = 0;
      seen = new Set();
      latencies = [];
      attempts = new Map();
      return Response.json(stats());
    }
    case "/_bench/wait": {
      // Resolves once `n` distinct deliveries (or with of=count, requests) arrived, or after `timeoutMs`.
      const n = Number(url.searchParams.get("n"));
      const of = url.searchParams.get("of") === "count" ? "count" : "unique";
      const timeoutMs = Number(url.searchParams.get("timeoutMs") ?? 60_000);
      if ((of === "count" ? count : seen.size) < n) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiters.push({ n, of, resolve: () => (clearTimeout(timer), resolve()) });
        });
      }
      return Response.json(stats());
    }
    case "/_bench/latencies":
      return Response.json(latencies);
    case "/_bench/attempts":
      return Response.json(Object.fromEntries(attempts));
    default:
      return new Response("unknown control path", { status: 404 });
  }
}

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  idleTimeout: 120,
  fetch(req) {
    if (!req.url.includes("/_bench/")) return receive(req);
    const url = new URL(req.url);
    return control(url.pathname, url, req);
  },
});
report({ url: `http://127.0.0.1:${server.port}` });
exitWithParent();
