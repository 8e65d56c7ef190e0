/**
 * Portal sessions over HTTP: a backend asks for a link (`POST /api/v1/portal/sessions`), the
 * browser opens it (`GET /portal/login?token=…`: a page that looks at the link without using it
 * and posts the token; the `POST /portal/login` uses it: cookie set, 303 to /portal, the token
 * gone from the address bar), the portal reads and ends its session (`GET`/`DELETE
 * /api/v1/portal/session`).
 */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { LOGIN_PATH, loginPage, messagePage, portalHeaders, type PortalOptions } from "../../http/portal.ts";
import { ForbiddenError, NotFoundError, PortalLinkError } from "../../lib/errors.ts";
import { envelope, errors, Id, iso, IsoDate, ok, ORG_POST_ERRORS, ORG_READ_ERRORS, ORG_WRITE_ERRORS } from "../common.ts";
import type { Caller } from "../auth/service.ts";
import { checkLoginOrigin, clearCookieHeader, cookiePolicy, overHttps, sessionCookie, setCookieHeader } from "./cookie.ts";
import { DEFAULT_SESSION_SECONDS, isPortalSession, LINK_TTL_MS, MAX_SESSION_SECONDS, type PortalSessionsService } from "./service.ts";

const SessionId = t.String({ examples: ["ps_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] });
const CreateBody = t.Optional(
  t.Object(
    {
      readOnly: t.Optional(t.Boolean({ description: "The session can look at everything and change nothing" })),
      expiresInSeconds: t.Optional(t.Integer({ minimum: 60, maximum: MAX_SESSION_SECONDS, description: `Seconds from now until the session ends, opened or not (default ${DEFAULT_SESSION_SECONDS})` })),
      returnUrl: t.Optional(t.Union([t.String({ maxLength: 2048, description: "An http(s) URL the portal links back to" }), t.Null()])),
    },
    { additionalProperties: false, examples: [{ readOnly: false, expiresInSeconds: 3600, returnUrl: "https://app.example.com/settings/webhooks" }] },
  ),
);
const Created = t.Object({
  id: SessionId,
  url: t.String({ description: "The single-use link, absolute (from this request's Host)", examples: ["http://localhost:8080/portal/login?token=…"] }),
  path: t.String({ description: "The same link from its path on, for a backend that knows webhookd's public address", examples: ["/portal/login?token=…"] }),
  readOnly: t.Boolean(),
  linkExpiresAt: IsoDate,
  expiresAt: IsoDate,
});
const Current = t.Object({
  id: SessionId,
  orgId: Id.org,
  orgName: t.String({ examples: ["Acme Inc"] }),
  readOnly: t.Boolean(),
  expiresAt: IsoDate,
  returnUrl: t.Union([t.String({ examples: ["https://app.example.com/settings/webhooks"] }), t.Null()]),
  csrfToken: t.String({ description: "Send it as X-CSRF-Token on every request that changes something", examples: ["3f1c…"] }),
});

const detail = (summary: string, description: string) => ({ tags: ["portal"], summary, description });

/** The base URL the caller reached us at: the link must work from where the caller is. */
function origin(request: Request, headers: Record<string, string | undefined>): string {
  const host = headers["x-forwarded-host"] ?? headers["host"] ?? new URL(request.url).host;
  return `${overHttps(request, headers) ? "https" : "http"}://${host}`;
}

/** The token a link page posts (a form field), or the link's query; anything else reads as a forged link. */
const tokenIn = (from: unknown): string => {
  const token = typeof from === "object" && from !== null ? (from as { token?: unknown }).token : undefined;
  return typeof token === "string" ? token : "";
};

/** A person in a browser gets a page saying why the link cannot be used, never the JSON envelope. */
function linkRefusedPage(portal: PortalOptions, err: unknown): Response {
  if (err instanceof ForbiddenError) return messagePage(portal, err.status, "This link must be opened from its own page", err.message);
  if (!(err instanceof PortalLinkError)) throw err;
  const heading = err.reason === "used" ? "This link was already used" : err.reason === "expired" ? "This link has expired" : "This link is not valid";
  return messagePage(portal, err.status, heading, err.message);
}

function requireSession(caller: Caller | null): Caller {
  if (!caller || !isPortalSession(caller.principal)) throw new NotFoundError("Portal session");
  return caller;
}

export function portalSessionsRoutes(auth: AuthPlugin, service: PortalSessionsService, portal: PortalOptions) {
  return new Elysia()
    .use(auth)
    .post(
      "/api/v1/portal/sessions",
      async ({ orgId, caller, body, request, headers, set }) => {
        const { row, path } = await service.create(orgId, caller!.principal, body ?? {});
        set.status = 201;
        return ok({
          id: row.id,
          url: origin(request, headers) + path,
          path,
          readOnly: row.readOnly,
          linkExpiresAt: iso(row.linkExpiresAt),
          expiresAt: iso(row.expiresAt),
        });
      },
      {
        scope: "webhooks:read",
        body: CreateBody,
        response: { 201: envelope(Created), ...errors(...ORG_POST_ERRORS) },
        detail: detail(
          "Create a portal link for an org",
          `A single-use link to the portal for the org (an org key, or the admin key with X-Org-Id). Redirect your customer's browser to \`url\` or put it in an iframe; it must be opened within ${LINK_TTL_MS / 60_000} minutes, once. A key with only webhooks:read can make read-only links.`,
        ),
      },
    )
    .get("/api/v1/portal/session", async ({ caller, headers }) => {
      requireSession(caller);
      const current = await service.describe(sessionCookie(headers));
      if (!current) throw new NotFoundError("Portal session");
      return ok({ ...current, expiresAt: iso(current.expiresAt) });
    }, {
      scope: "webhooks:read",
      response: { 200: envelope(Current), ...errors(...ORG_READ_ERRORS) },
      detail: detail("The portal session of this request", "Called by the portal with its session cookie; 404 with an API key."),
    })
    .delete("/api/v1/portal/session", async ({ caller, request, headers, set }) => {
      await service.end(requireSession(caller).principal.keyId);
      set.status = 204;
      set.headers["set-cookie"] = clearCookieHeader(cookiePolicy(request, headers, portal.frameAncestors));
    }, {
      scope: "webhooks:read",
      response: { 204: t.Void(), ...errors(...ORG_WRITE_ERRORS) },
      detail: detail("End the portal session of this request", "Signs the portal out: the cookie stops working at once."),
    })
    // GET only looks: a mail or chat scanner that fetches the link does not use it up.
    .get(
      LOGIN_PATH,
      async ({ query }) => {
        const token = tokenIn(query);
        try {
          await service.checkLink(token);
          return loginPage(portal, token);
        } catch (err) {
          return linkRefusedPage(portal, err);
        }
      },
      // No query schema: a malformed link gets the same page as a forged one, not a JSON 400.
      { detail: { hide: true } },
    )
    .post(
      LOGIN_PATH,
      async ({ body, request, headers }) => {
        try {
          checkLoginOrigin(headers);
          const { sessionToken, session } = await service.useLink(tokenIn(body));
          const maxAge = Math.max(0, Math.floor((session.expiresAt - session.usedAt!) / 1000));
          return new Response(null, {
            status: 303,
            headers: {
              location: "/portal",
              "set-cookie": setCookieHeader(sessionToken, maxAge, cookiePolicy(request, headers, portal.frameAncestors)),
              "cache-control": "no-store",
              ...portalHeaders(portal.frameAncestors),
            },
          });
        } catch (err) {
          return linkRefusedPage(portal, err);
        }
      },
      // No body schema, for the same reason; the body parser takes this route's form (app.ts).
      { detail: { hide: true } },
    );
}
