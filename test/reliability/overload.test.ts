/**
 * Overload: events are published faster than the receivers can take them (every answer takes
 * 50 ms, the dispatcher may run 16 attempts at once: at most ~320 deliveries/s, against ~500/s
 * published). Memory must stay bounded, the API must stay responsive (p99 of GET
 * /api/v1/webhooks, sampled every 100 ms, under 100 ms), and once publishing stops the backlog
 * must drain with every accepted event delivered to both endpoints.
 *
 * 10 s of publishing by default; WEBHOOKD_SOAK=1 publishes for 60 s.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { audit, type Audit, type Ledger } from "../helpers/crash.ts";

const SOAK = process.env.WEBHOOKD_SOAK === "1";
const PUBLISH_MS = SOAK ? 60_000 : 10_000;
/** Events per second published (each goes to 2 endpoints). */
const RATE = 250;
const RECEIVER_DELAY_MS = 50;
const CONCURRENCY = 16;
setDefaultTimeout(30_000);

let s: TestServer | null = null;
let driver: Bun.Subprocess<"ignore", "pipe", "inherit"> | null = null;
afterAll(async () => {
  driver?.kill();
  await s?.stop();
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Receivers and publishers in their own process (test/helpers/load-driver.ts). */
async function startDriver(): Promise<string> {
  driver = Bun.spawn([process.execPath, join(import.meta.dir, "../helpers/load-driver.ts")], {
    env: { ...process.env, RECEIVER_DELAY_MS: String(RECEIVER_DELAY_MS) },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = driver.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`load driver exited: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return JSON.parse(out.split("\n")[0]!).url as string;
}

async function ledgerOf(driverUrl: string): Promise<Ledger> {
  const { counts, total } = (await (await fetch(`${driverUrl}/__ledger`)).json()) as { counts: Record<string, number>; total: number };
  return { url: driverUrl, counts: new Map(Object.entries(counts)), total, stop() {} };
}

test(`publishing ${RATE * 2} deliveries/s for ${PUBLISH_MS / 1000} s into ~${(CONCURRENCY * 1000) / RECEIVER_DELAY_MS}/s of capacity`, async () => {
  const driverUrl = await startDriver();
  s = await startTestServer({
    WEBHOOKD_CONCURRENCY: String(CONCURRENCY),
    WEBHOOKD_ENDPOINT_CONCURRENCY: String(CONCURRENCY),
    WEBHOOKD_RETRY_SCHEDULE: "1s,2s,5s",
  });
  const { key } = await s.newTenant();
  const endpointIds: string[] = [];
  for (const path of ["/a", "/b"]) {
    const created = await s.api("POST", "/api/v1/webhooks", { key, body: { url: driverUrl + path } });
    expect(created.status).toBe(201);
    endpointIds.push(created.body.data.id);
  }

  Bun.gc(true);
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  let backlogPeak = 0;
  const latencies: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const t0 = performance.now();
      const res = await fetch(`${s!.url}/api/v1/webhooks`, { headers: { "x-api-key": key } });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      expect(res.status).toBe(200);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      backlogPeak = Math.max(backlogPeak, s!.app.services.engine.backlog);
      await Bun.sleep(Math.max(0, 100 - (performance.now() - t0)));
    }
  })();

  const published = (await (
    await fetch(`${driverUrl}/__publish`, { method: "POST", body: JSON.stringify({ url: s.url, key, rate: RATE, ms: PUBLISH_MS }) })
  ).json()) as { sent: number; acked: string[]; refused: number; seconds: number };
  const publishLatencies = latencies.length;
  const deliveredAtStop = (await ledgerOf(driverUrl)).total;

  const drainStart = performance.now();
  let result: Audit;
  for (;;) {
    result = audit(published.acked, await ledgerOf(driverUrl), ["/a", "/b"]);
    if (result.missing.length === 0 || performance.now() - drainStart > (SOAK ? 300_000 : 90_000)) break;
    await Bun.sleep(200);
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;
  sampling = false;
  await sampler;
  Bun.gc(true);
  const rssEnd = process.memoryUsage().rss;

  const during = latencies.slice(0, publishLatencies);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `[overload] published ${published.sent} in ${published.seconds.toFixed(1)} s (${published.acked.length} accepted, ${published.refused} refused); ` +
      `delivered ${deliveredAtStop} while publishing, peak dispatcher backlog ${backlogPeak}; drained the rest in ${drainSeconds.toFixed(1)} s; ` +
      `GET /api/v1/webhooks: ${latencies.length} samples, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
      `(while publishing ${percentile(during, 99).toFixed(1)} ms), max ${Math.max(...latencies).toFixed(1)} ms; ` +
      `rss start ${mb(rssStart)} MB, peak ${mb(rssPeak)} MB, end ${mb(rssEnd)} MB; duplicates ${result.duplicates}`,
  );

  // It really was overloaded: the receivers were behind when publishing stopped.
  expect(published.acked.length * 2).toBeGreaterThan(deliveredAtStop + 500);
  expect(published.refused).toBe(0);
  expect(published.acked.length).toBe(published.sent);
  // Nothing lost.
  expect(result.missing).toEqual([]);
  // Responsive.
  expect(latencies.length).toBeGreaterThan(PUBLISH_MS / 200);
  expect(p99).toBeLessThan(100);
  // Bounded: memory follows the concurrency and the window, not the number of events.
  expect(rssPeak - rssStart).toBeLessThan(300 * 1024 * 1024);

  // Every delivery row succeeded: none pending, failed or cancelled (read through the store, on any backend).
  const { store } = s.app.services;
  for (const id of endpointIds) {
    expect(await store.deliveries.countUpTo(id, { status: "pending" }, 1)).toBe(0);
    expect(await store.deliveries.countUpTo(id, { success: false }, 1)).toBe(0);
  }
}, SOAK ? 600_000 : 150_000);
