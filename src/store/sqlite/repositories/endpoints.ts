import { and, asc, count, desc, eq, isNotNull, isNull, sql } from "drizzle-orm";
import type { AutoDisableReason, EndpointsRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import type { ChangeNotices } from "../change-notices.ts";
import type { WriteBatcher } from "../write-batcher.ts";
import { endpoints } from "../schema.ts";

const live = (orgId: string) => and(eq(endpoints.orgId, orgId), isNull(endpoints.deletedAt));
const countersKey = (endpointId: string) => `endpoint-counters:${endpointId}`;

export function createEndpointsRepo(db: Db, notices: ChangeNotices, batcher: Pick<WriteBatcher, "coalesce" | "flushCoalesced">): EndpointsRepo {
  const sqlite = db.$client;
  const successStmt = sqlite.query("UPDATE endpoints SET consecutive_failures = 0, last_triggered_at = ? WHERE id = ?");
  const triggeredStmt = sqlite.query("UPDATE endpoints SET last_triggered_at = ? WHERE id = ?");
  const exhaustedStmt = sqlite.query<{ consecutiveFailures: number; enabled: number }, [number, string]>(
    `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failure_count = failure_count + 1,
       last_triggered_at = ? WHERE id = ? RETURNING consecutive_failures AS consecutiveFailures, enabled`,
  );
  const autoDisableStmt = sqlite.query<{ orgId: string }, [AutoDisableReason, number, number, string]>(
    `UPDATE endpoints SET enabled = 0, disabled_reason = ?, disabled_at = ?, updated_at = ?
     WHERE id = ? AND enabled = 1 RETURNING org_id AS orgId`,
  );
  const countLive = (orgId: string) => db.select({ n: count() }).from(endpoints).where(live(orgId)).get()?.n ?? 0;

  return {
    async sampleSealedSecret() {
      return db.select({ s: endpoints.secretEnc }).from(endpoints).limit(1).get()?.s;
    },
    async recordAttempt(id, at, success) {
      // One endpoint gets many of these per group commit: merged into one UPDATE at its end.
      batcher.coalesce<{ reset: boolean; at: number }>(
        countersKey(id),
        (previous) => ({ reset: success || (previous?.reset ?? false), at }),
        (s) => (s.reset ? successStmt.run(s.at, id) : triggeredStmt.run(s.at, id)),
      );
    },
    async recordExhausted(id, at) {
      // The run of failures counts from the successes merged before this one.
      batcher.flushCoalesced(countersKey(id));
      const row = exhaustedStmt.get(at, id);
      return row && { consecutiveFailures: row.consecutiveFailures, enabled: row.enabled === 1 };
    },
    async autoDisable(id, at, reason) {
      const row = autoDisableStmt.get(reason, at, at, id);
      if (row) notices.endpointChanged(row.orgId, id);
      return row !== null;
    },
    async insertWithinLimit(row, limit) {
      // One writer at a time (the group commit, or BEGIN IMMEDIATE across processes): the count holds.
      if (countLive(row.orgId) >= limit) return false;
      db.insert(endpoints).values(row).run();
      notices.endpointChanged(row.orgId, row.id);
      return true;
    },
    async get(orgId, id) {
      return db
        .select()
        .from(endpoints)
        .where(and(live(orgId), eq(endpoints.id, id)))
        .get();
    },
    async getWithDeleted(orgId, id) {
      return db
        .select()
        .from(endpoints)
        .where(and(eq(endpoints.orgId, orgId), eq(endpoints.id, id)))
        .get();
    },
    async getById(id) {
      return db.select().from(endpoints).where(eq(endpoints.id, id)).get();
    },
    async list(orgId) {
      return db.select().from(endpoints).where(live(orgId)).orderBy(asc(endpoints.id)).all();
    },
    async listDeleted(orgId, limit) {
      // A range of endpoints_org (org_id, deleted_at), read from its newest end.
      return db
        .select()
        .from(endpoints)
        .where(and(eq(endpoints.orgId, orgId), isNotNull(endpoints.deletedAt)))
        .orderBy(desc(endpoints.deletedAt))
        .limit(limit)
        .all();
    },
    async update(orgId, id, patch) {
      const row = db
        .update(endpoints)
        .set(patch)
        .where(and(live(orgId), eq(endpoints.id, id)))
        .returning()
        .get();
      if (row) notices.endpointChanged(orgId, id);
      return row;
    },
    async rotateSecret(orgId, id, secretEnc, previousExpiresAt, at) {
      // One statement: the secret kept in grace is whatever is current when it runs.
      const row = db
        .update(endpoints)
        .set({
          secretEnc,
          previousSecretEnc: previousExpiresAt === null ? null : sql`${endpoints.secretEnc}`,
          previousSecretExpiresAt: previousExpiresAt,
          updatedAt: at,
        })
        .where(and(live(orgId), eq(endpoints.id, id)))
        .returning()
        .get();
      if (row) notices.endpointChanged(orgId, id);
      return row;
    },
  };
}
