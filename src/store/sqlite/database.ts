/**
 * Opens the SQLite file with the settings the rest of the code relies on. The one place that
 * knows the database is SQLite: everything above talks to the repositories.
 */
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import * as schema from "./schema.ts";

/** How long a write waits for another process's lock before it is a 503. */
export const BUSY_TIMEOUT_MS = 5000;

/** WAL pages (4 KiB) after which a commit on the main connection checkpoints by itself. */
export const SAFETY_NET_CHECKPOINT_PAGES = 10_000;

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export interface StoreHandle {
  sqlite: Database;
  db: Db;
  close(): void;
}

export function openDatabase(file: string): StoreHandle {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file, { create: true, strict: true });
  // WAL lets readers run beside the single writer; synchronous=FULL makes every committed
  // transaction survive power loss too, and group commit (write-batcher) amortizes the fsync.
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = FULL");
  sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  sqlite.run("PRAGMA foreign_keys = ON");
  sqlite.run("PRAGMA temp_store = MEMORY");
  // Checkpoints belong to the checkpointer thread (checkpointer.ts); this connection does one
  // itself only if the WAL grows past ~40 MB, which happens only when that thread falls behind.
  sqlite.run(`PRAGMA wal_autocheckpoint = ${SAFETY_NET_CHECKPOINT_PAGES}`);
  const db = drizzle(sqlite, { schema });
  return {
    sqlite,
    db,
    close: () => sqlite.close(),
  };
}
