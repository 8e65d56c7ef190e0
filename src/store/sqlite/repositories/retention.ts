/**
 * Deletes what the retention window has passed, a bounded batch per call so the write lock is
 * never held for long. Pending deliveries are never deleted, however old.
 */
import type { Database } from "bun:sqlite";
import type { RetentionRepo, RetentionTable } from "../../port.ts";

export function createRetentionRepo(sqlite: Database): RetentionRepo {
  const statements: Record<RetentionTable, ReturnType<Database["query"]>> = {
    attempts: sqlite.query("DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE created_at < ? LIMIT ?)"),
    deliveries: sqlite.query(
      "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created_at < ? AND status != 'pending' LIMIT ?)",
    ),
    events: sqlite.query(
      `DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.created_at < ?
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT ?)`,
    ),
    endpoints: sqlite.query(
      `DELETE FROM endpoints WHERE id IN (SELECT p.id FROM endpoints p WHERE p.deleted_at < ?
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = p.id) LIMIT ?)`,
    ),
  };
  return {
    async deleteBatch(table, cutoff, limit) {
      return statements[table].run(cutoff, limit).changes;
    },
  };
}
