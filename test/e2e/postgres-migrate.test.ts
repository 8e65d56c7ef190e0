/**
 * The PostgreSQL migrations on a real server: nodes starting at once apply them exactly once (one
 * transaction under an advisory lock), and a node starting later finds nothing to do. Needs
 * PostgreSQL's server binaries (`.ci/run` installs them); without them the suite fails in CI and is
 * skipped, loudly, elsewhere.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { migratePostgres } from "../../src/store/postgres/migrate.ts";
import { migrations } from "../../src/store/postgres/migrations/index.ts";
import { postgresBinDir, startPostgres, type Postgres } from "../helpers/postgres.ts";

const havePostgres = postgresBinDir() !== null;
if (!havePostgres && process.env.CI === "true") throw new Error("PostgreSQL is missing: .ci/run installs it (apt-get install postgresql)");
if (!havePostgres) console.warn("SKIPPED test/e2e/postgres-migrate.test.ts: PostgreSQL is not installed (apt-get install postgresql)");

describe.skipIf(!havePostgres)("PostgreSQL migrations", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.stop());

  test("three nodes starting at once apply each migration exactly once; a later start applies nothing", async () => {
    const url = await pg.createDatabase("migrate_race");
    const nodes = [new SQL(url), new SQL(url), new SQL(url)];
    try {
      const results = await Promise.all(nodes.map((sql) => migratePostgres(sql)));
      const tags = migrations.map((m) => m.tag);
      expect(results.filter((r) => r.length > 0)).toEqual([tags]);
      expect(results.filter((r) => r.length === 0)).toHaveLength(2);
      expect(await migratePostgres(nodes[0]!)).toEqual([]);

      const [sql] = nodes;
      expect((await sql!`SELECT tag FROM __webhookd_migrations ORDER BY tag`).map((r: { tag: string }) => r.tag)).toEqual(tags);
      const tables = (await sql!`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`).map(
        (r: { table_name: string }) => r.table_name,
      );
      expect(tables).toEqual(["__webhookd_migrations", "api_keys", "attempts", "deliveries", "endpoints", "events", "idempotency_records", "orgs", "portal_sessions"]);
      // The due index is partial, as on SQLite: only pending rows are in it.
      const due = await sql!`SELECT indexdef FROM pg_indexes WHERE indexname = 'deliveries_due'`;
      expect(due[0].indexdef).toContain("WHERE (status = 'pending'::text)");
    } finally {
      await Promise.all(nodes.map((sql) => sql.close()));
    }
  });
});
