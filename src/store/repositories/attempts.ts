import { desc, eq, inArray, max } from "drizzle-orm";
import type { Db } from "../database.ts";
import { attempts } from "../schema.ts";

export type AttemptRow = typeof attempts.$inferSelect;

export function createAttemptsRepo(db: Db) {
  const insertStmt = db.$client.query(
    `INSERT INTO attempts (id, delivery_id, endpoint_id, trigger, attempt_number, url, status_code, duration_ms,
       error_code, error_message, response_headers, response_body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return {
    insert(a: AttemptRow): void {
      insertStmt.run(
        a.id,
        a.deliveryId,
        a.endpointId,
        a.trigger,
        a.attemptNumber,
        a.url,
        a.statusCode,
        a.durationMs,
        a.errorCode,
        a.errorMessage,
        a.responseHeaders === null ? null : JSON.stringify(a.responseHeaders),
        a.responseBody,
        a.createdAt,
      );
    },
    /** The delivery's latest `limit` attempts, oldest first (replays can add any number). */
    latestForDelivery(deliveryId: string, limit: number): AttemptRow[] {
      return db.select().from(attempts).where(eq(attempts.deliveryId, deliveryId)).orderBy(desc(attempts.id)).limit(limit).all().reverse();
    },
    /** The latest attempt of each delivery, for log listings: one query for a page. */
    latestFor(deliveryIds: string[]): Map<string, AttemptRow> {
      if (deliveryIds.length === 0) return new Map();
      const latest = db
        .select({ id: max(attempts.id) })
        .from(attempts)
        .where(inArray(attempts.deliveryId, deliveryIds))
        .groupBy(attempts.deliveryId);
      const rows = db.select().from(attempts).where(inArray(attempts.id, latest)).all();
      return new Map(rows.map((r) => [r.deliveryId, r]));
    },
  };
}
export type AttemptsRepo = ReturnType<typeof createAttemptsRepo>;
