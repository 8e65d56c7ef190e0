/**
 * `write(op, durability)`: each op is one PostgreSQL transaction on a pooled connection, so ops
 * never wait for each other except on the rows they share, and every invariant is the
 * database's (unique indexes, row locks, conditional updates). A "relaxed" op commits with
 * synchronous_commit off: it resolves at commit, before the WAL is flushed (an outcome lost to a
 * crash of the server only means a resend).
 */
import type { SQL } from "bun";
import type { Durability, NodeLeases, StoreTx } from "../port.ts";
import type { Change } from "./changes.ts";
import { ServiceUnavailableError } from "../../lib/errors.ts";
import { isRetryable, storageFault, unstorableText } from "./errors.ts";
import { sendChanges } from "./notify.ts";
import { txStore } from "./tx-store.ts";

/** A deadlock victim is run again this many times before its error is the answer. */
const MAX_RETRIES = 3;

export interface TransactionsDeps {
  sql: SQL;
  /** This node's name in its notifications. */
  node: string;
  /** This node's delivery leases (its name is the same). */
  leases: NodeLeases;
  /** Inside the transaction, as each change is written: drops cached copies at once. */
  changing(change: Change): void;
  /** After the commit: drops cached copies again (a read may have cached the old row meanwhile) and tells the listeners. */
  committed(changes: Change[]): void;
}

/**
 * BEGIN ... COMMIT on a reserved connection. BEGIN is not awaited on its own (sql.begin() waits
 * for its answer before the body runs): the body's first statements follow it on the connection,
 * one round trip fewer per write. Any failure rolls back (a lost connection cannot, and needs not).
 */
async function inTransaction<T>(sql: SQL, body: (tx: SQL) => Promise<T>): Promise<T> {
  const tx = await sql.reserve();
  try {
    const begun = tx`BEGIN`.then(() => {});
    begun.catch(() => {}); // a failed BEGIN fails the body's statements too
    const value = await body(tx);
    await begun;
    await tx`COMMIT`;
    return value;
  } catch (error) {
    await tx`ROLLBACK`.catch(() => {});
    throw error;
  } finally {
    tx.release();
  }
}

export function createTransactions(deps: TransactionsDeps) {
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  async function attempt<T>(op: (tx: StoreTx) => Promise<T>, durability: Durability): Promise<T> {
    for (let retry = 0; ; retry++) {
      const changes: Change[] = [];
      /** Set when only COMMIT is left: a connection lost after that leaves the outcome unknown. */
      let committing = false;
      let result: { value: T };
      try {
        result = await inTransaction(deps.sql, async (tx) => {
          // Not awaited on its own, as BEGIN: the op's first statements follow it on the connection.
          const relaxed = durability === "relaxed" ? tx`SET LOCAL synchronous_commit = off`.then(() => {}) : undefined;
          relaxed?.catch(() => {}); // its failure aborts the transaction: the op's statements fail with it
          const value = await op(txStore(tx, { record: (c) => (changes.push(c), deps.changing(c)) }, deps.leases));
          await relaxed;
          if (changes.length > 0) await sendChanges(tx, deps.node, changes);
          committing = true;
          return { value };
        });
      } catch (error) {
        if (retry < MAX_RETRIES && isRetryable(error)) continue;
        const fault = storageFault(error);
        if (!fault || !committing) throw fault ?? unstorableText(error) ?? error;
        // It may have committed: its changes are told as if it did (listeners only drop what they
        // cached), and the answer says the write may be stored, so a retry must reuse its ids.
        deps.committed(changes);
        throw new ServiceUnavailableError(
          "STORAGE_UNAVAILABLE",
          `The database connection was lost while committing (${String((error as Error)?.message ?? error)}); the write may or may not be stored. Retry with the same id or Idempotency-Key.`,
        );
      }
      // Outside the try: the commit is done, so nothing after it may turn into a retry or a rejection.
      deps.committed(changes);
      return result.value;
    }
  }

  return {
    write<T>(op: (tx: StoreTx) => Promise<T>, durability: Durability = "durable"): Promise<T> {
      if (closed) return Promise.reject(new Error("The store is closed."));
      const p = attempt(op, durability);
      inFlight.add(p);
      p.then(
        () => inFlight.delete(p),
        () => inFlight.delete(p),
      );
      return p;
    },
    /** Resolves when every write submitted so far is answered. */
    async flush(): Promise<void> {
      await Promise.allSettled([...inFlight]);
    },
    /** Refuses new writes and waits for those in flight. */
    async close(): Promise<void> {
      closed = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}
