/**
 * Deletes what the retention window has passed, a bounded batch per call so the write lock is
 * never held for long. Pending deliveries are never deleted, however old.
 */
import type { Database } from "bun:sqlite";

export function createRetentionRepo(sqlite: Database) {
  const statements = {
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
    /** In dependency order: attempts, then finished deliveries, then the events and deleted endpoints they held. */
    tables: ["attempts", "deliveries", "events", "endpoints"] as const,
    deleteBatch(table: keyof typeof statements, cutoff: number, limit: number): number {
      return statements[table].run(cutoff, limit).changes;
    },
  };
}
export type RetentionRepo = ReturnType<typeof createRetentionRepo>;
