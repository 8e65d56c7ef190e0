/**
 * Group commit. Writers submit small synchronous operations; everything submitted in the same
 * tick runs in one SQLite transaction (one fsync), each operation inside its own savepoint so
 * one failure rejects only its own promise. A submit resolves only after its commit: a 2xx
 * that waited on it means the rows are on disk.
 */
import type { Database } from "bun:sqlite";
import { ServiceUnavailableError } from "../lib/errors.ts";

/** SQLite errors that mean "the storage cannot take writes now", not "this write is wrong". */
const STORAGE_FAULTS = /SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;

export function asStorageFault(error: unknown): unknown {
  const code = String((error as { code?: unknown })?.code ?? "");
  const message = String((error as Error)?.message ?? error);
  if (!STORAGE_FAULTS.test(code) && !/database or disk is full|database is locked|disk I\/O error/.test(message)) return error;
  return new ServiceUnavailableError("STORAGE_UNAVAILABLE", `The database cannot take writes right now (${code || message}); nothing was stored. Retry shortly.`);
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
      try {
        sqlite.transaction(() => {
          for (const p of batch) {
            try {
              // A nested transaction is a savepoint: a failing op rolls back alone.
              results.push({ ok: true, value: sqlite.transaction(p.op)() });
            } catch (error) {
              results.push({ ok: false, error: asStorageFault(error) });
            }
          }
        }).immediate();
      } catch (error) {
        // The commit itself failed (disk full, locked): nothing of this batch is stored.
        const fault = asStorageFault(error);
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
