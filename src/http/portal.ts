/**
 * Serves the portal (issue 13): its one HTML page at /portal (and any path under it: the app
 * routes in the URL hash, so a reload anywhere finds it) and its bundled assets, embedded in the
 * binary like Swagger UI's. Every response carries a strict Content-Security-Policy: scripts and
 * styles only from this origin, no inline script, no eval, and framing only by the configured
 * ancestors.
 */
import { Elysia } from "elysia";
import { portalAssets } from "../portal/assets.ts";
import { NotFoundError } from "../lib/errors.ts";

export interface PortalOptions {
  /** CSP frame-ancestors sources: who may put the portal in an iframe. */
  frameAncestors: string;
  /** Shown in the page title and header. */
  title: string;
  /** The accent colour, #rrggbb (checked by the config). */
  brandColor: string;
  /** auto follows the viewer's light or dark setting. */
  theme: "auto" | "light" | "dark";
  /** Shown in the header, served at /portal/assets/logo. */
  logo?: { bytes: Uint8Array; type: string };
}

export function portalHeaders(frameAncestors: string): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      `frame-ancestors ${frameAncestors}`,
    ].join("; "),
    "x-content-type-options": "nosniff",
    // The login URL carries a token: no page of the portal tells another site where it was.
    "referrer-policy": "no-referrer",
  };
}

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function shell(opts: PortalOptions, body: string): string {
  const title = opts.title;
  return `<!DOCTYPE html>
<html lang="en" data-theme="${opts.theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/portal/assets/portal.css">
</head>
<body>
${body}
</body>
</html>`;
}

/** A page of plain text for a person in a browser: a link that cannot be used, say. */
export function messagePage(opts: PortalOptions, status: number, heading: string, message: string): Response {
  const body = `<main class="message"><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(message)}</p></main>`;
  return new Response(shell(opts, body), {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...portalHeaders(opts.frameAncestors) },
  });
}

/** Where a portal link points, and where its page posts the token. */
export const LOGIN_PATH = "/portal/login";

/**
 * What a GET of a usable link shows: a form that posts the token (its script, login.js, posts it
 * at once and takes the token out of the address bar; without script, the button does). The GET
 * itself uses nothing, so a link scanner that fetches the URL leaves the link working.
 */
export function loginPage(opts: PortalOptions, token: string): Response {
  const body = `<main class="message"><h1>Opening ${escapeHtml(opts.title)}…</h1>
<form id="login" method="post" action="${LOGIN_PATH}"><input type="hidden" name="token" value="${escapeHtml(token)}">
<p>If this page stays, open it with the button: the link works once.</p>
<p><button type="submit" class="primary">Open ${escapeHtml(opts.title)}</button></p></form></main>
<script src="/portal/assets/login.js"></script>`;
  return new Response(shell(opts, body), {
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-robots-tag": "noindex", ...portalHeaders(opts.frameAncestors) },
  });
}

export function portalPlugin(opts: PortalOptions) {
  const headers = portalHeaders(opts.frameAncestors);
  const page = shell(opts, `<div id="app" data-title="${escapeHtml(opts.title)}" data-brand="${escapeHtml(opts.brandColor)}"${opts.logo ? ' data-logo="/portal/assets/logo"' : ""}></div>\n<script type="module" src="/portal/assets/portal.js"></script>`);
  const servePage = () =>
    new Response(page, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", ...headers } });
  /**
   * The bundle is small once gzipped (a third of its size): compressed once, at the first request
   * for it, then served from memory to every browser that accepts gzip.
   */
  const serveAsset = (path: string, type: string) => {
    let gzipped: Promise<Uint8Array> | null = null;
    return async ({ headers: request }: { headers: Record<string, string | undefined> }) => {
      const base = { "content-type": type, "cache-control": "no-cache", vary: "accept-encoding", ...headers };
      if (!/\bgzip\b/.test(request["accept-encoding"] ?? "")) return new Response(Bun.file(path), { headers: base });
      gzipped ??= Bun.file(path).bytes().then((bytes) => Bun.gzipSync(bytes, { level: 9 }));
      return new Response(await gzipped, { headers: { ...base, "content-encoding": "gzip" } });
    };
  };

  return new Elysia({ name: "webhookd/portal" })
    .get("/portal", servePage, { detail: { hide: true } })
    .get("/portal/", servePage, { detail: { hide: true } })
    .get("/portal/assets/portal.js", serveAsset(portalAssets.js, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get("/portal/assets/portal.css", serveAsset(portalAssets.css, "text/css; charset=utf-8"), { detail: { hide: true } })
    .get("/portal/assets/login.js", serveAsset(portalAssets.loginJs, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    // The CSP travels with the logo too: an SVG opened on its own runs no script of its own.
    .get("/portal/assets/logo", () => {
      if (!opts.logo) throw new NotFoundError("Logo");
      return new Response(opts.logo.bytes, { headers: { "content-type": opts.logo.type, "cache-control": "no-cache", ...headers } });
    }, { detail: { hide: true } });
}
