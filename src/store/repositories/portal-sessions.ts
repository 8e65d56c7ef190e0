/**
 * Portal sessions. Every method returns a Promise although bun:sqlite answers synchronously: the
 * store is moving behind an async port (ARCHITECTURE.md), and callers written against promises
 * need no change when it does. Writes go through the group commit (`write`), like every API write.
 */
import { and, eq, gt, inArray, isNull, lt } from "drizzle-orm";
import type { Db } from "../database.ts";
import { portalSessions } from "../schema.ts";
import type { StoreWrite } from "../write-batcher.ts";

export type PortalSessionRow = typeof portalSessions.$inferSelect;

export function createPortalSessionsRepo(db: Db, write: StoreWrite) {
  return {
    async insert(row: PortalSessionRow): Promise<void> {
      await write(() => db.insert(portalSessions).values(row).run());
    },

    /**
     * Uses a link: the one conditional update that makes it single-use, whichever process (or
     * how many at once) tries. Returns the session, or undefined when the link is unknown, used
     * or past its time (findByLink then tells which).
     */
    async useLink(linkHash: string, sessionHash: string, now: number): Promise<PortalSessionRow | undefined> {
      return write(() =>
        db
          .update(portalSessions)
          .set({ usedAt: now, sessionHash })
          .where(
            and(
              eq(portalSessions.linkHash, linkHash),
              isNull(portalSessions.usedAt),
              isNull(portalSessions.revokedAt),
              gt(portalSessions.linkExpiresAt, now),
            ),
          )
          .returning()
          .get(),
      );
    },

    async findByLink(linkHash: string): Promise<PortalSessionRow | undefined> {
      return db.select().from(portalSessions).where(eq(portalSessions.linkHash, linkHash)).get();
    },

    async findBySession(sessionHash: string): Promise<PortalSessionRow | undefined> {
      return db.select().from(portalSessions).where(eq(portalSessions.sessionHash, sessionHash)).get();
    },

    async revoke(id: string, now: number): Promise<void> {
      await write(() => db.update(portalSessions).set({ revokedAt: now }).where(eq(portalSessions.id, id)).run());
    },

    /** Deletes up to `limit` sessions that ended before `before`; returns how many. */
    async deleteEnded(before: number, limit: number): Promise<number> {
      const ended = db.select({ id: portalSessions.id }).from(portalSessions).where(lt(portalSessions.expiresAt, before)).limit(limit);
      // Relaxed: a delete lost to a power cut is done again by the next sweep.
      return write(() => db.delete(portalSessions).where(inArray(portalSessions.id, ended)).returning({ id: portalSessions.id }).all().length, "relaxed");
    },
  };
}
export type PortalSessionsRepo = ReturnType<typeof createPortalSessionsRepo>;
