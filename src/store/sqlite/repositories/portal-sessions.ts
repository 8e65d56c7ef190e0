import { and, eq, gt, inArray, isNull, lt } from "drizzle-orm";
import type { PortalSessionsRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import { portalSessions } from "../schema.ts";

export function createPortalSessionsRepo(db: Db): PortalSessionsRepo {
  return {
    async insert(row) {
      db.insert(portalSessions).values(row).run();
    },
    async useLink(linkHash, sessionHash, now) {
      return db
        .update(portalSessions)
        .set({ usedAt: now, sessionHash })
        .where(and(eq(portalSessions.linkHash, linkHash), isNull(portalSessions.usedAt), isNull(portalSessions.revokedAt), gt(portalSessions.linkExpiresAt, now)))
        .returning()
        .get();
    },
    async findByLink(linkHash) {
      return db.select().from(portalSessions).where(eq(portalSessions.linkHash, linkHash)).get();
    },
    async findBySession(sessionHash) {
      return db.select().from(portalSessions).where(eq(portalSessions.sessionHash, sessionHash)).get();
    },
    async revoke(id, now) {
      db.update(portalSessions).set({ revokedAt: now }).where(eq(portalSessions.id, id)).run();
    },
    async deleteEnded(before, limit) {
      const ended = db.select({ id: portalSessions.id }).from(portalSessions).where(lt(portalSessions.expiresAt, before)).limit(limit);
      return db.delete(portalSessions).where(inArray(portalSessions.id, ended)).returning({ id: portalSessions.id }).all().length;
    },
  };
}
