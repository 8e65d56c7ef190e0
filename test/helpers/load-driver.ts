/**
 * Load driver, run as its own process (`bun test/helpers/load-driver.ts`) so the receivers and
 * publishers of an overload test do not share the server's event loop: what the test measures
 * (latency, memory) is then the server's, not its own load generator's.
 *
 * It is a webhook receiver (answers 200 after RECEIVER_DELAY_MS, keeps a ledger of webhook-id
 * per path) with two control routes:
 *   POST /__publish {url, key, rate, ms}  publishes `rate` events/s for `ms`, answers
 *                                          {sent, acked: [ids], refused} when done
 *   GET  /__ledger                         {counts: {"<path> <webhook-id>": n}, total}
 * Prints `{"url": ...}` on stdout once listening.
 */
const delayMs = Number(process.env.RECEIVER_DELAY_MS ?? "50");
const counts: Record<string, number> = {};
let total = 0;

async function publish(opts: { url: string; key: string; rate: number; ms: number }) {
  const acked: string[] = [];
  let refused = 0;
  const inflight = new Set<Promise<void>>();
  const one = (n: number) => {
    const p = fetch(`${opts.url}/api/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": opts.key },
      body: JSON.stringify({ event: "call.ended", data: { n, pad: "x".repeat(200) } }),
    })
      .then(async (res) => {
        const body = (await res.json()) as { data?: { id: string } };
        if (res.status === 202 && body.data) acked.push(body.data.id);
        else refused++;
      })
      .catch(() => void refused++)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const started = performance.now();
  let sent = 0;
  // Paced: `rate` per second in 20 ms ticks, at most 256 requests outstanding.
  while (performance.now() - started < opts.ms) {
    const due = Math.floor(((performance.now() - started) / 1000) * opts.rate);
    while (sent < due && inflight.size < 256) one(sent++);
    await Bun.sleep(20);
  }
  await Promise.all([...inflight]);
  return { sent, acked, refused, seconds: (performance.now() - started) / 1000 };
}

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/__publish") return Response.json(await publish((await req.json()) as Parameters<typeof publish>[0]));
    if (path === "/__ledger") return Response.json({ counts, total });
    const id = req.headers.get("webhook-id") ?? "(none)";
    await req.arrayBuffer();
    const k = `${path} ${id}`;
    counts[k] = (counts[k] ?? 0) + 1;
    total++;
    if (delayMs > 0) await Bun.sleep(delayMs);
    return new Response("ok");
  },
});
process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }) + "\n");
