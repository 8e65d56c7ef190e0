import { asc, eq, gt } from "drizzle-orm";
import type { Db } from "../database.ts";
import { orgs } from "../schema.ts";

export type OrgRow = typeof orgs.$inferSelect;

export function createOrgsRepo(db: Db) {
  return {
    insert(row: OrgRow): void {
      db.insert(orgs).values(row).run();
    },
    get(id: string): OrgRow | undefined {
      return db.select().from(orgs).where(eq(orgs.id, id)).get();
    },
    /** Up to `count` orgs in id order after `after` (from the first when null). */
    listAfter(after: string | null, count: number): OrgRow[] {
      const query = db.select().from(orgs);
      return (after === null ? query : query.where(gt(orgs.id, after))).orderBy(asc(orgs.id)).limit(count).all();
    },
  };
}
export type OrgsRepo = ReturnType<typeof createOrgsRepo>;
