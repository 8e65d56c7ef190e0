/**
 * The publishing client, in its own process. Modes:
 * - "closed": `count` single-event publishes from `concurrency` loops (publish throughput);
 * - "open": publishes at a fixed `rate` for `durationMs`, at most `cap` in flight, with
 *   `data.sentAt` = request start (end-to-end latency), or with `from: "slot"` the time the
 *   schedule had it due, so a publish that went out late (the cap reached, the client behind)
 *   counts its wait too;
 * - "batch": `events` events through /batch in batches of 1000, `concurrency` at once.
 * Reports one JSON line: `{t0, t1, sent, ok, failed, ...}` (epoch ms).
 */
import { childArgs, epochMs, EVENT_TYPE, eventData, report } from "./payload.ts";

interface Args {
  mode: "closed" | "open" | "batch";
  url: string;
  key: string;
  count?: number;
  concurrency?: number;
  rate?: number;
  durationMs?: number;
  cap?: number;
  events?: number;
  from?: "send" | "slot";
}

const args = childArgs<Args>();
const headers = { "content-type": "application/json", "x-api-key": args.key };
let ok = 0;
let failed = 0;
let firstError: string | null = null;

async function post(path: string, body: string): Promise<void> {
  try {
    const res = await fetch(args.url + path, { method: "POST", headers, body });
    const text = await res.text();
    if (res.status === 202) ok++;
    else {
      failed++;
      firstError ??= `${res.status} ${text.slice(0, 200)}`;
    }
  } catch (err) {
    failed++;
    firstError ??= String(err);
  }
}

const single = (seq: number, extra?: Record<string, unknown>) => JSON.stringify({ event: EVENT_TYPE, data: eventData(seq, extra) });

async function closed(count: number, concurrency: number) {
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < count; i = next++) await post("/api/v1/events", single(i));
  };
  const t0 = epochMs();
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { t0, t1: epochMs(), sent: count };
}

async function open(rate: number, durationMs: number, cap: number, from: "send" | "slot") {
  const total = Math.round((rate * durationMs) / 1000);
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  let maxLagMs = 0;
  const t0 = epochMs();
  while (sent < total) {
    const now = epochMs();
    // Everything whose slot has come, unless the cap is reached (then it goes out late).
    while (sent < total && t0 + (sent * 1000) / rate <= now && inflight.size < cap) {
      const slot = t0 + (sent * 1000) / rate;
      maxLagMs = Math.max(maxLagMs, now - slot);
      const p = post("/api/v1/events", single(sent, { sentAt: from === "slot" ? slot : epochMs() })).finally(() => inflight.delete(p));
      inflight.add(p);
      sent++;
    }
    await Bun.sleep(1);
  }
  const lastSendAt = epochMs();
  await Promise.all(inflight);
  return { t0, t1: epochMs(), sent, achievedRate: (sent * 1000) / (lastSendAt - t0), maxLagMs };
}

async function batch(events: number, concurrency: number) {
  const bodies: string[] = [];
  for (let start = 0; start < events; start += 1000) {
    const items = Array.from({ length: Math.min(1000, events - start) }, (_, k) => ({ event: EVENT_TYPE, data: eventData(start + k) }));
    bodies.push(JSON.stringify({ events: items }));
  }
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < bodies.length; i = next++) await post("/api/v1/events/batch", bodies[i]!);
  };
  const t0 = epochMs();
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { t0, t1: epochMs(), sent: bodies.length };
}

const result =
  args.mode === "closed"
    ? await closed(args.count!, args.concurrency!)
    : args.mode === "open"
      ? await open(args.rate!, args.durationMs!, args.cap!, args.from ?? "send")
      : await batch(args.events!, args.concurrency!);
report({ ...result, ok, failed, firstError });
