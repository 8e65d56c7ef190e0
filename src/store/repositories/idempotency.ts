import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../database.ts";
import { idempotencyRecords } from "../schema.ts";

export type IdempotencyRow = typeof idempotencyRecords.$inferSelect;

export function createIdempotencyRepo(db: Db) {
  const match = (scope: string, key: string) =>
    and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key));
  return {
    get(scope: string, key: string): IdempotencyRow | undefined {
      return db.select().from(idempotencyRecords).where(match(scope, key)).get();
    },
    /** Claims the key; false when another request holds or held it. */
    claim(scope: string, key: string, requestHash: string, at: number): boolean {
      const inserted = db
        .insert(idempotencyRecords)
        .values({ scope, key, requestHash, state: "in_progress", createdAt: at })
        .onConflictDoNothing()
        .returning({ key: idempotencyRecords.key })
        .all();
      return inserted.length === 1;
    },
    complete(scope: string, key: string, status: number, body: string): void {
      db.update(idempotencyRecords)
        .set({ state: "done", responseStatus: status, responseBody: body })
        .where(match(scope, key))
        .run();
    },
    release(scope: string, key: string): void {
      db.delete(idempotencyRecords).where(match(scope, key)).run();
    },
    deleteOlderThan(cutoff: number): number {
      return db.delete(idempotencyRecords).where(lt(idempotencyRecords.createdAt, cutoff)).returning({ key: idempotencyRecords.key }).all().length;
    },
  };
}
export type IdempotencyRepo = ReturnType<typeof createIdempotencyRepo>;
