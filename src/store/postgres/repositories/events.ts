import type { SQL } from "bun";
import type { EventBody, EventRow, EventsReads, EventsRepo } from "../../port.ts";
import { toEvent } from "../rows.ts";

/** substr/left take an int4: a larger cut is no cut. */
const MAX_INT4 = 2 ** 31 - 1;

export function pgEventsReads(db: SQL): EventsReads {
  return {
    async findByDedupeKey(orgId: string, dedupeKey: string): Promise<EventRow | undefined> {
      const [row] = await db`SELECT * FROM events WHERE org_id = ${orgId} AND dedupe_key = ${dedupeKey}`;
      return row && toEvent(row);
    },

    async bodies(ids: string[], maxChars = MAX_INT4): Promise<Map<string, EventBody>> {
      if (ids.length === 0) return new Map();
      const cut = Math.min(maxChars, MAX_INT4);
      const rows = await db`
        SELECT id, left(body, ${cut}::int) AS text, length(body) > ${cut}::int AS cut FROM events
        WHERE id = ANY(${db.array([...new Set(ids)], "TEXT")}::text[])`;
      return new Map(rows.map((r: { id: string; text: string; cut: boolean }) => [r.id, { text: r.text, cut: r.cut }]));
    },

    async get(orgId: string, id: string): Promise<EventRow | undefined> {
      const [row] = await db`SELECT * FROM events WHERE org_id = ${orgId} AND id = ${id}`;
      return row && toEvent(row);
    },
  };
}

export function pgEventsRepo(db: SQL): EventsRepo {
  return {
    ...pgEventsReads(db),
    async insertIfNew(e: EventRow): Promise<boolean> {
      // The unique index events_dedupe holds the dedupe across connections and nodes.
      const result = await db`
        INSERT INTO events (id, org_id, type, body, dedupe_key, is_test, created_at)
        VALUES (${e.id}, ${e.orgId}, ${e.type}, ${e.body}, ${e.dedupeKey}, ${e.isTest}, ${e.createdAt})
        ON CONFLICT (org_id, dedupe_key) DO NOTHING`;
      return result.count === 1;
    },
  };
}
