import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../database.ts";
import { events } from "../schema.ts";

export type EventRow = typeof events.$inferSelect;

export function createEventsRepo(db: Db) {
  const sqlite = db.$client;
  const insertStmt = sqlite.query<never, [string, string, string, string, string | null, number, number]>(
    `INSERT INTO events (id, org_id, type, body, dedupe_key, is_test, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (org_id, dedupe_key) DO NOTHING`,
  );
  return {
    /** False when the org already has an event with this dedupe key (nothing written). */
    insertIfNew(row: EventRow): boolean {
      // changes, not RETURNING: a RETURNING insert costs about twice as much here.
      return insertStmt.run(row.id, row.orgId, row.type, row.body, row.dedupeKey, row.isTest ? 1 : 0, row.createdAt).changes === 1;
    },
    findByDedupeKey(orgId: string, dedupeKey: string): EventRow | undefined {
      return db
        .select()
        .from(events)
        .where(and(eq(events.orgId, orgId), eq(events.dedupeKey, dedupeKey)))
        .get();
    },
    /** The exact bodies of these events, for delivery log pages. */
    bodies(ids: string[]): Map<string, string> {
      if (ids.length === 0) return new Map();
      const rows = db.select({ id: events.id, body: events.body }).from(events).where(inArray(events.id, [...new Set(ids)])).all();
      return new Map(rows.map((r) => [r.id, r.body]));
    },
    get(orgId: string, id: string): EventRow | undefined {
      return db
        .select()
        .from(events)
        .where(and(eq(events.orgId, orgId), eq(events.id, id)))
        .get();
    },
  };
}
export type EventsRepo = ReturnType<typeof createEventsRepo>;
