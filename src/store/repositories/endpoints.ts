import { and, asc, count, eq, isNull } from "drizzle-orm";
import type { Db } from "../database.ts";
import { endpoints } from "../schema.ts";

export type EndpointRow = typeof endpoints.$inferSelect;
export type EndpointPatch = Partial<Omit<EndpointRow, "id" | "orgId" | "createdAt">>;

const live = (orgId: string) => and(eq(endpoints.orgId, orgId), isNull(endpoints.deletedAt));

export function createEndpointsRepo(db: Db) {
  return {
    insert(row: EndpointRow): void {
      db.insert(endpoints).values(row).run();
    },
    /** Live (not deleted) endpoint of that org; another org's id is simply not found. */
    get(orgId: string, id: string): EndpointRow | undefined {
      return db
        .select()
        .from(endpoints)
        .where(and(live(orgId), eq(endpoints.id, id)))
        .get();
    },
    /** Any endpoint by id, deleted ones included: the dispatcher and the log reader need them. */
    getById(id: string): EndpointRow | undefined {
      return db.select().from(endpoints).where(eq(endpoints.id, id)).get();
    },
    list(orgId: string): EndpointRow[] {
      return db.select().from(endpoints).where(live(orgId)).orderBy(asc(endpoints.id)).all();
    },
    countLive(orgId: string): number {
      return db.select({ n: count() }).from(endpoints).where(live(orgId)).get()?.n ?? 0;
    },
    update(orgId: string, id: string, patch: EndpointPatch): EndpointRow | undefined {
      return db
        .update(endpoints)
        .set(patch)
        .where(and(live(orgId), eq(endpoints.id, id)))
        .returning()
        .get();
    },
  };
}
export type EndpointsRepo = ReturnType<typeof createEndpointsRepo>;
