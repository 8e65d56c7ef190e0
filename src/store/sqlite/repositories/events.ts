import { and, eq, inArray, sql } from "drizzle-orm";
import type { EventBody, EventsRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import { events } from "../schema.ts";

export function createEventsRepo(db: Db): EventsRepo {
  const insertStmt = db.$client.query<never, [string, string, string, string, string | null, number, number]>(
    `INSERT INTO events (id, org_id, type, body, dedupe_key, is_test, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (org_id, dedupe_key) DO NOTHING`,
  );
  return {
    async insertIfNew(row) {
      // changes, not RETURNING: a RETURNING insert costs about twice as much here.
      return insertStmt.run(row.id, row.orgId, row.type, row.body, row.dedupeKey, row.isTest ? 1 : 0, row.createdAt).changes === 1;
    },
    async findByDedupeKey(orgId, dedupeKey) {
      return db
        .select()
        .from(events)
        .where(and(eq(events.orgId, orgId), eq(events.dedupeKey, dedupeKey)))
        .get();
    },
    async bodies(ids, maxChars = Number.MAX_SAFE_INTEGER) {
      if (ids.length === 0) return new Map<string, EventBody>();
      const rows = db
        .select({ id: events.id, text: sql<string>`substr(${events.body}, 1, ${maxChars})`, cut: sql<number>`length(${events.body}) > ${maxChars}` })
        .from(events)
        .where(inArray(events.id, [...new Set(ids)]))
        .all();
      return new Map(rows.map((r) => [r.id, { text: r.text, cut: Boolean(r.cut) }]));
    },
    async get(orgId, id) {
      return db
        .select()
        .from(events)
        .where(and(eq(events.orgId, orgId), eq(events.id, id)))
        .get();
    },
  };
}
