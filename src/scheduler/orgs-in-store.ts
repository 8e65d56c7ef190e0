/**
 * The orgs that may have pending rows in the store and not in memory, so that the scheduler can
 * page an org's own rows when another org's backlog holds the in-order loader back. Per org: a
 * cursor at or before which all its pending rows are in memory, and the earliest due time of one
 * that may not be. Pure bookkeeping: the scheduler reports every row it leaves in the store.
 */
import { covers, justBefore, START, type DueCursor } from "./due-cursor.ts";

interface OrgInStore {
  cursor: DueCursor;
  nextDue: number;
}

export function createOrgsInStore() {
  const orgs = new Map<string, OrgInStore>();

  function note(orgId: string, due: number): OrgInStore {
    const entry = orgs.get(orgId);
    if (!entry) {
      const fresh = { cursor: START, nextDue: due };
      orgs.set(orgId, fresh);
      return fresh;
    }
    entry.nextDue = Math.min(entry.nextDue, due);
    return entry;
  }

  return {
    /** Found at start: the org has pending rows, the first due at `nextDue`. */
    found(orgId: string, nextDue: number): void {
      note(orgId, nextDue);
    },

    /** A row of this org is pending in the store and not in memory (left there or evicted). */
    leftInStore(d: { id: string; orgId: string; nextAttemptAt: number }): void {
      const entry = note(d.orgId, d.nextAttemptAt);
      if (covers(entry.cursor, d)) entry.cursor = justBefore(d);
    },

    /** The orgs that may have a row due by `until` not in memory (a copy: paging them changes the table). */
    dueBy(until: number): Array<[string, OrgInStore]> {
      return [...orgs].filter(([, e]) => e.nextDue <= until);
    },

    /** All the org's pending rows up to `cursor` are in memory; the next may be due at `nextDue` (null: it has none). */
    advance(orgId: string, cursor: DueCursor, nextDue: number | null): void {
      if (nextDue === null) orgs.delete(orgId);
      else orgs.set(orgId, { cursor, nextDue });
    },
  };
}
