/**
 * Delivery rows: the scheduler's truth. The same queries as the SQLite adapter's, in PostgreSQL's
 * words; new rows go in as one array parameter per column (`unnest`), about twice as fast as a
 * multi-row VALUES, leased to the node that writes them. Claims lock what they take with SKIP
 * LOCKED, so nodes claiming at once pass over each other's rows instead of waiting on them.
 */
import type { SQL } from "bun";
import { idBound } from "../../../lib/ids.ts";
import {
  deliveryStatuses,
  type ClaimQuota,
  statusesOf,
  type DeliveriesReads,
  type DeliveriesRepo,
  type DeliveryFilter,
  type DeliveryForAttempt,
  type DeliveryOutcome,
  type DeliveryRow,
  type DeliveryStatus,
  type DueDelivery,
  type LastAttempt,
  type LeaseFence,
  type NewDelivery,
  type NodeLeases,
  type StatusCounts,
} from "../../port.ts";
import { ms, toDelivery } from "../rows.ts";

const toDue = (r: Record<string, any>): DueDelivery => ({
  id: r.id,
  orgId: r.org_id,
  endpointId: r.endpoint_id,
  nextAttemptAt: ms(r.next_attempt_at),
});
const byDue = (a: DueDelivery, b: DueDelivery) => a.nextAttemptAt - b.nextAttemptAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Ids start with their creation time: the bound starts the index range at `since` instead of every older failure. */
const sinceBound = (since: number) => idBound("dlv", since - 1);

/**
 * The filter's conditions on one endpoint's rows, as text with numbered parameters after
 * `first`. The text holds no value of the caller's, only placeholders.
 */
function filterWhere(endpointId: string, f: DeliveryFilter, first = 1): { where: string; values: unknown[] } {
  const values: unknown[] = [endpointId];
  let where = `endpoint_id = $${first}`;
  if (f.eventType !== undefined) {
    values.push(f.eventType);
    where += ` AND event_type = $${first + values.length - 1}`;
  }
  if (f.before !== undefined) {
    values.push(f.before);
    where += ` AND id < $${first + values.length - 1}`;
  }
  return { where, values };
}

export function pgDeliveriesReads(db: SQL): DeliveriesReads {
  return {
    async pageDue(afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]> {
      const rows = await db`
        SELECT id, org_id, endpoint_id, next_attempt_at FROM deliveries
        WHERE status = 'pending' AND next_attempt_at IS NOT NULL
          AND (next_attempt_at > ${afterDue} OR (next_attempt_at = ${afterDue} AND id > ${afterId})) AND next_attempt_at <= ${until}
        ORDER BY next_attempt_at, id LIMIT ${limit}`;
      return rows.map(toDue);
    },

    async pageOrgDue(orgId: string, afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]> {
      const rows = await db`
        SELECT id, org_id, endpoint_id, next_attempt_at FROM deliveries
        WHERE status = 'pending' AND org_id = ${orgId} AND next_attempt_at IS NOT NULL
          AND (next_attempt_at > ${afterDue} OR (next_attempt_at = ${afterDue} AND id > ${afterId})) AND next_attempt_at <= ${until}
        ORDER BY next_attempt_at, id LIMIT ${limit}`;
      return rows.map(toDue);
    },

    async orgNextDue(orgId: string, after: number): Promise<number | null> {
      const [row] = await db`
        SELECT min(next_attempt_at) AS due FROM deliveries WHERE status = 'pending' AND org_id = ${orgId} AND next_attempt_at > ${after}`;
      return row.due === null ? null : ms(row.due);
    },

    async pendingOrgs(): Promise<Array<{ orgId: string; nextDue: number }>> {
      // A skip-scan over deliveries_org_due: each step seeks the next org, however many rows the previous one has.
      const rows = await db`
        WITH RECURSIVE orgs(org_id) AS (
          SELECT min(org_id) FROM deliveries WHERE status = 'pending'
          UNION ALL
          SELECT (SELECT min(d.org_id) FROM deliveries d WHERE d.status = 'pending' AND d.org_id > orgs.org_id)
          FROM orgs WHERE orgs.org_id IS NOT NULL)
        SELECT org_id,
          (SELECT min(d.next_attempt_at) FROM deliveries d WHERE d.status = 'pending' AND d.org_id = orgs.org_id) AS next_due
        FROM orgs WHERE org_id IS NOT NULL`;
      return rows.filter((r: { next_due: string | null }) => r.next_due !== null).map((r: { org_id: string; next_due: string }) => ({ orgId: r.org_id, nextDue: ms(r.next_due) }));
    },

    async forAttempt(id: string): Promise<DeliveryForAttempt | null> {
      const [r] = await db`SELECT d.*, e.body, e.is_test FROM deliveries d LEFT JOIN events e ON e.id = d.event_id WHERE d.id = ${id}`;
      if (!r) return null;
      const { orgId, eventId, endpointId, eventType, status, attempts } = toDelivery(r);
      return { id, orgId, eventId, endpointId, eventType, status, attempts, body: r.body, isTest: r.is_test === true };
    },

    async stoppedWithPending(): Promise<string[]> {
      const rows = await db`
        SELECT p.id FROM endpoints p WHERE (NOT p.enabled OR p.deleted_at IS NOT NULL)
          AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = p.id AND d.status = 'pending')`;
      return rows.map((r: { id: string }) => r.id);
    },

    async get(endpointId: string, id: string): Promise<DeliveryRow | undefined> {
      const [row] = await db`SELECT * FROM deliveries WHERE endpoint_id = ${endpointId} AND id = ${id}`;
      return row && toDelivery(row);
    },

    async listForEvent(eventId: string): Promise<DeliveryRow[]> {
      return (await db`SELECT * FROM deliveries WHERE event_id = ${eventId} ORDER BY id`).map(toDelivery);
    },

    async page(endpointId: string, filter: DeliveryFilter, offset: number, limit: number): Promise<DeliveryRow[]> {
      const statuses = statusesOf(filter);
      if (statuses.length === 0) return [];
      // One range of deliveries_endpoint_status (or _event) per admitted status, each read newest
      // first no further than the page's end; PostgreSQL merges them (Merge Append) without a sort
      // of the endpoint's whole log.
      const { where, values } = filterWhere(endpointId, filter, 3);
      const ranges = statuses.map(
        (_, i) => `(SELECT * FROM deliveries WHERE ${where} AND status = $${3 + values.length + i} ORDER BY id DESC LIMIT $1 + $2)`,
      );
      const rows = await db.unsafe(`SELECT * FROM (${ranges.join(" UNION ALL ")}) AS m ORDER BY id DESC OFFSET $1 LIMIT $2`, [
        offset,
        limit,
        ...values,
        ...statuses,
      ]);
      return rows.map(toDelivery);
    },

    async countUpTo(endpointId: string, filter: DeliveryFilter, cap: number): Promise<number> {
      const statuses = statusesOf(filter);
      if (statuses.length === 0) return 0;
      const { where, values } = filterWhere(endpointId, filter, 3);
      const [row] = await db.unsafe(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM deliveries WHERE ${where} AND status = ANY($2::text[]) LIMIT $1) m`,
        [cap, statuses, ...values],
      );
      return row.n;
    },

    async countFailedSince(endpointId: string, since: number, limit: number): Promise<number> {
      const [row] = await db`
        SELECT count(*)::int AS n FROM (SELECT 1 FROM deliveries
          WHERE endpoint_id = ${endpointId} AND status = 'failed' AND id > ${sinceBound(since)} AND created_at >= ${since} LIMIT ${limit}) m`;
      return row.n;
    },

    async failedIdsSince(endpointId: string, since: number, afterId: string, limit: number): Promise<string[]> {
      const bound = sinceBound(since);
      const rows = await db`
        SELECT id FROM deliveries WHERE endpoint_id = ${endpointId} AND status = 'failed' AND id > ${afterId > bound ? afterId : bound}
          AND created_at >= ${since} ORDER BY id LIMIT ${limit}`;
      return rows.map((r: { id: string }) => r.id);
    },

    // Ids start with their creation time: each bucket is an id range of deliveries_endpoint_status.
    async countsByBucket(endpointId: string, from: number, to: number, step: number): Promise<Array<{ start: number; counts: StatusCounts }>> {
      const starts: number[] = [];
      for (let start = from; start < to; start += step) starts.push(start);
      const rows = await db`
        SELECT b.start, d.status, count(d.id)::int AS n
        FROM unnest(${db.array(starts.map(String), "TEXT")}::bigint[], ${db.array(starts.map((s) => idBound("dlv", s - 1)), "TEXT")}::text[],
                    ${db.array(starts.map((s) => idBound("dlv", Math.min(s + step, to) - 1)), "TEXT")}::text[]) AS b(start, low, high)
        LEFT JOIN deliveries d ON d.endpoint_id = ${endpointId} AND d.id > b.low AND d.id < b.high
        GROUP BY b.start, d.status`;
      const byStart = new Map(starts.map((s) => [s, Object.fromEntries(deliveryStatuses.map((st) => [st, 0])) as StatusCounts]));
      for (const r of rows as Array<{ start: string | number; status: DeliveryStatus | null; n: number }>) {
        if (r.status) byStart.get(Number(r.start))![r.status] = r.n;
      }
      return starts.map((start) => ({ start, counts: byStart.get(start)! }));
    },
  };
}

/** `leases`: this node, to which the rows it inserts are leased. */
export function pgDeliveriesRepo(db: SQL, leases: NodeLeases): DeliveriesRepo {
  return {
    ...pgDeliveriesReads(db),
    async insertMany(rows: NewDelivery[]): Promise<void> {
      if (rows.length === 0) return;
      const column = <K extends keyof NewDelivery>(k: K) => rows.map((r) => r[k]);
      await db`
        INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at,
          lease_owner, lease_expires_at)
        SELECT id, org_id, event_id, endpoint_id, event_type, 'pending', 0, due_at, created_at, created_at,
          ${leases.owner}::text, due_at + ${leases.leaseMs}::bigint
        FROM unnest(${db.array(column("id"), "TEXT")}::text[], ${db.array(column("orgId"), "TEXT")}::text[],
          ${db.array(column("eventId"), "TEXT")}::text[], ${db.array(column("endpointId"), "TEXT")}::text[],
          ${db.array(column("eventType"), "TEXT")}::text[], ${db.array(column("dueAt"), "BIGINT")}::bigint[],
          ${db.array(column("createdAt"), "BIGINT")}::bigint[])
          AS n(id, org_id, event_id, endpoint_id, event_type, due_at, created_at)`;
    },

    async claimDue(owner: string, now: number, until: number, leaseMs: number, quotas: readonly ClaimQuota[]): Promise<DueDelivery[]> {
      if (quotas.length === 0) return [];
      // Each org's earliest free rows by its own index (deliveries_org_due), however long another
      // org's backlog is; `= ANY(ARRAY(...))` updates them by primary key (as `IN (...)`, the
      // planner's guess of the claim's size could hash-join a scan of the whole table).
      const rows = await db`
        UPDATE deliveries SET lease_owner = ${owner}, lease_expires_at = GREATEST(next_attempt_at, ${now}::bigint) + ${leaseMs}::bigint
        WHERE id = ANY(ARRAY(
          SELECT c.id FROM unnest(${db.array(quotas.map((q) => q.orgId), "TEXT")}::text[], ${db.array(quotas.map((q) => q.limit), "INT")}::int[]) AS q(org_id, quota)
          CROSS JOIN LATERAL (
            SELECT d.id FROM deliveries d
            WHERE d.status = 'pending' AND d.org_id = q.org_id AND d.next_attempt_at <= ${until}::bigint
              AND (d.lease_expires_at IS NULL OR d.lease_expires_at < ${now}::bigint)
            ORDER BY d.next_attempt_at, d.id LIMIT q.quota FOR UPDATE SKIP LOCKED) c))
        RETURNING id, org_id, endpoint_id, next_attempt_at`;
      return rows.map(toDue).sort(byDue);
    },

    async renewLeases(owner: string, ids: string[], until: number): Promise<string[]> {
      if (ids.length === 0) return [];
      const rows = await db`
        UPDATE deliveries SET lease_expires_at = GREATEST(lease_expires_at, ${until}::bigint)
        WHERE id = ANY(${db.array(ids, "TEXT")}::text[]) AND lease_owner = ${owner} AND status = 'pending' RETURNING id`;
      return rows.map((r: { id: string }) => r.id);
    },

    async releaseLeases(owner: string, ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      await db`
        UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ANY(${db.array(ids, "TEXT")}::text[]) AND lease_owner = ${owner}`;
    },

    async recordOutcome(o: DeliveryOutcome, now: number, expectStatus: DeliveryStatus, fence?: LeaseFence): Promise<boolean> {
      if (fence) {
        const fenced = await db`
          UPDATE deliveries SET status = ${o.status}, attempts = ${o.attempts}, next_attempt_at = ${o.nextAttemptAt}::bigint,
            last_attempt_at = ${o.lastAttemptAt}, last_status_code = ${o.lastStatusCode}::int, last_duration_ms = ${o.lastDurationMs},
            last_error_code = ${o.lastErrorCode}, last_error_message = ${o.lastErrorMessage}, updated_at = ${now},
            lease_owner = ${fence.keepUntil === null ? null : fence.owner}::text, lease_expires_at = ${fence.keepUntil}::bigint
          WHERE id = ${o.id} AND status = ${expectStatus} AND lease_owner = ${fence.owner}`;
        return fenced.count === 1;
      }
      const result = await db`
        UPDATE deliveries SET status = ${o.status}, attempts = ${o.attempts}, next_attempt_at = ${o.nextAttemptAt}::bigint,
          last_attempt_at = ${o.lastAttemptAt}, last_status_code = ${o.lastStatusCode}::int, last_duration_ms = ${o.lastDurationMs},
          last_error_code = ${o.lastErrorCode}, last_error_message = ${o.lastErrorMessage}, updated_at = ${now}
        WHERE id = ${o.id} AND status = ${expectStatus}`;
      return result.count === 1;
    },

    async recordLastAttempt(o: LastAttempt, now: number): Promise<void> {
      await db`
        UPDATE deliveries SET last_attempt_at = ${o.lastAttemptAt}, last_status_code = ${o.lastStatusCode}::int,
          last_duration_ms = ${o.lastDurationMs}, last_error_code = ${o.lastErrorCode}, last_error_message = ${o.lastErrorMessage},
          updated_at = ${now}
        WHERE id = ${o.id}`;
    },

    async cancelPendingBatch(endpointId: string, beforeId: string, now: number, limit: number): Promise<number> {
      const result = await db`
        UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = ${now}
        WHERE id IN (SELECT id FROM deliveries WHERE endpoint_id = ${endpointId} AND status = 'pending' AND id < ${beforeId} LIMIT ${limit})
          AND status = 'pending'`;
      return result.count;
    },
  };
}
