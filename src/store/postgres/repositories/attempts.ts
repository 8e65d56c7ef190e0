import type { SQL } from "bun";
import type { AttemptRow, AttemptsReads, AttemptsRepo } from "../../port.ts";
import { jsonText, toAttempt } from "../rows.ts";

export function pgAttemptsReads(db: SQL): AttemptsReads {
  return {
    async latestForDelivery(deliveryId: string, limit: number): Promise<AttemptRow[]> {
      const rows = await db`SELECT * FROM attempts WHERE delivery_id = ${deliveryId} ORDER BY id DESC LIMIT ${limit}`;
      return rows.map(toAttempt).reverse();
    },

    async latestFor(deliveryIds: string[]): Promise<Map<string, AttemptRow>> {
      if (deliveryIds.length === 0) return new Map();
      // One probe of attempts_delivery per delivery, from its newest end.
      const rows = await db`
        SELECT DISTINCT ON (delivery_id) * FROM attempts
        WHERE delivery_id = ANY(${db.array(deliveryIds, "TEXT")}::text[]) ORDER BY delivery_id, id DESC`;
      return new Map(rows.map((r: Record<string, any>) => [r.delivery_id, toAttempt(r)]));
    },
  };
}

export function pgAttemptsRepo(db: SQL): AttemptsRepo {
  return {
    ...pgAttemptsReads(db),
    async insert(a: AttemptRow): Promise<void> {
      await db`
        INSERT INTO attempts (id, delivery_id, endpoint_id, trigger, attempt_number, url, status_code, duration_ms, error_code,
          error_message, response_headers, response_body, request_headers, created_at)
        VALUES (${a.id}, ${a.deliveryId}, ${a.endpointId}, ${a.trigger}, ${a.attemptNumber}, ${a.url}, ${a.statusCode}::int, ${a.durationMs},
          ${a.errorCode}, ${a.errorMessage}, ${jsonText(a.responseHeaders)}::text::jsonb, ${a.responseBody},
          ${jsonText(a.requestHeaders)}::text::jsonb, ${a.createdAt})`;
    },
  };
}
