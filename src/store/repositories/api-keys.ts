import { and, asc, eq, isNull } from "drizzle-orm";
import type { Db } from "../database.ts";
import { apiKeys } from "../schema.ts";

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export function createApiKeysRepo(db: Db) {
  return {
    insert(row: ApiKeyRow): void {
      db.insert(apiKeys).values(row).run();
    },
    findByHash(hash: string): ApiKeyRow | undefined {
      return db.select().from(apiKeys).where(eq(apiKeys.keyHash, hash)).get();
    },
    get(orgId: string, id: string): ApiKeyRow | undefined {
      return db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, orgId)))
        .get();
    },
    listForOrg(orgId: string): ApiKeyRow[] {
      return db.select().from(apiKeys).where(eq(apiKeys.orgId, orgId)).orderBy(asc(apiKeys.id)).all();
    },
    hasAdminKey(): boolean {
      return !!db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(isNull(apiKeys.orgId), isNull(apiKeys.revokedAt)))
        .get();
    },
    revoke(id: string, at: number): void {
      db.update(apiKeys).set({ revokedAt: at }).where(eq(apiKeys.id, id)).run();
    },
  };
}
export type ApiKeysRepo = ReturnType<typeof createApiKeysRepo>;
