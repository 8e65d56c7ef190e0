/**
 * Authentication, the per-key rate limit, and the `scope` / `admin` route options.
 * Every /api request with a key is authenticated up front (so the rate limit counts bad
 * requests too); routes then declare what they need: `{ scope: "webhooks:read" }`.
 */
import { Elysia } from "elysia";
import { RateLimitedError, UnauthorizedError } from "../lib/errors.ts";
import type { AuthService, Caller } from "../api/auth/service.ts";
import type { Scope } from "../api/auth/scopes.ts";
import type { RateLimiter } from "../lib/token-bucket.ts";

/** The API key a request presents, or null for none; throws on a malformed Authorization header. */
export function presentedKey(headers: Record<string, string | undefined>): string | null {
  const direct = headers["x-api-key"];
  if (direct) return direct.trim();
  const auth = headers["authorization"];
  if (!auth) return null;
  const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
  if (!match) throw new UnauthorizedError("Use Authorization: Bearer <key> or X-API-Key: <key>.");
  return match[1]!.trim();
}

export type AuthPlugin = ReturnType<typeof authPlugin>;

export function authPlugin(auth: AuthService, limiter: RateLimiter | null) {
  return new Elysia({ name: "webhookd.auth" })
    .derive({ as: "global" }, ({ headers, set, path }): { caller: Caller | null } => {
      if (!path.startsWith("/api/")) return { caller: null };
      const principal = auth.authenticate(presentedKey(headers));
      if (!principal) return { caller: null };
      if (limiter) {
        const r = limiter.take(principal.keyId);
        set.headers["ratelimit-limit"] = String(r.limit);
        set.headers["ratelimit-remaining"] = String(r.remaining);
        set.headers["ratelimit-reset"] = String(r.resetSeconds);
        if (!r.allowed) throw new RateLimitedError(r.resetSeconds);
      }
      return { caller: { principal, orgId: auth.resolveOrg(principal, headers["x-org-id"] ?? null) } };
    })
    .macro({
      /** The route acts inside one org and needs this scope; resolves `orgId`. */
      scope: (scope: Scope) => ({
        resolve({ caller }: { caller: Caller | null }) {
          if (!caller) throw new UnauthorizedError();
          return { orgId: auth.requireScope(caller, scope) };
        },
      }),
      /** The route is the admin's (orgs and keys). */
      admin: (required: boolean) => ({
        resolve({ caller }: { caller: Caller | null }) {
          if (!required) return {};
          if (!caller) throw new UnauthorizedError();
          auth.requireAdmin(caller.principal);
          return {};
        },
      }),
    });
}
