import { and, asc, count, eq, isNull } from "drizzle-orm";
import type { Db } from "../database.ts";
import { endpoints } from "../schema.ts";

export type EndpointRow = typeof endpoints.$inferSelect;
export type EndpointPatch = Partial<Omit<EndpointRow, "id" | "orgId" | "createdAt">>;
/** Why webhookd itself disabled an endpoint: failures in a row, or a receiver's 410 Gone. */
export type AutoDisableReason = Exclude<NonNullable<EndpointRow["disabledReason"]>, "manual">;

const live = (orgId: string) => and(eq(endpoints.orgId, orgId), isNull(endpoints.deletedAt));

export function createEndpointsRepo(db: Db) {
  const sqlite = db.$client;
  const successStmt = sqlite.query("UPDATE endpoints SET consecutive_failures = 0, last_triggered_at = ? WHERE id = ?");
  const triggeredStmt = sqlite.query("UPDATE endpoints SET last_triggered_at = ? WHERE id = ?");
  const exhaustedStmt = sqlite.query<{ consecutiveFailures: number; enabled: number }, [number, string]>(
    `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failure_count = failure_count + 1,
       last_triggered_at = ? WHERE id = ? RETURNING consecutive_failures AS consecutiveFailures, enabled`,
  );
  const autoDisableStmt = sqlite.query<never, [AutoDisableReason, number, number, string]>(
    `UPDATE endpoints SET enabled = 0, disabled_reason = ?, disabled_at = ?, updated_at = ?
     WHERE id = ? AND enabled = 1`,
  );
  return {
    /** Any one sealed secret, to check at start that the master key still opens them. */
    sampleSealedSecret(): string | undefined {
      return db.select({ s: endpoints.secretEnc }).from(endpoints).limit(1).get()?.s;
    },
    /** Delivery counters (seed 003): any success resets the run of exhausted deliveries. */
    recordSuccess(id: string, at: number): void {
      successStmt.run(at, id);
    },
    recordTriggered(id: string, at: number): void {
      triggeredStmt.run(at, id);
    },
    /** Counts an exhausted delivery; returns the new run length and whether the endpoint is enabled. */
    recordExhausted(id: string, at: number): { consecutiveFailures: number; enabled: boolean } | null {
      const row = exhaustedStmt.get(at, id);
      return row && { consecutiveFailures: row.consecutiveFailures, enabled: row.enabled === 1 };
    },
    autoDisable(id: string, at: number, reason: AutoDisableReason): boolean {
      return autoDisableStmt.run(reason, at, at, id).changes === 1;
    },
    insert(row: EndpointRow): void {
      db.insert(endpoints).values(row).run();
    },
    /** Live (not deleted) endpoint of that org; another org's id is simply not found. */
    get(orgId: string, id: string): EndpointRow | undefined {
      return db
        .select()
        .from(endpoints)
        .where(and(live(orgId), eq(endpoints.id, id)))
        .get();
    },
    /** An endpoint of that org, deleted or not: a deleted endpoint's log stays readable until retention. */
    getWithDeleted(orgId: string, id: string): EndpointRow | undefined {
      return db
        .select()
        .from(endpoints)
        .where(and(eq(endpoints.orgId, orgId), eq(endpoints.id, id)))
        .get();
    },
    /** Any endpoint by id, deleted ones included: the dispatcher and the log reader need them. */
    getById(id: string): EndpointRow | undefined {
      return db.select().from(endpoints).where(eq(endpoints.id, id)).get();
    },
    list(orgId: string): EndpointRow[] {
      return db.select().from(endpoints).where(live(orgId)).orderBy(asc(endpoints.id)).all();
    },
    countLive(orgId: string): number {
      return db.select({ n: count() }).from(endpoints).where(live(orgId)).get()?.n ?? 0;
    },
    update(orgId: string, id: string, patch: EndpointPatch): EndpointRow | undefined {
      return db
        .update(endpoints)
        .set(patch)
        .where(and(live(orgId), eq(endpoints.id, id)))
        .returning()
        .get();
    },
  };
}
export type EndpointsRepo = ReturnType<typeof createEndpointsRepo>;
