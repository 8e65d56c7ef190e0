/**
 * Applies the embedded PostgreSQL migrations. Nodes of a cluster start at once, so the whole run
 * is one transaction holding a cluster-wide advisory lock: the first node applies what is
 * missing (PostgreSQL's DDL is transactional, so all or nothing), the others wait for it and
 * then find nothing left to do.
 */
import type { SQL } from "bun";
import { migrations } from "./migrations/index.ts";
import { statementsOf } from "../migration-statements.ts";

/** A fixed key for pg_advisory_xact_lock: "webhookd migrations" on this database. */
export const MIGRATION_LOCK_KEY = 0x77686d6967n; // "whmig"

export async function migratePostgres(sql: SQL, clock: () => number = Date.now): Promise<string[]> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS __webhookd_migrations (tag text PRIMARY KEY, applied_at bigint NOT NULL)`;
    const applied = new Set<string>((await tx`SELECT tag FROM __webhookd_migrations`).map((r: { tag: string }) => r.tag));
    const done: string[] = [];
    for (const m of migrations) {
      if (applied.has(m.tag)) continue;
      for (const statement of statementsOf(m.sql)) await tx.unsafe(statement);
      await tx`INSERT INTO __webhookd_migrations (tag, applied_at) VALUES (${m.tag}, ${clock()})`;
      done.push(m.tag);
    }
    return done;
  });
}
