/**
 * The portal session cookie on the wire: reading it, setting and clearing it, and the CSRF rule
 * for requests that authenticate with it. The auth plugin calls `admitCookie` for an /api/ request
 * that presents no API key.
 */
import { ForbiddenError } from "../../lib/errors.ts";
import { constantTimeEqual } from "../../security/tokens.ts";
import type { Caller } from "../auth/service.ts";
import { csrfTokenOf, SESSION_COOKIE, type PortalSessionsService } from "./service.ts";

type Headers = Record<string, string | undefined>;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
export const CSRF_HEADER = "x-csrf-token";

export function sessionCookie(headers: Headers): string | null {
  const cookie = headers["cookie"];
  if (!cookie) return null;
  for (const part of cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Whether the browser reached us over https: directly never (the server speaks http), through a TLS proxy by its header. */
export const overHttps = (request: Request, headers: Headers) =>
  request.url.startsWith("https:") || headers["x-forwarded-proto"]?.split(",")[0]?.trim() === "https";

/** How the session cookie is set for one request: see cookiePolicy. */
export interface CookiePolicy {
  secure: boolean;
  /** SameSite=None; Partitioned: the portal is framed by another site. */
  crossSite: boolean;
}

/**
 * Whether WEBHOOKD_PORTAL_FRAME_ANCESTORS lets a page of another origin frame the portal (any
 * source but 'self' and 'none'): then the cookie must reach an iframe on another site.
 */
export const framedElsewhere = (frameAncestors: string) =>
  frameAncestors.split(/\s+/).some((source) => source !== "" && source !== "'self'" && source !== "'none'");

/**
 * SameSite=Strict, unless the portal may be framed by another site and the browser came over
 * https: a Strict cookie is never set nor sent inside an iframe on another site, so there the
 * cookie is SameSite=None; Secure (browsers take None only with Secure) and Partitioned (CHIPS:
 * kept apart per embedding site, which is what Chromium's third-party cookie rules admit). The
 * cookie then travels with other sites' requests too, so what stops cross-site forgery is the
 * session's X-CSRF-Token and the Origin checks (checkCsrf, checkLoginOrigin), as before.
 */
export function cookiePolicy(request: Request, headers: Headers, frameAncestors: string): CookiePolicy {
  const secure = overHttps(request, headers);
  return { secure, crossSite: secure && framedElsewhere(frameAncestors) };
}

/** HttpOnly so script cannot read it; Path=/ because the portal calls /api/; the rest by the policy. */
export function setCookieHeader(value: string, maxAgeSeconds: number, policy: CookiePolicy): string {
  const sameSite = policy.crossSite ? "None" : "Strict";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=${sameSite}; Max-Age=${maxAgeSeconds}${policy.secure ? "; Secure" : ""}${policy.crossSite ? "; Partitioned" : ""}`;
}
/** With the attributes it was set with: a partitioned cookie is only cleared by a partitioned one. */
export const clearCookieHeader = (policy: CookiePolicy) => setCookieHeader("", 0, policy);

/**
 * A state-changing request made with the cookie must carry the session's CSRF token (a page on
 * another origin cannot read it) and, when the browser says where it comes from, come from here.
 */
function checkCsrf(request: Request, headers: Headers, sessionToken: string): void {
  if (SAFE_METHODS.has(request.method)) return;
  const sent = headers[CSRF_HEADER];
  if (!sent || !constantTimeEqual(sent, csrfTokenOf(sessionToken))) {
    throw new ForbiddenError("A request made with the portal session cookie must carry the session's X-CSRF-Token header.");
  }
  const origin = headers["origin"];
  if ((origin !== undefined && !isOwnOrigin(origin, headers)) || headers["sec-fetch-site"] === "cross-site") {
    throw new ForbiddenError("A request made with the portal session cookie must come from the portal's own origin.");
  }
}

/** Whether an Origin header names this server, as the browser reached it. */
function isOwnOrigin(origin: string, headers: Headers): boolean {
  const host = headers["x-forwarded-host"] ?? headers["host"];
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Login CSRF: the POST that uses a link must come from the link's own page, else another site
 * could sign a visitor into a session of its choosing (its own org's) with a form of its own.
 * The browser says where a request comes from by Sec-Fetch-Site (same-origin only) and Origin.
 * The page is served with Referrer-Policy: no-referrer, under which a form's POST carries
 * `Origin: null`: that is accepted only with Sec-Fetch-Site: same-origin beside it. A request
 * with neither header (no browser, or a very old one) is let through, as the cookie API does.
 */
export function checkLoginOrigin(headers: Headers): void {
  const site = headers["sec-fetch-site"];
  const origin = headers["origin"];
  const ownOrigin = origin === undefined || (origin === "null" ? site === "same-origin" : isOwnOrigin(origin, headers));
  if ((site !== undefined && site !== "same-origin") || !ownOrigin) {
    throw new ForbiddenError("A portal link must be opened from its own page: open the link itself again, or ask for a new one.");
  }
}

/** The caller for a request with no API key: its session cookie's, or null. */
export function cookieAdmitter(service: PortalSessionsService) {
  return async function admitCookie(request: Request, headers: Headers): Promise<Caller | null> {
    const token = sessionCookie(headers);
    if (!token) return null;
    const caller = await service.callerFor(token);
    if (caller) checkCsrf(request, headers, token);
    return caller;
  };
}
export type CookieAdmitter = ReturnType<typeof cookieAdmitter>;
