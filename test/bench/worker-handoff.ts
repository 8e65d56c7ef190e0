/**
 * Would a thread of its own for SQLite's writes free the JS thread (issue 14)? Measures what an
 * outcome's rows cost the JS thread written in place, against handing them to a worker that
 * writes them: the main thread then only builds each outcome and posts it (structured clone) in
 * batches, and reads the worker's answers. Same schema (migrated), same statements as the SQLite
 * repositories (the attempt INSERT and the outcome UPDATE), transactions of `batch` outcomes.
 *
 *   bun test/bench/worker-handoff.ts [outcomes=100000] [batch=64]
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { newId } from "../../src/lib/ids.ts";
import { migrate } from "../../src/store/sqlite/migrate.ts";

interface Outcome {
  attemptId: string;
  deliveryId: string;
  at: number;
  statusCode: number;
  durationMs: number;
  responseHeaders: string;
  requestHeaders: string;
}

const INSERT_ATTEMPT = `INSERT INTO attempts (id, delivery_id, endpoint_id, trigger, attempt_number, url, status_code, duration_ms,
  error_code, error_message, response_headers, response_body, request_headers, created_at)
  VALUES (?, ?, 'wh_bench', 'scheduled', 1, 'http://127.0.0.1:9999/hook', ?, ?, NULL, NULL, ?, 'ok', ?, ?)`;
const RECORD_OUTCOME = `UPDATE deliveries SET status = 'succeeded', attempts = 1, next_attempt_at = NULL, last_attempt_at = ?,
  last_status_code = ?, last_duration_ms = ?, last_error_code = NULL, last_error_message = NULL, updated_at = ? WHERE id = ? AND status = 'pending'`;

/** A writer on `file`: what the worker runs, and what the JS thread runs in the in-place case. */
function writer(file: string) {
  const db = new Database(file);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  const insert = db.query(INSERT_ATTEMPT);
  const update = db.query(RECORD_OUTCOME);
  return (batch: Outcome[]) => {
    db.exec("BEGIN IMMEDIATE");
    for (const o of batch) {
      insert.run(o.attemptId, o.deliveryId, o.statusCode, o.durationMs, o.responseHeaders, o.requestHeaders, o.at);
      update.run(o.at, o.statusCode, o.durationMs, o.at, o.deliveryId);
    }
    db.exec("COMMIT");
    return batch.length;
  };
}

if (!isMainThread) {
  const write = writer(workerData as string);
  parentPort!.on("message", (batch: Outcome[]) => parentPort!.postMessage(write(batch)));
} else {
  const OUTCOMES = Number(process.argv[2] ?? 100_000);
  const BATCH = Number(process.argv[3] ?? 64);
  const dir = mkdtempSync(join(tmpdir(), "webhookd-handoff-"));
  const REQUEST_HEADERS = JSON.stringify({ "user-agent": "webhookd/0.1.0", "x-webhook-signature": `sha256=${"a".repeat(64)}`, "webhook-signature": `v1,${"b".repeat(44)}` });
  const RESPONSE_HEADERS = JSON.stringify({ "content-length": "2", "content-type": "text/plain" });

  /** A migrated store with OUTCOMES pending deliveries; returns their ids. */
  function seed(file: string): string[] {
    const db = new Database(file);
    db.exec("PRAGMA journal_mode = WAL");
    migrate(db);
    const now = Date.now();
    const ids = Array.from({ length: OUTCOMES }, () => newId("dlv", now));
    const insert = db.query(
      `INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, 'org_bench', 'evt_bench', 'wh_bench', 'call.ended', 'pending', 0, ?, ?, ?)`,
    );
    db.transaction(() => ids.forEach((id) => insert.run(id, now, now, now)))();
    db.close();
    return ids;
  }
  const outcome = (deliveryId: string): Outcome => {
    const at = Date.now();
    return { attemptId: newId("att", at), deliveryId, at, statusCode: 200, durationMs: 3, responseHeaders: RESPONSE_HEADERS, requestHeaders: REQUEST_HEADERS };
  };

  try {
    // In place: the JS thread builds and writes every outcome.
    const inPlaceFile = join(dir, "in-place.db");
    const inPlaceIds = seed(inPlaceFile);
    const write = writer(inPlaceFile);
    let busy = performance.now();
    for (let i = 0; i < OUTCOMES; i += BATCH) write(inPlaceIds.slice(i, i + BATCH).map(outcome));
    const inPlace = ((performance.now() - busy) * 1000) / OUTCOMES;

    // Handed off: the JS thread builds and posts; the worker writes. Up to 4 batches in flight.
    const workerFile = join(dir, "worker.db");
    const workerIds = seed(workerFile);
    const worker = new Worker(new URL(import.meta.url), { workerData: workerFile });
    let mainBusy = 0;
    let sent = 0;
    let written = 0;
    const started = performance.now();
    await new Promise<void>((done) => {
      const post = () => {
        const t = performance.now();
        while (sent < OUTCOMES && sent - written < 4 * BATCH) {
          worker.postMessage(workerIds.slice(sent, sent + BATCH).map(outcome));
          sent += BATCH;
        }
        mainBusy += performance.now() - t;
      };
      worker.on("message", (n: number) => {
        written += n;
        if (written >= OUTCOMES) return done();
        post();
      });
      post();
    });
    const wall = ((performance.now() - started) * 1000) / OUTCOMES;
    await worker.terminate();
    console.log(`${OUTCOMES} outcomes (attempt row + delivery update), transactions of ${BATCH}, ${navigator.hardwareConcurrency} cores`);
    console.log(`| where the rows are written | JS thread per outcome |`);
    console.log(`| --- | --- |`);
    console.log(`| on the JS thread | ${inPlace.toFixed(1)} µs |`);
    console.log(`| on a worker (the JS thread builds and posts) | ${((mainBusy * 1000) / OUTCOMES).toFixed(1)} µs (wall ${wall.toFixed(1)} µs per outcome) |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
