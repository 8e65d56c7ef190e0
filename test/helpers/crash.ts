/**
 * Pieces of the "nothing accepted is lost" suites: a receiver that keeps a ledger of which
 * event (webhook-id) reached which endpoint (path) how many times, a publisher loop that keeps
 * the ids of the events the server acknowledged with a 2xx, and the audit that compares them.
 */

export interface Ledger {
  url: string;
  /** `${path} ${webhook-id}` -> times received. */
  readonly counts: Map<string, number>;
  /** Requests received in total. */
  readonly total: number;
  stop(): void;
}

/**
 * A loopback receiver that records every delivery and answers 200 after `delayMs()` (so attempts
 * are really in flight when something happens to the server).
 */
export function startLedgerReceiver(delayMs: () => number = () => 0): Ledger {
  const counts = new Map<string, number>();
  let total = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const id = req.headers.get("webhook-id") ?? "(none)";
      const path = new URL(req.url).pathname;
      await req.arrayBuffer();
      // Counted on arrival: a request whose answer never made it back still reached the receiver.
      const k = `${path} ${id}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      total++;
      const wait = delayMs();
      if (wait > 0) await Bun.sleep(wait);
      return new Response("ok");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    counts,
    get total() {
      return total;
    },
    stop: () => server.stop(true),
  };
}

export interface Audit {
  acked: number;
  /** Acknowledged events that have not reached some endpoint yet: `${path} ${id}`. */
  missing: string[];
  /** Deliveries received more than once: sum over (endpoint, event) of (times - 1). */
  duplicates: number;
  /** Distinct (endpoint, event) pairs received more than once. */
  duplicatedPairs: number;
}

/** Compares what the server acknowledged with what every endpoint path received. */
export function audit(acked: Iterable<string>, ledger: Ledger, paths: string[]): Audit {
  const ids = [...acked];
  const missing: string[] = [];
  for (const id of ids) for (const p of paths) if (!ledger.counts.has(`${p} ${id}`)) missing.push(`${p} ${id}`);
  let duplicates = 0;
  let duplicatedPairs = 0;
  for (const n of ledger.counts.values()) {
    if (n > 1) {
      duplicates += n - 1;
      duplicatedPairs++;
    }
  }
  return { acked: ids.length, missing, duplicates, duplicatedPairs };
}

export interface PublishLoop {
  /** Ids of events answered with a 2xx. */
  readonly acked: Set<string>;
  /** Requests that failed at the transport (server down) or with a non-2xx. */
  readonly failures: number;
  /** Resolves when every worker has stopped. */
  stop(): Promise<void>;
}

/**
 * `workers` loops publishing one event per request to whatever `baseUrl()` says now (it changes
 * when the server restarts on another port). A 2xx adds the id to `acked`; anything else is
 * counted and retried with a new event after a short pause.
 */
export function publishLoop(opts: {
  baseUrl: () => string | null;
  key: string;
  workers: number;
  event?: string;
  /** Pause between two publishes of one worker (0: as fast as the server answers). */
  pauseMs?: number;
  onAccepted?: (id: string, ms: number) => void;
  /** Every HTTP answer's status (transport failures have none). */
  onStatus?: (status: number) => void;
}): PublishLoop {
  const acked = new Set<string>();
  let failures = 0;
  let running = true;
  let n = 0;
  const worker = async (w: number) => {
    while (running) {
      const base = opts.baseUrl();
      if (!base) {
        await Bun.sleep(10);
        continue;
      }
      const started = performance.now();
      try {
        const res = await fetch(`${base}/api/v1/events`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": opts.key },
          body: JSON.stringify({ event: opts.event ?? "call.ended", data: { worker: w, n: n++ } }),
        });
        opts.onStatus?.(res.status);
        const body = (await res.json().catch(() => null)) as { data?: { id?: string } } | null;
        if (res.status >= 200 && res.status < 300 && body?.data?.id) {
          acked.add(body.data.id);
          opts.onAccepted?.(body.data.id, performance.now() - started);
        } else failures++;
      } catch {
        failures++;
        await Bun.sleep(20);
      }
      if (opts.pauseMs) await Bun.sleep(opts.pauseMs);
    }
  };
  const all = Promise.all(Array.from({ length: opts.workers }, (_, w) => worker(w)));
  return {
    acked,
    get failures() {
      return failures;
    },
    async stop() {
      running = false;
      await all;
    },
  };
}

/**
 * Waits until nothing is missing and returns the final audit; gives up when nothing new has
 * arrived for `stallMs` (a lost delivery never comes) or at `timeoutMs`. A backlog still being
 * delivered (publishing outpaces a slow receiver) keeps it waiting, however long it is.
 */
export async function settle(acked: Set<string>, ledger: Ledger, paths: string[], { stallMs, timeoutMs }: { stallMs: number; timeoutMs: number }): Promise<Audit> {
  const deadline = Date.now() + timeoutMs;
  let seen = ledger.total;
  let lastProgress = Date.now();
  for (;;) {
    const a = audit(acked, ledger, paths);
    if (a.missing.length === 0 || Date.now() > deadline || Date.now() - lastProgress > stallMs) return a;
    await Bun.sleep(100);
    if (ledger.total !== seen) {
      seen = ledger.total;
      lastProgress = Date.now();
    }
  }
}
