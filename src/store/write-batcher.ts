/**
 * Group commit. Writers submit small synchronous operations; everything submitted in the same
 * tick runs in one SQLite transaction (one fsync), each operation inside its own savepoint so
 * one failure rejects only its own promise. A submit resolves only after its commit: a 2xx
 * that waited on it means the rows are on disk.
 */
import type { Database } from "bun:sqlite";
import { storageFault } from "../lib/storage-fault.ts";

/** Storage faults become the 503 the API answers; any other error stays as it is. */
export function asStorageFault(error: unknown): unknown {
  return storageFault(error) ?? error;
}

interface Pending<T> {
  op: () => T;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export interface WriteBatcher {
  submit<T>(op: () => T): Promise<T>;
  /** Commits whatever is queued now. */
  flush(): void;
  readonly queued: number;
}

export function createWriteBatcher(sqlite: Database, maxBatch = 2000): WriteBatcher {
  let queue: Pending<any>[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (queue.length) {
      const batch = queue.length > maxBatch ? queue.splice(0, maxBatch) : queue.splice(0);
      const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      // Set inside the transaction callback (so typed wide: TS cannot see the assignment).
      let aborted = null as { error: unknown } | null;
      try {
        sqlite.transaction(() => {
          for (const p of batch) {
            try {
              // A nested transaction is a savepoint: a failing op rolls back alone.
              results.push({ ok: true, value: sqlite.transaction(p.op)() });
            } catch (error) {
              if (!sqlite.inTransaction) {
                // SQLite may roll the whole transaction back on SQLITE_FULL, IOERR, BUSY or NOMEM:
                // the ops before this one are undone, and the ones after would each run (and
                // commit) on their own outside it. Stop here: nothing of this batch is stored.
                aborted = { error };
                throw error;
              }
              results.push({ ok: false, error: asStorageFault(error) });
            }
          }
        }).immediate();
      } catch (error) {
        // The batch was aborted, or BEGIN/COMMIT failed (disk full, locked): nothing of it is stored.
        const fault = asStorageFault(aborted ? aborted.error : error);
        for (const p of batch) p.reject(fault);
        continue;
      }
      batch.forEach((p, i) => {
        const r = results[i]!;
        if (r.ok) p.resolve(r.value);
        else p.reject(r.error);
      });
    }
  }

  return {
    submit<T>(op: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve, reject });
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
