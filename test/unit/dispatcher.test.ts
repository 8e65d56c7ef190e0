/**
 * The dispatcher with in-memory repositories, a write on the next turn of the event loop and an HTTP client whose
 * answers the test releases by hand, so concurrency and shutdown can be watched exactly.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { manualClock } from "../../src/lib/clock.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { createWebhookdMetrics } from "../../src/lib/metrics.ts";
import { createDispatcher } from "../../src/delivery/dispatcher.ts";
import { createRetryPolicy } from "../../src/delivery/retry-policy.ts";
import type { AttemptRequest, AttemptResult, HttpClient } from "../../src/delivery/http-client.ts";
import { createOutcomeRecorder } from "../../src/delivery/outcome-recorder.ts";
import type { EndpointStop } from "../../src/delivery/endpoint-stop.ts";
import type { AttemptRow, DeliveryForAttempt, DueDelivery, EndpointRow, StoreTx, StoreWrite } from "../../src/store/port.ts";

const T0 = 1_700_000_000_000;
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

function endpoint(id: string, orgId: string): EndpointRow {
  return {
    id,
    orgId,
    url: `https://${id}.example/hook`,
    description: null,
    events: ["*"],
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    consecutiveFailures: 0,
    failureCount: 0,
    lastTriggeredAt: null,
    secretEnc: "sealed",
    previousSecretEnc: null,
    previousSecretExpiresAt: null,
    createdAt: T0,
    updatedAt: T0,
    deletedAt: null,
  };
}

const ok = (statusCode = 200): AttemptResult => ({ ok: true, statusCode, durationMs: 5, responseHeaders: {}, retryAfter: null, responseBody: "", requestHeaders: { "content-type": "application/json" }, error: null, address: "192.0.2.1" });
const failed = (statusCode = 500): AttemptResult => ({
  ok: false,
  statusCode,
  durationMs: 5,
  responseHeaders: {},
  retryAfter: null,
  responseBody: "",
  requestHeaders: { "content-type": "application/json" },
  error: { code: "http_status", message: `HTTP ${statusCode}` },
  address: "192.0.2.1",
});

interface Call {
  req: AttemptRequest;
  answer(result: AttemptResult): void;
}

function setup(opts: { concurrency?: number; orgConcurrency?: number; endpointConcurrency?: number; schedule?: number[] } = {}) {
  const clock = manualClock(T0);
  const rows = new Map<string, DeliveryForAttempt>();
  const endpoints = new Map<string, EndpointRow>();
  const attempts: AttemptRow[] = [];
  const lastStatus = new Map<string, number | null>();
  const settled: Array<{ id: string; retry: DueDelivery | null }> = [];
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const activeByHost = new Map<string, number>();
  const maxByHost = new Map<string, number>();

  const client: HttpClient = {
    send(req) {
      const host = new URL(req.url).hostname;
      active++;
      maxActive = Math.max(maxActive, active);
      activeByHost.set(host, (activeByHost.get(host) ?? 0) + 1);
      maxByHost.set(host, Math.max(maxByHost.get(host) ?? 0, activeByHost.get(host)!));
      return new Promise<AttemptResult>((resolve) => {
        calls.push({
          req,
          answer(result) {
            active--;
            activeByHost.set(host, activeByHost.get(host)! - 1);
            resolve(result);
          },
        });
      });
    },
  };

  // In-memory repositories behind a write that, like the real group commit, runs on a later turn of the event loop.
  const tx = {
    deliveries: {
      recordOutcome: async (o: { id: string; status: DeliveryForAttempt["status"]; attempts: number }, _now: number, expect: string) => {
        const d = rows.get(o.id);
        if (!d || d.status !== expect) return false;
        d.status = o.status;
        d.attempts = o.attempts;
        return true;
      },
      recordLastAttempt: async (o: { id: string; lastStatusCode: number | null }) => {
        lastStatus.set(o.id, o.lastStatusCode);
      },
      cancelPendingBatch: async (endpointId: string) => {
        let n = 0;
        for (const d of rows.values()) if (d.endpointId === endpointId && d.status === "pending") (d.status = "cancelled"), n++;
        return n;
      },
    },
    attempts: { insert: async (a: AttemptRow) => void attempts.push(a) },
    endpoints: {
      recordAttempt: async () => {},
      recordExhausted: async () => ({ consecutiveFailures: 1, enabled: true }),
      autoDisable: async () => true,
    },
  } as unknown as StoreTx;
  // Commits wait while the test holds them (a slow disk), then run in order.
  let commitsHeld: Promise<void> = Promise.resolve();
  const write = (<T>(op: (tx: StoreTx) => Promise<T>) =>
    new Promise<T>((resolve, reject) => setImmediate(() => commitsHeld.then(() => op(tx)).then(resolve, reject)))) as StoreWrite;
  const stop: EndpointStop = { inWrite: (t, endpointId) => t.deliveries.cancelPendingBatch(endpointId, "", T0, 1000), committed: () => {} };

  const dispatcher = createDispatcher({
    deliveries: {
      forAttempt: async (id: string) => {
        const d = rows.get(id);
        return d ? { ...d } : null;
      },
    },
    endpointCache: { get: async (id: string) => endpoints.get(id), peek: (id: string) => endpoints.get(id), liveForOrg: async () => [] },
    recorder: createOutcomeRecorder({ write, disableAfter: 0, stop }),
    client,
    policy: createRetryPolicy({ schedule: opts.schedule ?? [100], jitter: 0, retryAfterMaxMs: 3_600_000 }),
    signingSecrets: () => [SECRET],
    clock,
    logger: silentLogger,
    metrics: createWebhookdMetrics(),
    userAgent: "webhookd/test",
    concurrency: opts.concurrency ?? 256,
    orgConcurrency: opts.orgConcurrency ?? 256,
    endpointConcurrency: opts.endpointConcurrency ?? 32,
    attemptTimeoutMs: 1_000,
    onSettled: (id, retry) => settled.push({ id, retry }),
  });

  let n = 0;
  function add(endpointId: string, orgId = "org_1"): DueDelivery {
    if (!endpoints.has(endpointId)) endpoints.set(endpointId, endpoint(endpointId, orgId));
    const id = `dlv_${++n}`;
    rows.set(id, { id, orgId, eventId: `evt_${n}`, endpointId, eventType: "call.ended", status: "pending", attempts: 0, body: `{"n":${n}}`, isTest: false });
    return { id, orgId, endpointId, nextAttemptAt: T0 };
  }

  return {
    clock,
    dispatcher,
    endpoints,
    rows,
    attempts,
    lastStatus,
    settled,
    calls,
    add,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
    maxByHost,
    /** Commits wait until the function returned is called. */
    holdCommits(): () => void {
      let release!: () => void;
      commitsHeld = new Promise((resolve) => (release = resolve));
      return release;
    },
    /** Lets promise chains (record, settle, release, pump) run. */
    async flush() {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      await Bun.sleep(1);
    },
  };
}

describe("dispatcher", () => {
  test("never runs more attempts at once than the global limit", async () => {
    const h = setup({ concurrency: 2 });
    const due = ["wh_a", "wh_b", "wh_c", "wh_a", "wh_b", "wh_c"].map((e) => h.add(e));
    h.dispatcher.enqueue(due);
    await h.flush();
    expect(h.calls).toHaveLength(2);
    expect(h.dispatcher.backlog).toBe(6);
    for (let answered = 0; answered < 6; answered++) {
      h.calls[answered]!.answer(ok());
      await h.flush();
      expect(h.active).toBeLessThanOrEqual(2);
    }
    expect(h.calls).toHaveLength(6);
    expect(h.maxActive).toBe(2);
    expect(h.settled.map((s) => s.id).sort()).toEqual(due.map((d) => d.id).sort());
    expect(h.settled.every((s) => s.retry === null)).toBe(true);
    expect(h.dispatcher.backlog).toBe(0);
  });

  test("a busy endpoint's work waits aside: another endpoint's delivery starts at once", async () => {
    const h = setup({ concurrency: 2, endpointConcurrency: 1 });
    const slow = [1, 2, 3, 4].map(() => h.add("wh_slow"));
    h.dispatcher.enqueue(slow);
    await h.flush();
    h.dispatcher.enqueue([h.add("wh_fast")]);
    await h.flush();
    // One slot for the slow endpoint, the other free for the fast one although slow work is queued first.
    expect(h.calls.map((c) => new URL(c.req.url).hostname)).toEqual(["wh_slow.example", "wh_fast.example"]);
    h.calls[1]!.answer(ok());
    await h.flush();
    expect(h.settled.map((s) => s.id)).toEqual(["dlv_5"]);
    // The slow endpoint's deliveries then go one at a time, in order.
    for (let i = 0; i < 4; i++) {
      const slowCalls = h.calls.filter((c) => new URL(c.req.url).hostname === "wh_slow.example");
      expect(slowCalls).toHaveLength(i + 1);
      slowCalls[i]!.answer(ok());
      await h.flush();
    }
    expect(h.maxByHost.get("wh_slow.example")).toBe(1);
    expect(h.calls.filter((c) => c.req.body.startsWith('{"n":')).map((c) => c.req.body)).toEqual(['{"n":1}', '{"n":5}', '{"n":2}', '{"n":3}', '{"n":4}']);
    expect(h.settled).toHaveLength(5);
  });

  test("draining for shutdown waits for attempts in flight and starts nothing parked", async () => {
    const h = setup({ endpointConcurrency: 1 });
    const [a1, a2] = [h.add("wh_a"), h.add("wh_a")];
    h.dispatcher.enqueue([a1!, a2!]);
    await h.flush();
    expect(h.calls).toHaveLength(1);
    const state: { drained: boolean | null } = { drained: null };
    const draining = h.dispatcher.drain(5_000).then((r) => (state.drained = r));
    await h.flush();
    expect(state.drained).toBeNull(); // the attempt in flight is still out
    h.calls[0]!.answer(ok());
    await h.flush();
    await draining;
    expect(state.drained).toBe(true);
    expect(h.attempts.map((a) => a.deliveryId)).toEqual([a1!.id]); // recorded before the drain ended
    await h.flush();
    expect(h.calls).toHaveLength(1); // the parked one never started: it stays pending for the next start
    expect(h.rows.get(a2!.id)!.status).toBe("pending");
  });

  test("draining waits for a replay until it is recorded", async () => {
    const h = setup();
    const d = h.add("wh_a");
    const replay = h.dispatcher.sendNow(d.id, "replay");
    await h.flush();
    expect(h.calls).toHaveLength(1);
    let drained = false;
    const draining = h.dispatcher.drain(5_000).then(() => (drained = true));
    await h.flush();
    expect(drained).toBe(false);
    h.calls[0]!.answer(failed());
    await h.flush();
    await draining;
    expect(h.attempts.map((a) => a.trigger)).toEqual(["replay"]);
    expect(await replay).toMatchObject({ sent: { deliveryId: d.id, success: false, statusCode: 500 } });
    // A failed replay leaves status and attempts alone but is the delivery's latest answer.
    expect(h.rows.get(d.id)).toMatchObject({ status: "pending", attempts: 0 });
    expect(h.lastStatus.get(d.id)).toBe(500);
  });

  test("the retry delay counts from the end of the failed attempt", async () => {
    const h = setup({ schedule: [100] });
    const d = h.add("wh_a");
    h.dispatcher.enqueue([d]);
    await h.flush();
    h.clock.advance(700); // a slow attempt (say, one that ran into its timeout)
    h.calls[0]!.answer(failed(503));
    await h.flush();
    expect(h.settled).toEqual([{ id: d.id, retry: { id: d.id, orgId: "org_1", endpointId: "wh_a", nextAttemptAt: T0 + 700 + 100 } }]);
    expect(h.attempts[0]!.createdAt).toBe(T0); // the attempt itself is logged when it started
  });

  test("a first attempt handed its row by publish sends it without reading the store; its retry reads", async () => {
    const h = setup({ schedule: [100] });
    const d = h.add("wh_a");
    const preloaded = { ...h.rows.get(d.id)! };
    h.rows.get(d.id)!.body = "read from the store";
    h.dispatcher.enqueue([{ ...d, preloaded }]);
    await h.flush();
    expect(h.calls[0]!.req.body).toBe(preloaded.body);
    h.calls[0]!.answer(failed(500));
    await h.flush();
    const retry = h.settled[0]!.retry!;
    expect(retry.preloaded).toBeUndefined();
    h.dispatcher.enqueue([retry]);
    await h.flush();
    expect(h.calls[1]!.req.body).toBe("read from the store");
  });

  test("a delivery no longer pending is skipped without a request", async () => {
    const h = setup();
    const d = h.add("wh_a");
    h.rows.get(d.id)!.status = "cancelled";
    h.dispatcher.enqueue([d]);
    await h.flush();
    expect(h.calls).toHaveLength(0);
    expect(h.settled).toEqual([{ id: d.id, retry: null }]);
  });

  test("an org at its cap leaves the other global slots to another org, however much it has queued", async () => {
    const h = setup({ concurrency: 4, orgConcurrency: 2 });
    const flood = Array.from({ length: 20 }, (_, i) => h.add(i % 2 ? "wh_flood1" : "wh_flood2", "org_flood"));
    h.dispatcher.enqueue(flood);
    await h.flush();
    expect(h.calls).toHaveLength(2);
    const victim = h.add("wh_victim", "org_victim");
    h.dispatcher.enqueue([victim]);
    await h.flush();
    expect(h.calls.map((c) => new URL(c.req.url).hostname)).toContain("wh_victim.example");
    expect(h.dispatcher.backlog).toBe(21);
  });

  test("an org's slot frees when its response is in; the global slot only when its outcome is committed", async () => {
    const h = setup({ concurrency: 2, orgConcurrency: 1 });
    const release = h.holdCommits();
    const [first, second, third] = [1, 2, 3].map(() => h.add("wh_a"));
    h.dispatcher.enqueue([first!, second!, third!]);
    await h.flush();
    expect(h.calls).toHaveLength(1);
    h.calls[0]!.answer(ok());
    await h.flush();
    // The first outcome waits for its commit; the org's next request is out meanwhile.
    expect(h.calls).toHaveLength(2);
    expect(h.settled).toEqual([]);
    h.calls[1]!.answer(ok());
    await h.flush();
    // Two outcomes waiting for their commit hold both global slots: nothing more is sent.
    expect(h.calls).toHaveLength(2);
    release();
    await h.flush();
    expect(h.settled.map((s) => s.id)).toEqual([first!.id, second!.id]);
    expect(h.calls).toHaveLength(3);
  });

  test("a replay and a test send wait for the same endpoint slot as scheduled attempts", async () => {
    const h = setup({ endpointConcurrency: 1 });
    const scheduled = h.add("wh_a");
    const [replayed, tested] = [h.add("wh_a"), h.add("wh_a")];
    h.dispatcher.enqueue([scheduled]);
    await h.flush();
    const replay = h.dispatcher.sendNow(replayed.id, "replay");
    const test = h.dispatcher.sendNow(tested.id, "test");
    await h.flush();
    expect(h.calls).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      h.calls[i]!.answer(ok());
      await h.flush();
      expect(h.maxByHost.get("wh_a.example")).toBe(1);
    }
    expect(h.calls.map((c) => c.req.body)).toEqual([`{"n":1}`, `{"n":2}`, `{"n":3}`]);
    expect(await replay).toMatchObject({ sent: { success: true } });
    expect(await test).toMatchObject({ sent: { success: true } });
  });

  test("once an endpoint is stopped, nothing queued for it is sent and a replay asked of it is refused", async () => {
    const h = setup({ endpointConcurrency: 1 });
    const due = [h.add("wh_a"), h.add("wh_a"), h.add("wh_a")];
    h.dispatcher.enqueue(due);
    await h.flush();
    const replay = h.dispatcher.sendNow(h.add("wh_a").id, "replay");
    await h.flush();
    expect(h.calls).toHaveLength(1);
    h.endpoints.get("wh_a")!.enabled = false;
    await h.dispatcher.endpointChanged("wh_a");
    expect(await replay).toEqual({ refused: "endpoint_stopped" });
    expect(h.settled.map((s) => s.id).sort()).toEqual([due[1]!.id, due[2]!.id]);
    h.calls[0]!.answer(ok());
    await h.flush();
    expect(h.calls).toHaveLength(1);
    expect(await h.dispatcher.sendNow(due[1]!.id, "replay")).toEqual({ refused: "endpoint_stopped" });
    expect(h.dispatcher.backlog).toBe(0);
  });
});
