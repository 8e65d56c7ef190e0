/**
 * A webhook receiver on loopback that records every request and answers as the test says
 * (status, headers, delay), so tests can watch deliveries, retries and failures arrive.
 */
import { Webhook } from "standardwebhooks";

export interface Received {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type Responder = (req: Received, index: number) => { status?: number; headers?: Record<string, string>; delayMs?: number; body?: string };

export interface Receiver {
  url: string;
  received: Received[];
  /** Requests being answered now, and the most at once since start (or since a test reset it). */
  load: { inFlight: number; maxInFlight: number };
  respond(fn: Responder): void;
  /** Resolves when at least `n` requests arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  stop(): void;
}

export function startReceiver(initial: Responder = () => ({ status: 200 })): Receiver {
  const received: Received[] = [];
  const load = { inFlight: 0, maxInFlight: 0 };
  let responder = initial;
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const entry: Received = {
        at: Date.now(),
        path: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers.entries()),
        body: await req.text(),
      };
      const index = received.push(entry) - 1;
      waiters = waiters.filter((w) => (received.length >= w.n ? (w.resolve(), false) : true));
      const answer = responder(entry, index);
      load.maxInFlight = Math.max(load.maxInFlight, ++load.inFlight);
      try {
        if (answer.delayMs) await Bun.sleep(answer.delayMs);
        return new Response(answer.body ?? "ok", { status: answer.status ?? 200, headers: answer.headers });
      } finally {
        load.inFlight--;
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    load,
    respond(fn) {
      responder = fn;
    },
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`expected ${n} requests, got ${received.length}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(received)) });
      });
    },
    stop() {
      server.stop(true);
    },
  };
}

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(everyMs);
  }
}

/** standardwebhooks' own verifier: true when it accepts the request. */
export function standardVerifies(secret: string, got: Received): boolean {
  try {
    new Webhook(secret).verify(got.body, got.headers);
    return true;
  } catch {
    return false;
  }
}
