import { and, asc, eq, gt, isNull, ne } from "drizzle-orm";
import type { ApiKeysRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import type { ChangeNotices } from "../change-notices.ts";
import { apiKeys } from "../schema.ts";

export function createApiKeysRepo(db: Db, notices: ChangeNotices): ApiKeysRepo {
  return {
    async insert(row) {
      db.insert(apiKeys).values(row).run();
    },
    async findByHash(hash) {
      return db.select().from(apiKeys).where(eq(apiKeys.keyHash, hash)).get();
    },
    async get(orgId, id) {
      return db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, orgId)))
        .get();
    },
    async listForOrgAfter(orgId, after, count) {
      const ofOrg = eq(apiKeys.orgId, orgId);
      return db
        .select()
        .from(apiKeys)
        .where(after === null ? ofOrg : and(ofOrg, gt(apiKeys.id, after)))
        .orderBy(asc(apiKeys.id))
        .limit(count)
        .all();
    },
    async hasAdminKey() {
      return !!db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(isNull(apiKeys.orgId), isNull(apiKeys.revokedAt)))
        .get();
    },
    async listAdmin() {
      return db.select().from(apiKeys).where(isNull(apiKeys.orgId)).orderBy(asc(apiKeys.id)).all();
    },
    async getAdmin(id) {
      return db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.orgId)))
        .get();
    },
    async revokeAdminKeys(at, keepId) {
      const live = and(isNull(apiKeys.orgId), isNull(apiKeys.revokedAt));
      const hashes = db
        .update(apiKeys)
        .set({ revokedAt: at })
        .where(keepId === undefined ? live : and(live, ne(apiKeys.id, keepId)))
        .returning({ keyHash: apiKeys.keyHash })
        .all()
        .map((r) => r.keyHash);
      hashes.forEach(notices.keyRevoked);
      return hashes;
    },
    async revoke(id, at) {
      const row = db.update(apiKeys).set({ revokedAt: at }).where(eq(apiKeys.id, id)).returning({ keyHash: apiKeys.keyHash }).get();
      if (row) notices.keyRevoked(row.keyHash);
    },
  };
}
