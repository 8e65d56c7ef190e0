/**
 * Group commit. Writers submit small synchronous operations; everything submitted in the same
 * tick runs in one SQLite transaction (one log flush), and one failing operation rejects only
 * its own promise. A submit resolves only after its commit: a 2xx that waited on it means the
 * rows are on disk.
 *
 * Durability is per op. Every batch commits with synchronous=NORMAL, which in WAL mode survives
 * a process crash. A "durable" op (a publish) then also waits for an fdatasync of the WAL file,
 * which makes it survive power loss exactly as synchronous=FULL would; that flush runs on a
 * background thread, so the event loop keeps serving while the disk works. A "relaxed" op
 * (a delivery outcome) resolves at commit: one lost to a power cut means a resend.
 */
import type { Database } from "bun:sqlite";
import { ServiceUnavailableError } from "../lib/errors.ts";
import { storageFault } from "../lib/storage-fault.ts";
import { BUSY_TIMEOUT_MS } from "./database.ts";
import { walSync, type LogSync } from "./wal-sync.ts";

/**
 * How long queued ops wait before looking again for a write lock another connection holds: 1, 2,
 * 4, 8, then every 10 ms. The usual holder is the checkpoint thread finishing a WAL restart in a
 * few milliseconds, so a flat 10 ms would add most of that to every publish waiting behind it.
 */
const LOCK_RETRY_MAX_MS = 10;
export function lockRetryDelayMs(retry: number): number {
  return Math.min(LOCK_RETRY_MAX_MS, 2 ** retry);
}

/** Storage faults become the 503 the API answers; any other error stays as it is. */
export function asStorageFault(error: unknown): unknown {
  return storageFault(error) ?? error;
}

export type Durability = "durable" | "relaxed";

interface Pending<T> {
  op: () => T;
  durability: Durability;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/**
 * A write for services: `op` runs in the next group commit and the promise resolves once it is
 * committed (and, when durable, flushed). Waiting for a lock never blocks the event loop.
 */
export type StoreWrite = <T>(op: () => T, durability?: Durability) => Promise<T>;

export interface WriteBatcher {
  submit: StoreWrite;
  /**
   * For ops: a write that many ops of one batch repeat (an endpoint's delivery counters). The
   * states under one key are merged and written once, at the end of the batch; outside the
   * optimistic pass (or outside any batch) the write happens at once.
   */
  coalesce<S>(key: string, merge: (previous: S | undefined) => S, write: (state: S) => void): void;
  /** For ops: writes what is merged under `key` now, before a write that must see it. */
  flushCoalesced(key: string): void;
  /** Commits whatever is queued now and waits until every durable op is flushed and answered. */
  flush(): Promise<void>;
  readonly queued: number;
  /** Releases the WAL file handle (once in-flight flushes finish). */
  close(): void;
}

export interface WriteBatcherOptions {
  maxBatch?: number;
  /**
   * How long queued ops wait for another process's write lock before they are refused (503).
   * The wait is polled from timers, never slept in SQLite's busy handler, so the event loop
   * keeps serving meanwhile.
   */
  lockWaitMs?: number;
  /** How durable ops reach stable storage; null (an in-memory database) resolves them at commit. */
  logSync?: LogSync | null;
  /** Told how long storage kept writers waiting: for metrics. */
  observer?: StorageObserver;
  /** Called whenever ops are rolled back: caches filled inside the transaction must forget. */
  onRollback?: () => void;
}

/** Durations in seconds. What a publish's 202 waits on is `committed` plus `flushed`. */
export interface StorageObserver {
  /** A batch's transaction, BEGIN to COMMIT, on the event loop. */
  committed(seconds: number): void;
  /** One flush of the log to stable storage, off the event loop (failed ones too). */
  flushed(seconds: number): void;
  /** Queued ops found the write lock held by another connection and waited this long for it (or until refused). */
  lockWaited(seconds: number): void;
}

export function createWriteBatcher(sqlite: Database, options: WriteBatcherOptions = {}): WriteBatcher {
  const maxBatch = options.maxBatch ?? 2000;
  const lockWaitMs = options.lockWaitMs ?? BUSY_TIMEOUT_MS;
  const observer = options.observer;
  const onRollback = options.onRollback ?? (() => {});
  const logSync = options.logSync !== undefined ? options.logSync : isFile(sqlite.filename) ? walSync(sqlite.filename) : null;
  let queue: Pending<any>[] = [];
  let scheduled = false;
  /** Wall-clock time the write lock was first found taken, while the queue waits for it. */
  let lockedSince: number | null = null;
  let lockRetries = 0;
  /** Set when the batch's transaction body starts: a SQLITE_BUSY before it came from BEGIN. */
  let began = false;
  const syncing = new Set<Promise<void>>();
  /** Merged writes of the optimistic pass in progress; null outside it. */
  let coalesced: Map<string, { state: any; write: (state: any) => void }> | null = null;
  type Result = { ok: true; value: unknown } | { ok: false; error: unknown };
  // Built once: bun:sqlite's transaction() wrapper is not free to make on every flush and op.
  // A nested transaction is a savepoint, so a failing op rolls back alone.
  const runOp = sqlite.transaction((op: () => unknown) => op());
  // Optimistic: all ops under one savepoint (two statements per batch, not two per op). Ops
  // almost never fail; when one does, the savepoint is rolled back and each op runs again in
  // its own, so the failure stays with its op. Ops are plain writes, safe to run again.
  const runAll = sqlite.transaction((batch: Pending<any>[], results: Result[]) => {
    coalesced = new Map();
    for (const p of batch) results.push({ ok: true, value: p.op() });
    for (const c of coalesced.values()) c.write(c.state);
  });
  const runBatch = sqlite.transaction((batch: Pending<any>[], results: Result[]) => {
    began = true;
    try {
      runAll(batch, results);
      return;
    } catch (error) {
      onRollback();
      abortIfRolledBack(error);
      results.length = 0;
    } finally {
      // Rolled back with the savepoint, or written: either way nothing is left to write.
      coalesced = null;
    }
    for (const p of batch) {
      try {
        results.push({ ok: true, value: runOp(p.op) });
      } catch (error) {
        onRollback();
        abortIfRolledBack(error);
        results.push({ ok: false, error: asStorageFault(error) });
      }
    }
  });

  /**
   * SQLite may roll the whole transaction back on SQLITE_FULL, IOERR, BUSY or NOMEM: the ops
   * before this one are undone, and the ones after would each run (and commit) on their own
   * outside it. Stop there: nothing of this batch is stored.
   */
  function abortIfRolledBack(error: unknown): void {
    if (!sqlite.inTransaction) throw new BatchAborted(error);
  }

  /** Commits the batch, or answers "locked" (nothing ran) when another connection holds the write lock. */
  function commit(batch: Pending<any>[]): "done" | "locked" {
    const results: Result[] = [];
    const started = performance.now();
    began = false;
    sqlite.run("PRAGMA synchronous = NORMAL");
    // Not SQLite's busy handler: it sleeps on this thread, freezing every request meanwhile.
    sqlite.run("PRAGMA busy_timeout = 0");
    try {
      runBatch.immediate(batch, results);
    } catch (error) {
      if (!began && isBusy(error)) return "locked";
      onRollback();
      // The batch was aborted, or BEGIN/COMMIT failed (disk full, I/O error): nothing of it is stored.
      const fault = asStorageFault(error instanceof BatchAborted ? error.cause : error);
      for (const p of batch) p.reject(fault);
      return "done";
    } finally {
      // A write outside the group commit (the admin key made at first start) stays fully durable.
      sqlite.run("PRAGMA synchronous = FULL");
      sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    observer?.committed((performance.now() - started) / 1000);
    const durable: number[] = [];
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (!r.ok) p.reject(r.error);
      else if (p.durability === "durable" && logSync) durable.push(i);
      else p.resolve(r.value);
    });
    if (durable.length > 0) awaitSync(batch, results, durable);
    return "done";
  }

  function awaitSync(batch: Pending<any>[], results: Result[], durable: number[]): void {
    const started = performance.now();
    const done = logSync!
      .sync()
      .finally(() => observer?.flushed((performance.now() - started) / 1000))
      .then(
        () => {
          for (const i of durable) batch[i]!.resolve((results[i] as { value: unknown }).value);
        },
        (error) => {
          // Committed, but not known to be on disk: the caller must not take it as stored.
          const fault = new ServiceUnavailableError(
            "STORAGE_UNAVAILABLE",
            `The database could not flush its log to disk (${(error as { code?: string }).code ?? String(error)}); the write may not survive a power cut. Retry shortly.`,
          );
          for (const i of durable) batch[i]!.reject(fault);
        },
      );
    syncing.add(done);
    void done.finally(() => syncing.delete(done));
  }

  function commitQueued(): void {
    scheduled = false;
    while (queue.length) {
      const batch = queue.slice(0, maxBatch);
      if (commit(batch) === "locked") return waitForLock();
      queue.splice(0, batch.length);
      lockWaitEnded();
    }
  }

  function lockWaitEnded(): void {
    if (lockedSince === null) return;
    observer?.lockWaited((Date.now() - lockedSince) / 1000);
    lockedSince = null;
    lockRetries = 0;
  }

  /** Tries again shortly; past lockWaitMs of waiting, refuses what is queued (503), as busy_timeout would. */
  function waitForLock(): void {
    const now = Date.now();
    lockedSince ??= now;
    if (now - lockedSince >= lockWaitMs) {
      lockWaitEnded();
      const fault = new ServiceUnavailableError(
        "STORAGE_UNAVAILABLE",
        `The database is locked by another process (waited ${lockWaitMs} ms); nothing was stored. Retry shortly.`,
      );
      for (const p of queue.splice(0)) p.reject(fault);
      return;
    }
    scheduled = true;
    setTimeout(commitQueued, lockRetryDelayMs(lockRetries++));
  }

  return {
    submit<T>(op: () => T, durability: Durability = "durable"): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, durability, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(commitQueued);
        }
      });
    },
    coalesce<S>(key: string, merge: (previous: S | undefined) => S, write: (state: S) => void): void {
      if (!coalesced) return write(merge(undefined));
      const entry = coalesced.get(key);
      if (entry) entry.state = merge(entry.state);
      else coalesced.set(key, { state: merge(undefined), write });
    },
    flushCoalesced(key: string): void {
      const entry = coalesced?.get(key);
      if (!entry) return;
      coalesced!.delete(key);
      entry.write(entry.state);
    },
    async flush() {
      for (commitQueued(); queue.length > 0; commitQueued()) await Bun.sleep(LOCK_RETRY_MAX_MS);
      await Promise.all([...syncing]);
    },
    get queued() {
      return queue.length;
    },
    close() {
      // Flushes still in flight keep their file handle until they finish.
      void Promise.allSettled([...syncing]).then(() => logSync?.close());
    },
  };
}

function isBusy(error: unknown): boolean {
  return /^SQLITE_BUSY/.test(String((error as { code?: unknown } | null)?.code ?? ""));
}

function isFile(filename: string): boolean {
  return filename !== "" && filename !== ":memory:" && !filename.startsWith("file::memory:");
}

class BatchAborted extends Error {
  constructor(override readonly cause: unknown) {
    super("batch aborted");
  }
}
