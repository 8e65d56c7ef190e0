/**
 * Group commit. Writers submit small operations on the port's `tx`; everything submitted in the
 * same tick runs in one SQLite transaction (one log flush), and one failing operation rejects only
 * its own promise. The repositories run their statements synchronously, so a batch runs from
 * BEGIN to COMMIT in one macrotask (its awaits are microtasks of already settled promises):
 * nothing else on the event loop reads or writes in between. A submit resolves only after its commit: a 2xx that waited on it means the
 * rows are on disk.
 *
 * Durability is per op. Every batch commits with synchronous=NORMAL, which in WAL mode survives
 * a process crash. A "durable" op (a publish) then also waits for an fdatasync of the WAL file,
 * which makes it survive power loss exactly as synchronous=FULL would; that flush runs on a
 * background thread, so the event loop keeps serving while the disk works. A "relaxed" op
 * (a delivery outcome) resolves at commit: one lost to a power cut means a resend.
 */
import type { Database } from "bun:sqlite";
import { ServiceUnavailableError } from "../../lib/errors.ts";
import type { Durability, StoreTx } from "../port.ts";
import { storageFault } from "./storage-fault.ts";
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

/** An op may also answer synchronously: bun:sqlite statements do. */
type Op<T> = (tx: StoreTx) => T | Promise<T>;

interface Pending<T> {
  op: Op<T>;
  durability: Durability;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export interface WriteBatcher {
  /** Ops see `tx` (set once the repositories exist: they need the batcher to coalesce). */
  bind(tx: StoreTx): void;
  submit<T>(op: Op<T>, durability?: Durability): Promise<T>;
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
  /** What the ops tell after their commit: marked per op, so an op rolled back tells nothing. */
  notices?: { mark(): number; dropFrom(mark: number): void; deliver(): void };
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
  const notices = options.notices ?? { mark: () => 0, dropFrom() {}, deliver() {} };
  const logSync = options.logSync !== undefined ? options.logSync : isFile(sqlite.filename) ? walSync(sqlite.filename) : null;
  let queue: Pending<any>[] = [];
  let scheduled = false;
  let tx: StoreTx | null = null;
  /** Wall-clock time the write lock was first found taken, while the queue waits for it. */
  let lockedSince: number | null = null;
  let lockRetries = 0;
  const syncing = new Set<Promise<void>>();
  /** Merged writes of the optimistic pass in progress; null outside it. */
  let coalesced: Map<string, { state: any; write: (state: any) => void }> | null = null;
  type Result = { ok: true; value: unknown } | { ok: false; error: unknown };
  // Compiled once: a statement given to sqlite.run() as text is compiled on every call, and these
  // run on every batch. Not the PRAGMAs: SQLite applies those while compiling them.
  const exec = (sql: string) => {
    const statement = sqlite.prepare(sql);
    return () => void statement.run();
  };
  const sql = {
    begin: exec("BEGIN IMMEDIATE"),
    commit: exec("COMMIT"),
    rollback: exec("ROLLBACK"),
  };
  const savepoints = new Map(
    ["batch", "op"].map((name) => [name, { open: exec(`SAVEPOINT ${name}`), release: exec(`RELEASE ${name}`), undo: exec(`ROLLBACK TO ${name}`) }]),
  );

  /** Runs `body` under a savepoint: released when it returns, rolled back to (and rethrown) when it throws. */
  async function savepoint<T>(name: "batch" | "op", body: () => T | Promise<T>): Promise<T> {
    const sp = savepoints.get(name)!;
    sp.open();
    const mark = notices.mark();
    try {
      const value = await body();
      sp.release();
      return value;
    } catch (error) {
      notices.dropFrom(mark);
      if (error instanceof BatchAborted) throw error;
      onRollback();
      abortIfRolledBack(error);
      sp.undo();
      sp.release();
      throw error;
    }
  }

  /**
   * Optimistic: all ops under one savepoint (two statements per batch, not two per op). Ops
   * almost never fail; when one does, the savepoint is rolled back and each op runs again in its
   * own, so the failure stays with its op. Ops may run more than once (the port's contract).
   */
  async function runBatch(batch: Pending<any>[]): Promise<Result[]> {
    try {
      return await savepoint("batch", async () => {
        const results: Result[] = [];
        coalesced = new Map();
        for (const p of batch) results.push({ ok: true, value: await p.op(tx!) });
        for (const c of coalesced.values()) c.write(c.state);
        return results;
      });
    } catch (error) {
      if (error instanceof BatchAborted) throw error;
    } finally {
      // Rolled back with the savepoint, or written: either way nothing is left to write.
      coalesced = null;
    }
    const results: Result[] = [];
    for (const p of batch) {
      try {
        results.push({ ok: true, value: await savepoint("op", () => p.op(tx!)) });
      } catch (error) {
        if (error instanceof BatchAborted) throw error;
        results.push({ ok: false, error: asStorageFault(error) });
      }
    }
    return results;
  }

  /**
   * SQLite may roll the whole transaction back on SQLITE_FULL, IOERR, BUSY or NOMEM: the ops
   * before this one are undone, and the ones after would each run (and commit) on their own
   * outside it. Stop there: nothing of this batch is stored.
   */
  function abortIfRolledBack(error: unknown): void {
    if (!sqlite.inTransaction) throw new BatchAborted(error);
  }

  /** Commits the batch, or answers "locked" (nothing ran) when another connection holds the write lock. */
  async function commit(batch: Pending<any>[]): Promise<"done" | "locked"> {
    const started = performance.now();
    sqlite.run("PRAGMA synchronous = NORMAL");
    // Not SQLite's busy handler: it sleeps on this thread, freezing every request meanwhile.
    sqlite.run("PRAGMA busy_timeout = 0");
    let results: Result[];
    try {
      try {
        sql.begin();
      } catch (error) {
        if (isBusy(error)) return "locked";
        throw error;
      }
      try {
        results = await runBatch(batch);
        sql.commit();
      } catch (error) {
        if (sqlite.inTransaction) sql.rollback();
        throw error;
      }
    } catch (error) {
      notices.dropFrom(0);
      onRollback();
      // The batch was aborted, or BEGIN/COMMIT failed (disk full, I/O error): nothing of it is stored.
      const fault = asStorageFault(error instanceof BatchAborted ? error.cause : error);
      for (const p of batch) p.reject(fault);
      return "done";
    } finally {
      // A write outside the group commit (a migration, the checkpointer) stays fully durable.
      sqlite.run("PRAGMA synchronous = FULL");
      sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    notices.deliver();
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

  /**
   * One run at a time, and each run commits only what was queued when it began: ops that a
   * commit's callers queue from its continuations wait for the next turn of the event loop, so a
   * loop of writes (a cancellation in batches) never holds the event loop for the whole loop.
   */
  let running: Promise<void> | null = null;
  let runAgain = false;
  function commitQueued(): Promise<void> {
    if (running) {
      runAgain = true;
      return running;
    }
    running = (async () => {
      scheduled = false;
      let budget = queue.length;
      try {
        while (budget > 0) {
          const batch = queue.slice(0, Math.min(maxBatch, budget));
          if ((await commit(batch)) === "locked") return waitForLock();
          queue.splice(0, batch.length);
          budget -= batch.length;
          lockWaitEnded();
        }
      } finally {
        running = null;
        if (runAgain) {
          runAgain = false;
          schedule();
        }
      }
    })();
    return running;
  }

  function schedule(): void {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => void commitQueued());
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
    setTimeout(() => void commitQueued(), lockRetryDelayMs(lockRetries++));
  }

  return {
    bind(repos: StoreTx): void {
      tx = repos;
    },
    submit<T>(op: Op<T>, durability: Durability = "durable"): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, durability, resolve, reject });
        schedule();
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
      for (await commitQueued(); queue.length > 0; await commitQueued()) await Bun.sleep(LOCK_RETRY_MAX_MS);
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
