/**
 * Deletes what the retention window has passed, a bounded batch per call so no transaction holds
 * its row locks for long. Pending deliveries are never deleted, however old.
 */
import type { SQL } from "bun";
import type { RetentionRepo, RetentionTable } from "../../port.ts";

export function pgRetentionRepo(db: SQL): RetentionRepo {
  return {
    async deleteBatch(table: RetentionTable, cutoff: number, limit: number): Promise<number> {
      switch (table) {
        case "attempts":
          return (await db`DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE created_at < ${cutoff} LIMIT ${limit})`).count;
        case "deliveries":
          return (
            await db`DELETE FROM deliveries WHERE id IN
              (SELECT id FROM deliveries WHERE created_at < ${cutoff} AND status <> 'pending' LIMIT ${limit}) AND status <> 'pending'`
          ).count;
        case "events":
          return (
            await db`DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.created_at < ${cutoff}
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT ${limit})`
          ).count;
        case "endpoints":
          return (
            await db`DELETE FROM endpoints WHERE id IN (SELECT p.id FROM endpoints p WHERE p.deleted_at < ${cutoff}
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = p.id) LIMIT ${limit})`
          ).count;
      }
    },
  };
}
