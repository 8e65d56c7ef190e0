/**
 * What a cluster node's claim costs beside one org's backlog, on a throwaway PostgreSQL server:
 * `bun run test/bench/postgres-claims.ts [--backlog 300000] [--orgs 200]`.
 *
 * One org with `backlog` pending deliveries due over the last 10 minutes, `orgs` other orgs with
 * three each, none leased. Prints how long finding the orgs with rows due takes (`pendingOrgs`,
 * a skip scan), and claims of 500 split evenly among them (the claimer's normal claim) and of 500
 * of the backlog's org alone, each a relaxed write through the store as the engine makes it.
 */
import { SQL } from "bun";
import { evenQuotas } from "../../src/scheduler/org-shares.ts";
import type { ClaimQuota } from "../../src/store/port.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { startPostgres } from "../helpers/postgres.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(argv[i + 1]);
};
const BACKLOG = flag("backlog", 300_000);
const ORGS = flag("orgs", 200);
const LEASE_MS = 60_000;

const pg = await startPostgres();
try {
  const url = await pg.createDatabase("claims");
  const store = await openPostgresStore(url, { node: "bench", leaseMs: LEASE_MS });
  const db = new SQL(url);
  const now = Date.now();
  const insert = (prefix: string, org: string, count: number, dueFrom: number) => db`
    INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT ${prefix} || lpad(g::text, 9, '0'), ${org} || CASE WHEN ${org} = 'org_small_' THEN lpad((g % ${ORGS})::text, 5, '0') ELSE '' END,
      'evt_bench', 'wh_bench', 'call.ended', 'pending', 0, ${dueFrom}::bigint + g, ${now}::bigint, ${now}::bigint
    FROM generate_series(1, ${count}::int) g`;
  await insert("dlv_big_", "org_big", BACKLOG, now - 600_000);
  await insert("dlv_small_", "org_small_", ORGS * 3, now - 1_000 - ORGS * 3);
  await db`ANALYZE deliveries`;

  const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const value = await f();
    return [value, performance.now() - t0];
  };
  const claim = (quotas: ClaimQuota[]) => store.write((tx) => tx.deliveries.claimDue("bench", now, now + 30_000, LEASE_MS, quotas), "relaxed");

  const rows: Array<[string, string]> = [];
  const [orgs, orgsMs] = await timed(() => store.deliveries.pendingOrgs());
  rows.push([`pendingOrgs (${orgs.length} orgs with pending rows)`, `${orgsMs.toFixed(1)} ms`]);
  const ids = orgs.map((o) => o.orgId);
  for (const round of ["first", "second", "third"]) {
    const [got, ms] = await timed(() => claim(evenQuotas(ids, 500, 0)));
    rows.push([`claim of 500 split among them, ${round}: ${got.length} rows`, `${ms.toFixed(1)} ms`]);
  }
  for (const round of ["first", "second"]) {
    const [got, ms] = await timed(() => claim([{ orgId: "org_big", limit: 500 }]));
    rows.push([`claim of 500 of the backlog's org, ${round}: ${got.length} rows`, `${ms.toFixed(1)} ms`]);
  }
  console.log(`PostgreSQL claims beside a backlog of ${BACKLOG} deliveries of one org and ${ORGS} small orgs (2 cores, fsync on)`);
  console.log("| step | time |\n| --- | --- |");
  for (const [step, time] of rows) console.log(`| ${step} | ${time} |`);
  await store.close();
  await db.close();
} finally {
  await pg.stop();
}
