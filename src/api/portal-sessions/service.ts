/**
 * Portal sessions (issue 13): a backend asks for a single-use link for one org; the browser that
 * opens it gets a session cookie; requests carrying the cookie act as that org with the
 * session's scopes. Only SHA-256 hashes of the link token and the session token are stored.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import { ForbiddenError, PortalLinkError, ValidationError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import type { ApiKeysReads, OrgsReads, PortalSessionRow, PortalSessionsReads, StoreWrite } from "../../store/port.ts";
import { constantTimeEqual } from "../../security/tokens.ts";
import type { Caller, Principal } from "../auth/service.ts";
import type { Scope } from "../auth/scopes.ts";

/** A link must be opened this soon (or before its session ends, if sooner): it travels in URLs. */
export const LINK_TTL_MS = 10 * 60_000;
export const DEFAULT_SESSION_SECONDS = 3600;
export const MAX_SESSION_SECONDS = 7 * 24 * 3600;
export const SESSION_COOKIE = "webhookd_portal";
const ENDED_KEPT_MS = 86_400_000;
/** Principals of portal sessions carry the session id as their key id: rate limits and idempotency records are per session. */
const SESSION_ID_PREFIX = "ps_";

const READ_SCOPES: readonly Scope[] = ["webhooks:read"];
const WRITE_SCOPES: readonly Scope[] = ["webhooks:read", "webhooks:write"];
/** Shapes of the secrets: base64url of 32 random bytes. Anything else is refused before a lookup. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const newToken = () => randomBytes(32).toString("base64url");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The CSRF token of a session, derived from its secret: the page learns it from
 * GET /api/v1/portal/session and sends it as X-CSRF-Token; a page on another origin can send the
 * cookie but cannot read the token.
 */
export const csrfTokenOf = (sessionToken: string) => sha256(`csrf:${sessionToken}`);

export interface NewSessionInput {
  readOnly?: boolean;
  expiresInSeconds?: number;
  returnUrl?: string | null;
}

export interface PortalSessionsServiceDeps {
  sessions: PortalSessionsReads;
  write: StoreWrite;
  orgs: OrgsReads;
  apiKeys: ApiKeysReads;
  clock: Clock;
}

/** Whether this principal is a portal session (rather than an API key). */
export const isPortalSession = (principal: Principal) => principal.keyId.startsWith(SESSION_ID_PREFIX);

function checkReturnUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError("returnUrl must be an absolute http(s) URL.", "returnUrl");
  }
  // The portal shows it as a link: a javascript: or data: URL would run in the portal's origin.
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ValidationError("returnUrl must be an absolute http(s) URL.", "returnUrl");
  return url.href;
}

export function createPortalSessionsService({ sessions, orgs, apiKeys, write, clock }: PortalSessionsServiceDeps) {
  /**
   * Whether the key that made a session was revoked since: revoking a key ends the sessions it
   * made, at their next request. ("env" is WEBHOOKD_ADMIN_KEY, which a restart replaces.)
   */
  async function creatorRevoked(row: PortalSessionRow): Promise<boolean> {
    if (row.createdBy === "env") return false;
    const key = (await apiKeys.get(row.orgId, row.createdBy)) ?? (await apiKeys.getAdmin(row.createdBy));
    return !key || key.revokedAt !== null;
  }

  /** The session behind a cookie value, when it is live. */
  async function liveSession(sessionToken: string | null): Promise<PortalSessionRow | null> {
    if (!sessionToken || !TOKEN_SHAPE.test(sessionToken)) return null;
    const hash = sha256(sessionToken);
    const row = await sessions.findBySession(hash);
    if (!row || !row.sessionHash || !constantTimeEqual(row.sessionHash, hash)) return null;
    if (row.revokedAt !== null || row.expiresAt <= clock() || (await creatorRevoked(row))) return null;
    return row;
  }

  return {
    /**
     * A single-use link for `orgId`. `creator` is the caller asking: a portal session cannot make
     * links (it would outlive itself), and a key without webhooks:write can only make read-only ones.
     */
    async create(orgId: string, creator: Principal, input: NewSessionInput) {
      if (isPortalSession(creator)) throw new ForbiddenError("A portal session cannot create portal sessions; use an API key.");
      const readOnly = input.readOnly ?? false;
      if (!readOnly && creator.kind === "org" && !creator.scopes.has("webhooks:write")) {
        throw new ForbiddenError('This API key lacks "webhooks:write": it can only create read-only portal sessions (readOnly: true).');
      }
      const seconds = input.expiresInSeconds ?? DEFAULT_SESSION_SECONDS;
      const returnUrl = input.returnUrl ? checkReturnUrl(input.returnUrl) : null;
      const now = clock();
      const token = newToken();
      const expiresAt = now + seconds * 1000;
      const row: PortalSessionRow = {
        id: newId("ps", now),
        orgId,
        readOnly,
        linkHash: sha256(token),
        linkExpiresAt: Math.min(expiresAt, now + LINK_TTL_MS),
        sessionHash: null,
        expiresAt,
        returnUrl,
        createdBy: creator.keyId,
        createdAt: now,
        usedAt: null,
        revokedAt: null,
      };
      await write((tx) => tx.portalSessions.insert(row));
      return { row, path: `/portal/login?token=${token}` };
    },

    /**
     * Looks at a link without using it (the page a GET of the link shows): throws PortalLinkError
     * saying why it cannot be used, else returns. Only the POST that follows uses it (useLink), so
     * a scanner that fetches the URL leaves it working.
     */
    async checkLink(token: string): Promise<void> {
      if (!TOKEN_SHAPE.test(token)) throw new PortalLinkError("unknown");
      const row = await sessions.findByLink(sha256(token));
      if (!row) throw new PortalLinkError("unknown");
      if (row.usedAt !== null) throw new PortalLinkError("used");
      // The same conditions as the store's useLink: revoked or past its time reads as expired.
      if (row.revokedAt !== null || row.linkExpiresAt <= clock()) throw new PortalLinkError("expired");
    },

    /** Opens a link: returns the new session's cookie value, or throws PortalLinkError saying why not. */
    async useLink(token: string): Promise<{ sessionToken: string; session: PortalSessionRow }> {
      if (!TOKEN_SHAPE.test(token)) throw new PortalLinkError("unknown");
      const linkHash = sha256(token);
      const sessionToken = newToken();
      const now = clock();
      const session = await write((tx) => tx.portalSessions.useLink(linkHash, sha256(sessionToken), now));
      if (session) return { sessionToken, session };
      const row = await sessions.findByLink(linkHash);
      if (!row) throw new PortalLinkError("unknown");
      throw new PortalLinkError(row.usedAt !== null ? "used" : "expired");
    },

    /**
     * The caller a session cookie stands for, or null (no cookie, or a dead session). A read-only
     * session gets only the read scope, so every write route refuses it (403) like any key's.
     */
    async callerFor(sessionToken: string | null): Promise<Caller | null> {
      const row = await liveSession(sessionToken);
      if (!row) return null;
      const scopes = new Set<string>(row.readOnly ? READ_SCOPES : WRITE_SCOPES);
      return { principal: { kind: "org", keyId: row.id, orgId: row.orgId, scopes }, orgId: row.orgId };
    },

    /** What the portal shows about its own session. */
    async describe(sessionToken: string | null) {
      const row = await liveSession(sessionToken);
      if (!row) return null;
      return {
        id: row.id,
        orgId: row.orgId,
        orgName: (await orgs.get(row.orgId))?.name ?? row.orgId,
        readOnly: row.readOnly,
        expiresAt: row.expiresAt,
        returnUrl: row.returnUrl,
        csrfToken: csrfTokenOf(sessionToken!),
      };
    },

    async end(sessionId: string): Promise<void> {
      await write((tx) => tx.portalSessions.revoke(sessionId, clock()));
    },

    /**
     * For the retention sweeper: deletes the sessions that ended over a day ago, a batch per write;
     * returns how many. The day keeps an expired link's page saying "expired", not "not valid".
     */
    async sweep(now: number, batch = 500): Promise<number> {
      let total = 0;
      // Relaxed: a delete lost to a power cut is done again by the next sweep.
      for (let n = batch; n === batch; total += n) n = await write((tx) => tx.portalSessions.deleteEnded(now - ENDED_KEPT_MS, batch), "relaxed");
      return total;
    },
  };
}
export type PortalSessionsService = ReturnType<typeof createPortalSessionsService>;
