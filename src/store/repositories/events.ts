import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../database.ts";
import { events } from "../schema.ts";

export type EventRow = typeof events.$inferSelect;
export interface EventBody {
  text: string;
  /** `text` is only the start of the body. */
  cut: boolean;
}

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
    /**
     * The exact bodies of these events, for the delivery log, each cut to its first `maxChars`
     * characters (`cut` says so): a page shows previews, and need not load every payload whole.
     */
    bodies(ids: string[], maxChars = Number.MAX_SAFE_INTEGER): Map<string, EventBody> {
      if (ids.length === 0) return new Map();
      const rows = db
        .select({ id: events.id, text: sql<string>`substr(${events.body}, 1, ${maxChars})`, cut: sql<number>`length(${events.body}) > ${maxChars}` })
        .from(events)
        .where(inArray(events.id, [...new Set(ids)]))
        .all();
      return new Map(rows.map((r) => [r.id, { text: r.text, cut: Boolean(r.cut) }]));
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
