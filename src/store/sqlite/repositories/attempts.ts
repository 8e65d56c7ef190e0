import { desc, eq, inArray, max } from "drizzle-orm";
import type { AttemptsRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import { attempts } from "../schema.ts";

export function createAttemptsRepo(db: Db): AttemptsRepo {
  const insertStmt = db.$client.query(
    `INSERT INTO attempts (id, delivery_id, endpoint_id, trigger, attempt_number, url, status_code, duration_ms,
       error_code, error_message, response_headers, response_body, request_headers, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return {
    async insert(a) {
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
        a.requestHeaders === null ? null : JSON.stringify(a.requestHeaders),
        a.createdAt,
      );
    },
    async latestForDelivery(deliveryId, limit) {
      return db.select().from(attempts).where(eq(attempts.deliveryId, deliveryId)).orderBy(desc(attempts.id)).limit(limit).all().reverse();
    },
    async latestFor(deliveryIds) {
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
