/**
 * Group commit. Writers submit small synchronous operations; everything submitted in the same
 * tick runs in one SQLite transaction (one fsync), each operation inside its own savepoint so
 * one failure rejects only its own promise. A submit resolves only after its commit: a 2xx
 * that waited on it means the rows are on disk.
 *
 * Durability is per batch: a batch with any "durable" op (a publish) commits with
 * synchronous=FULL, surviving power loss; a batch of only "relaxed" ops (delivery outcomes)
 * commits with synchronous=NORMAL, which in WAL mode survives a process crash but may lose the
 * last commits to a power cut: an outcome lost that way means the delivery is sent again.
 */
import type { Database } from "bun:sqlite";
import { storageFault } from "../lib/storage-fault.ts";

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

export interface WriteBatcher {
  submit<T>(op: () => T, durability?: Durability): Promise<T>;
  /** Commits whatever is queued now. */
  flush(): void;
  readonly queued: number;
}

export function createWriteBatcher(sqlite: Database, maxBatch = 2000): WriteBatcher {
  let queue: Pending<any>[] = [];
  let scheduled = false;
  type Result = { ok: true; value: unknown } | { ok: false; error: unknown };
  // Built once: bun:sqlite's transaction() wrapper is not free to make on every flush and op.
  // A nested transaction is a savepoint, so a failing op rolls back alone.
  const runOp = sqlite.transaction((op: () => unknown) => op());
  const runBatch = sqlite.transaction((batch: Pending<any>[], results: Result[]) => {
    for (const p of batch) {
      try {
        results.push({ ok: true, value: runOp(p.op) });
      } catch (error) {
        if (!sqlite.inTransaction) {
          // SQLite may roll the whole transaction back on SQLITE_FULL, IOERR, BUSY or NOMEM:
          // the ops before this one are undone, and the ones after would each run (and
          // commit) on their own outside it. Stop here: nothing of this batch is stored.
          throw new BatchAborted(error);
        }
        results.push({ ok: false, error: asStorageFault(error) });
      }
    }
  });

  function commit(batch: Pending<any>[]): void {
    const results: Result[] = [];
    const relaxed = batch.every((p) => p.durability === "relaxed");
    if (relaxed) sqlite.run("PRAGMA synchronous = NORMAL");
    try {
      runBatch.immediate(batch, results);
    } catch (error) {
      // The batch was aborted, or BEGIN/COMMIT failed (disk full, locked): nothing of it is stored.
      const fault = asStorageFault(error instanceof BatchAborted ? error.cause : error);
      for (const p of batch) p.reject(fault);
      return;
    } finally {
      // Every other write on this connection (the API's own) stays fully durable.
      if (relaxed) sqlite.run("PRAGMA synchronous = FULL");
    }
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.value);
      else p.reject(r.error);
    });
  }

  function flush(): void {
    scheduled = false;
    while (queue.length) commit(queue.length > maxBatch ? queue.splice(0, maxBatch) : queue.splice(0));
  }

  return {
    submit<T>(op: () => T, durability: Durability = "durable"): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, durability, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    flush,
    get queued() {
      return queue.length;
    },
  };
}

class BatchAborted extends Error {
  constructor(override readonly cause: unknown) {
    super("batch aborted");
  }
}
