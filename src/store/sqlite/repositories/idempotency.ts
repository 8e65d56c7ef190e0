import { and, eq, lt } from "drizzle-orm";
import type { IdempotencyRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import { idempotencyRecords } from "../schema.ts";

export function createIdempotencyRepo(db: Db): IdempotencyRepo {
  const match = (scope: string, key: string) => and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key));
  return {
    async get(scope, key) {
      return db.select().from(idempotencyRecords).where(match(scope, key)).get();
    },
    async claim(scope, key, requestHash, at) {
      const inserted = db
        .insert(idempotencyRecords)
        .values({ scope, key, requestHash, state: "in_progress", createdAt: at })
        .onConflictDoNothing()
        .returning({ key: idempotencyRecords.key })
        .all();
      return inserted.length === 1;
    },
    async complete(scope, key, status, body) {
      db.update(idempotencyRecords).set({ state: "done", responseStatus: status, responseBody: body }).where(match(scope, key)).run();
    },
    async release(scope, key) {
      db.delete(idempotencyRecords).where(match(scope, key)).run();
    },
    async deleteOlderThan(cutoff) {
      return db.delete(idempotencyRecords).where(lt(idempotencyRecords.createdAt, cutoff)).returning({ key: idempotencyRecords.key }).all().length;
    },
  };
}
