import type { SQL } from "bun";
import type { PortalSessionRow, PortalSessionsReads, PortalSessionsRepo } from "../../port.ts";
import { toPortalSession } from "../rows.ts";

export function pgPortalSessionsReads(db: SQL): PortalSessionsReads {
  return {
    async findByLink(linkHash: string): Promise<PortalSessionRow | undefined> {
      const [row] = await db`SELECT * FROM portal_sessions WHERE link_hash = ${linkHash}`;
      return row && toPortalSession(row);
    },
    async findBySession(sessionHash: string): Promise<PortalSessionRow | undefined> {
      const [row] = await db`SELECT * FROM portal_sessions WHERE session_hash = ${sessionHash}`;
      return row && toPortalSession(row);
    },
  };
}

export function pgPortalSessionsRepo(db: SQL): PortalSessionsRepo {
  return {
    ...pgPortalSessionsReads(db),
    async insert(s: PortalSessionRow): Promise<void> {
      await db`
        INSERT INTO portal_sessions (id, org_id, read_only, link_hash, link_expires_at, session_hash, expires_at, return_url, created_by, created_at, used_at, revoked_at)
        VALUES (${s.id}, ${s.orgId}, ${s.readOnly}, ${s.linkHash}, ${s.linkExpiresAt}, ${s.sessionHash}, ${s.expiresAt}, ${s.returnUrl},
          ${s.createdBy}, ${s.createdAt}, ${s.usedAt}::bigint, ${s.revokedAt}::bigint)`;
    },
    async useLink(linkHash: string, sessionHash: string, now: number): Promise<PortalSessionRow | undefined> {
      // One statement: the row lock makes a second use, on any node, find used_at set.
      const [row] = await db`
        UPDATE portal_sessions SET used_at = ${now}, session_hash = ${sessionHash}
        WHERE link_hash = ${linkHash} AND used_at IS NULL AND revoked_at IS NULL AND link_expires_at > ${now}
        RETURNING *`;
      return row && toPortalSession(row);
    },
    async revoke(id: string, now: number): Promise<void> {
      await db`UPDATE portal_sessions SET revoked_at = ${now} WHERE id = ${id}`;
    },
    async deleteEnded(before: number, limit: number): Promise<number> {
      return (await db`DELETE FROM portal_sessions WHERE id IN (SELECT id FROM portal_sessions WHERE expires_at < ${before} LIMIT ${limit})`).count;
    },
  };
}
