/**
 * Seeds a stopped webhookd's SQLite file with `count` pending retries (an event and a delivery
 * each, attempted once; by default due in about an hour), straight through bun:sqlite in big
 * transactions.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { benchId, EVENT_TYPE, eventData, webhookBody } from "./payload.ts";
import type { Tenant } from "./webhookd.ts";

const CHUNK = 50_000;

/** Due over ten minutes, starting an hour from now: far beyond the scheduler's window. */
const inAnHour = (i: number, now: number) => now + 3_600_000 + (i % 600_000);

export function seedPendingRetries(dataDir: string, tenant: Tenant, count: number, dueAt = inAnHour): void {
  const db = new Database(join(dataDir, "webhookd.db"), { strict: true });
  db.run("PRAGMA synchronous = OFF");
  const insertEvent = db.query(
    `INSERT INTO events (id, org_id, type, body, dedupe_key, is_test, created_at) VALUES (?, ?, ?, ?, NULL, 0, ?)`,
  );
  const insertDelivery = db.query(
    `INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at,
       last_attempt_at, last_status_code, last_duration_ms, last_error_code, last_error_message, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'pending', 1, ?, ?, 500, 3, 'http_status', 'HTTP 500', ?, ?)`,
  );
  const now = Date.now();
  const endpointId = tenant.endpointIds[0]!;
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const eventId = benchId("evt", now, i);
      insertEvent.run(eventId, tenant.orgId, EVENT_TYPE, webhookBody(eventData(i)), now);
      insertDelivery.run(benchId("dlv", now, i), tenant.orgId, eventId, endpointId, EVENT_TYPE, dueAt(i, now), now, now, now);
    }
  });
  for (let from = 0; from < count; from += CHUNK) chunk(from, Math.min(count, from + CHUNK));
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}
