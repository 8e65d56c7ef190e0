/**
 * Turns a presented API key into a principal. Keys are looked up by SHA-256 (the table holds
 * nothing else), hot lookups are cached, and a revocation evicts the cache entry at once.
 */
import { LRUCache } from "lru-cache";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../../lib/errors.ts";
import { isId } from "../../lib/ids.ts";
import type { ApiKeysReads, OrgsReads } from "../../store/port.ts";
import { API_KEY_SHAPE, constantTimeEqual, hashApiKey } from "../../security/tokens.ts";
import type { Scope } from "./scopes.ts";

export type Principal =
  | { kind: "admin"; keyId: string }
  | { kind: "org"; keyId: string; orgId: string; scopes: ReadonlySet<string> };

/** Who is calling and in which org the request acts. */
export interface Caller {
  principal: Principal;
  orgId: string | null;
}

export interface AuthServiceDeps {
  apiKeys: ApiKeysReads;
  orgs: OrgsReads;
  /** Hash of WEBHOOKD_ADMIN_KEY, when set. */
  configuredAdminKeyHash: string | null;
}

export function createAuthService({ apiKeys, orgs, configuredAdminKeyHash }: AuthServiceDeps) {
  // Negative answers are cached too, so a flood of bad keys does not become a flood of queries.
  const cache = new LRUCache<string, Principal | "invalid">({ max: 10_000, ttl: 60_000 });

  async function lookup(hash: string): Promise<Principal | "invalid"> {
    if (configuredAdminKeyHash && constantTimeEqual(hash, configuredAdminKeyHash)) {
      return { kind: "admin", keyId: "env" };
    }
    const row = await apiKeys.findByHash(hash);
    if (!row || row.revokedAt !== null || !constantTimeEqual(row.keyHash, hash)) return "invalid";
    if (row.orgId === null) {
      // With WEBHOOKD_ADMIN_KEY set, it is the only admin key, even beside one a CLI just stored.
      return configuredAdminKeyHash ? "invalid" : { kind: "admin", keyId: row.id };
    }
    return { kind: "org", keyId: row.id, orgId: row.orgId, scopes: new Set(row.scopes) };
  }

  return {
    /** null when no key was presented at all; throws on a wrong one. */
    async authenticate(presented: string | null): Promise<Principal | null> {
      if (presented === null) return null;
      if (!API_KEY_SHAPE.test(presented)) throw new UnauthorizedError("The API key is not valid.");
      const hash = hashApiKey(presented);
      let found = cache.get(hash);
      if (found === undefined) {
        found = await lookup(hash);
        // Stored admin keys are looked up every time: the CLI rotates and revokes them from
        // another process, which cannot evict this cache. They are few and rarely used.
        if (found === "invalid" || found.kind === "org") cache.set(hash, found);
      }
      if (found === "invalid") throw new UnauthorizedError("The API key is not valid or was revoked.");
      return found;
    },

    /** The org a request acts in: the key's own, or for the admin key the one named by X-Org-Id. */
    async resolveOrg(principal: Principal, orgHeader: string | null): Promise<string | null> {
      if (principal.kind === "org") return principal.orgId;
      if (!orgHeader) return null;
      if (!isId("org", orgHeader) || !(await orgs.get(orgHeader))) throw new NotFoundError("Organization");
      return orgHeader;
    },

    requireScope(caller: Caller, scope: Scope): string {
      const { principal } = caller;
      if (principal.kind === "org" && !principal.scopes.has(scope)) {
        throw new ForbiddenError(`This API key lacks the required scope "${scope}".`);
      }
      if (caller.orgId === null) {
        throw new ForbiddenError("The admin key must name an organization with the X-Org-Id header for this route.");
      }
      return caller.orgId;
    },

    requireAdmin(principal: Principal): void {
      if (principal.kind !== "admin") throw new ForbiddenError("This route needs the admin key.");
    },

    forgetKeyHash(hash: string): void {
      cache.delete(hash);
    },
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
