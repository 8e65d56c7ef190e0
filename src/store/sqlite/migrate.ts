/**
 * Applies the embedded drizzle-kit migrations in order, each in its own transaction.
 * Idempotent: applied tags are recorded, so `serve` and `webhookd migrate` can both call it.
 */
import type { Database } from "bun:sqlite";
import { migrations } from "./migrations/index.ts";
import { statementsOf } from "../migration-statements.ts";

export function migrate(sqlite: Database, clock: () => number = Date.now): string[] {
  sqlite.run(
    "CREATE TABLE IF NOT EXISTS __webhookd_migrations (tag TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const applied = new Set(
    sqlite
      .query<{ tag: string }, []>("SELECT tag FROM __webhookd_migrations")
      .all()
      .map((r) => r.tag),
  );
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.tag)) continue;
    // IMMEDIATE takes the write lock up front, so two processes migrating at once serialize.
    sqlite.transaction(() => {
      const again = sqlite.query("SELECT 1 FROM __webhookd_migrations WHERE tag = ?").get(m.tag);
      if (again) return;
      for (const statement of statementsOf(m.sql)) sqlite.run(statement);
      sqlite.run("INSERT INTO __webhookd_migrations (tag, applied_at) VALUES (?, ?)", [m.tag, clock()]);
      done.push(m.tag);
    }).immediate();
  }
  return done;
}
