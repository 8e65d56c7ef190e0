/** GET /metrics: Prometheus text whose delivery-engine series move when events are published. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer, ON_SQLITE } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { expectOk } from "../helpers/assert.ts";
import { join } from "node:path";

/** Every sample line as `name{labels}` -> value; labels as the server wrote them. */
async function scrape(s: TestServer): Promise<Map<string, number>> {
  const res = await fetch(`${s.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain");
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

const value = (m: Map<string, number>, name: string) => m.get(name) ?? 0;

/** Publish requests answered 202 (the route may be written with or without its trailing slash). */
const published202 = (m: Map<string, number>) =>
  [...m].filter(([k]) => /^webhookd_http_requests_total\{method="POST",route="\/api\/v1\/events\/?",status="202"\}$/.test(k)).reduce((sum, [, v]) => sum + v, 0);

let s: TestServer;
let r: Receiver;
beforeAll(async () => {
  s = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "10s", WEBHOOKD_CONCURRENCY: "1" });
  r = startReceiver((req) => (req.path === "/fail" ? { status: 500 } : req.path === "/slow" ? { status: 200, delayMs: 500 } : { status: 200 }));
});
afterAll(async () => {
  r.stop();
  await s.stop();
});

describe("GET /metrics", () => {
  test("declares every series with HELP and TYPE", async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const [name, type] of [
      ["webhookd_events_published_total", "counter"],
      ["webhookd_deliveries_total", "counter"],
      ["webhookd_attempts_total", "counter"],
      ["webhookd_attempt_duration_seconds", "histogram"],
      ["webhookd_due_queue_depth", "gauge"],
      ["webhookd_scheduled_retries", "gauge"],
      ["webhookd_http_requests_total", "counter"],
      ["webhookd_storage_commit_seconds", "histogram"],
      ["webhookd_storage_flush_seconds", "histogram"],
      ["webhookd_storage_lock_wait_seconds", "histogram"],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, "m"));
    }
  });

  test("the README's metrics table lists exactly the series the server declares, with their types", async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const declared = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    const readme = await Bun.file(join(import.meta.dir, "../../README.md")).text();
    const section = readme.slice(readme.indexOf("### Metrics"), readme.indexOf("### The endpoint object"));
    // A series documented "(SQLite only)" is declared by that adapter alone.
    const documented = [...section.matchAll(/^\| `(webhookd_\w+)` \| (\w+) \|(.*)$/gm)]
      .filter((m) => ON_SQLITE || !m[3]!.includes("(SQLite only)"))
      .map((m) => `${m[1]} ${m[2]}`)
      .sort();
    expect(documented).toEqual(declared);
  });

  test("counters and the histogram move after a publish and its delivery", async () => {
    const { key } = await s.newTenant();
    expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/ok`, events: ["call.ended"] } }), 201);
    const before = await scrape(s);
    expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "call.ended", data: {} } }), 202);
    await r.waitFor(1);
    const after = (await eventually(async () => {
      const m = await scrape(s);
      return value(m, 'webhookd_deliveries_total{outcome="succeeded"}') > value(before, 'webhookd_deliveries_total{outcome="succeeded"}') ? m : null;
    }))!;
    const delta = (name: string) => value(after, name) - value(before, name);
    expect(delta("webhookd_events_published_total")).toBe(1);
    expect(delta('webhookd_deliveries_total{outcome="succeeded"}')).toBe(1);
    expect(delta('webhookd_attempts_total{outcome="ok",trigger="scheduled"}')).toBe(1);
    expect(delta("webhookd_attempt_duration_seconds_count")).toBe(1);
    expect(delta('webhookd_attempt_duration_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(delta("webhookd_attempt_duration_seconds_sum")).toBeGreaterThan(0);
    expect(published202(after) - published202(before)).toBe(1);
    // The publish committed, then waited for a flush of the log; the delivery's outcome committed
    // too. These time SQLite's group commit; PostgreSQL's commits are the server's to report.
    if (ON_SQLITE) {
      expect(delta("webhookd_storage_commit_seconds_count")).toBeGreaterThanOrEqual(2);
      expect(delta("webhookd_storage_flush_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(delta("webhookd_storage_flush_seconds_sum")).toBeGreaterThan(0);
    }
    expect(delta("webhookd_storage_lock_wait_seconds_count")).toBe(0);
    // Buckets are cumulative.
    const buckets = [...after].filter(([k]) => k.startsWith("webhookd_attempt_duration_seconds_bucket")).map(([, v]) => v);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  test("a failed attempt counts by its error code and waits in the wheel as a scheduled retry", async () => {
    const { key } = await s.newTenant();
    expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/fail`, events: ["contact.created"] } }), 201);
    const before = await scrape(s);
    expectOk(await s.api("POST", "/api/v1/events", { key, body: { event: "contact.created", data: {} } }), 202);
    const after = (await eventually(async () => {
      const m = await scrape(s);
      return value(m, "webhookd_scheduled_retries") > value(before, "webhookd_scheduled_retries") ? m : null;
    }))!;
    expect(value(after, "webhookd_scheduled_retries") - value(before, "webhookd_scheduled_retries")).toBe(1);
    expect(value(after, 'webhookd_attempts_total{outcome="http_status",trigger="scheduled"}') - value(before, 'webhookd_attempts_total{outcome="http_status",trigger="scheduled"}')).toBe(1);
    expect(value(after, "webhookd_retries_scheduled_total") - value(before, "webhookd_retries_scheduled_total")).toBe(1);
    expect(published202(after) - published202(before)).toBe(1);
  });

  test("webhookd_http_requests_total counts the status actually sent, idempotent replays and errors included", async () => {
    const { key } = await s.newTenant();
    const before = await scrape(s);
    const body = { event: "contact.updated", data: {} };
    for (let i = 0; i < 2; i++) {
      const res = await s.api("POST", "/api/v1/events", { key, body, headers: { "idempotency-key": "metrics-replay" } });
      expect(res.status).toBe(202);
    }
    expect((await s.api("POST", "/api/v1/events", { key, body: { event: "nope", data: {} } })).status).toBe(400);
    const after = await scrape(s);
    expect(published202(after) - published202(before)).toBe(2);
    const errors = (m: Map<string, number>) => [...m].filter(([k]) => /route="\/api\/v1\/events\/?",status="400"/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect(errors(after) - errors(before)).toBe(1);
    expect([...after.keys()].some((k) => /route="\/api\/v1\/events\/?",status="200"/.test(k))).toBe(false);
  });

  test("webhookd_due_queue_depth shows deliveries waiting for a slot, then drains to 0", async () => {
    const { key } = await s.newTenant();
    expectOk(await s.api("POST", "/api/v1/webhooks", { key, body: { url: `${r.url}/slow`, events: ["call.started"] } }), 201);
    const events = Array.from({ length: 3 }, (_, n) => ({ event: "call.started", data: { n } }));
    expectOk(await s.api("POST", "/api/v1/events/batch", { key, body: { events } }), 202);
    // WEBHOOKD_CONCURRENCY=1 and 500 ms per request: right after publishing, all three are waiting or in flight.
    expect(value(await scrape(s), "webhookd_due_queue_depth")).toBeGreaterThanOrEqual(2);
    await eventually(async () => value(await scrape(s), "webhookd_due_queue_depth") === 0, 10_000);
    expect(r.received.filter((x) => x.path === "/slow")).toHaveLength(3);
  });
});
