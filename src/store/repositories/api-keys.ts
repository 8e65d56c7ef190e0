import { and, asc, eq, gt, isNull, ne } from "drizzle-orm";
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
    /** Up to `count` of an org's keys in id order after `after` (from the first when null). */
    listForOrgAfter(orgId: string, after: string | null, count: number): ApiKeyRow[] {
      const ofOrg = eq(apiKeys.orgId, orgId);
      return db
        .select()
        .from(apiKeys)
        .where(after === null ? ofOrg : and(ofOrg, gt(apiKeys.id, after)))
        .orderBy(asc(apiKeys.id))
        .limit(count)
        .all();
    },
    hasAdminKey(): boolean {
      return !!db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(isNull(apiKeys.orgId), isNull(apiKeys.revokedAt)))
        .get();
    },
    /** Stored admin keys (org null), revoked ones included. */
    listAdmin(): ApiKeyRow[] {
      return db.select().from(apiKeys).where(isNull(apiKeys.orgId)).orderBy(asc(apiKeys.id)).all();
    },
    getAdmin(id: string): ApiKeyRow | undefined {
      return db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.orgId)))
        .get();
    },
    /** Revokes every live admin key but `keepId`; returns the hashes revoked. */
    revokeAdminKeys(at: number, keepId?: string): string[] {
      const live = and(isNull(apiKeys.orgId), isNull(apiKeys.revokedAt));
      return db
        .update(apiKeys)
        .set({ revokedAt: at })
        .where(keepId === undefined ? live : and(live, ne(apiKeys.id, keepId)))
        .returning({ keyHash: apiKeys.keyHash })
        .all()
        .map((r) => r.keyHash);
    },
    revoke(id: string, at: number): void {
      db.update(apiKeys).set({ revokedAt: at }).where(eq(apiKeys.id, id)).run();
    },
  };
}
export type ApiKeysRepo = ReturnType<typeof createApiKeysRepo>;
