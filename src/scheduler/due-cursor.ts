/**
 * A position in the due index's (next_attempt_at, id) order: the scheduler keeps one for all rows
 * and one per org, each saying that every pending row (of all orgs, or of that org) at or before
 * it is in memory.
 */
export interface DueCursor {
  due: number;
  id: string;
}

interface Due {
  id: string;
  nextAttemptAt: number;
}

/** Sorts after every id (ids are ASCII). */
const AFTER_ALL_IDS = "\u{10FFFF}";

export const START: DueCursor = { due: -Infinity, id: "" };

export const at = (d: Due): DueCursor => ({ due: d.nextAttemptAt, id: d.id });

/** Past every row due by `until`. */
export const through = (until: number): DueCursor => ({ due: until, id: AFTER_ALL_IDS });

/** Just before `d`, so paging from here finds it again. */
export const justBefore = (d: Due): DueCursor => through(d.nextAttemptAt - 1);

export const covers = (c: DueCursor, d: Due): boolean => d.nextAttemptAt < c.due || (d.nextAttemptAt === c.due && d.id <= c.id);

export const later = (a: DueCursor, b: DueCursor): DueCursor => (a.due > b.due || (a.due === b.due && a.id >= b.id) ? a : b);

/** The due time to bind in a query: SQLite has no -Infinity, and due times are never negative. */
export const dueParam = (c: DueCursor): number => (c.due === -Infinity ? -1 : c.due);
