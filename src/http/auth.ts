/**
 * Authentication, the per-key rate limit, and the `scope` / `admin` route options.
 * Every /api (and /v1 dialect) request with a key is authenticated up front, before its body is read (so the rate
 * limit counts bad requests too); routes then declare what they need: `{ scope: "webhooks:read" }`.
 */
import { Elysia, type DocumentDecoration } from "elysia";
import { NoRouteError, RateLimitedError, UnauthorizedError } from "../lib/errors.ts";
import type { AuthService, Caller } from "../api/auth/service.ts";
import type { Scope } from "../api/auth/scopes.ts";
import type { RateLimiter } from "../lib/token-bucket.ts";
import { DIALECT_PREFIX } from "../api/common.ts";
import { requestPath, routedOnRealPath } from "./request-path.ts";
import { ORG_SCOPED } from "./openapi.ts";
import type { CookieAdmitter } from "../api/portal-sessions/cookie.ts";

/** Every route under these needs a key (the canonical API and the seed dialects). */
const needsKey = (path: string) => path.startsWith("/api/") || path.startsWith(DIALECT_PREFIX);

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

interface RequestContext {
  request: Request;
  headers: Record<string, string | undefined>;
  set: { headers: Record<string, string | number> };
  path: string;
}

/**
 * `portalCookie`: admits an /api/ request that presents no key by its portal session cookie
 * (issue 13), with the CSRF check; the caller it gives then meets the same scope checks as a key.
 */
export function authPlugin(auth: AuthService, limiter: RateLimiter | null, portalCookie: CookieAdmitter | null = null) {
  // One answer per request: the body parser's hook and the derive both ask for it.
  const admitted = new WeakMap<Request, Promise<Caller | null>>();

  function limit(keyId: string, set: RequestContext["set"]): void {
    if (!limiter) return;
    const r = limiter.take(keyId);
    set.headers["ratelimit-limit"] = String(r.limit);
    set.headers["ratelimit-remaining"] = String(r.remaining);
    set.headers["ratelimit-reset"] = String(r.resetSeconds);
    if (!r.allowed) throw new RateLimitedError(r.resetSeconds);
  }

  /** Admits a request: checks it was routed on its own path, authenticates, counts it against the key's rate limit, resolves the org. */
  function admit(context: RequestContext): Promise<Caller | null> {
    let known = admitted.get(context.request);
    if (known === undefined) {
      known = authenticate(context);
      admitted.set(context.request, known);
    }
    return known;
  }

  async function authenticate({ request, headers, set, path }: RequestContext): Promise<Caller | null> {
    if (!routedOnRealPath(request.url, path)) throw new NoRouteError(request.method, requestPath(request.url));
    let caller: Caller | null = null;
    if (needsKey(path)) {
      const presented = presentedKey(headers);
      if (presented === null && portalCookie && path.startsWith("/api/")) {
        caller = await portalCookie(request, headers);
        if (caller) limit(caller.principal.keyId, set);
      } else {
        const principal = await auth.authenticate(presented);
        if (principal) {
          limit(principal.keyId, set);
          caller = { principal, orgId: await auth.resolveOrg(principal, headers["x-org-id"] ?? null) };
        }
      }
    }
    return caller;
  }

  return new Elysia({ name: "webhookd.auth" })
    // Registered before the JSON parser: a request with a body is authenticated before a byte
    // of it is read, so an unauthenticated one costs a header lookup whatever it sends.
    // The hooks name the fields they read: Elysia compiles every route's handler from what its
    // hooks use, and a context passed whole makes it build all of it (cookies parsed, query read).
    .onParse({ as: "global" }, async ({ request, headers, set, path }) => {
      // Kept only when this hook refuses: the rest of the body is then never read, so the
      // connection cannot carry another request.
      set.headers["connection"] = "close";
      if (!(await admit({ request, headers, set, path })) && needsKey(path)) throw new UnauthorizedError();
      delete set.headers["connection"];
    })
    .derive({ as: "global" }, async ({ request, headers, set, path }): Promise<{ caller: Caller | null }> => ({ caller: await admit({ request, headers, set, path }) }))
    .macro({
      /** The route acts inside one org and needs this scope; resolves `orgId`. */
      scope: (scope: Scope) => ({
        // /docs/json documents X-Org-Id on these routes.
        detail: { [ORG_SCOPED]: true } as DocumentDecoration,
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
