import { asc, eq } from "drizzle-orm";
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
    list(): OrgRow[] {
      return db.select().from(orgs).orderBy(asc(orgs.id)).all();
    },
  };
}
export type OrgsRepo = ReturnType<typeof createOrgsRepo>;
