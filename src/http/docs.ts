import { Elysia } from "elysia";
import { swagger } from "@elysiajs/swagger";
import { finishOpenApi } from "./openapi.ts";
import { DIALECT_TAGS } from "../api/common.ts";
// `type: "file"` makes Bun embed these in `bun build --compile` output and hand
// back a path (`/$bunfs/...` in the binary) that Bun.file() reads: /docs works
// offline, with no node_modules next to the executable.
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };

export interface DocsOptions {
  version: string;
  title?: string;
  description?: string;
}

// Asset URLs are not versioned, so a day rather than immutable: a swagger-ui-dist
// bump reaches browsers by the next day at the latest.
const serveAsset = (path: string, type: string) => () =>
  new Response(Bun.file(path), {
    headers: { "content-type": type, "cache-control": "public, max-age=86400" },
  });

const SPEC_PATH = "/docs/json";

/** What a person needs to know to use the page, at its top. */
const USAGE = [
  "Self-hosted webhook delivery server.",
  "Click **Authorize** and paste an API key (`X-API-Key` or Bearer): every Try it out then sends it. With the admin key, fill `X-Org-Id` to act in an org.",
  "Each operation comes filled in with an example that runs as it is, except placeholders that say so: an id in a path (404: paste one from a create or list response) and the URL in the create examples (with the probe on, the default, it is refused with 400 URL_PROBE_FAILED: put your receiver's).",
].join("\n\n");
const OptionalKind = Symbol.for("TypeBox.Optional");

interface RouteInfo {
  method: string;
  path: string;
  hooks?: { body?: unknown };
}

/** The routes whose body schema is t.Optional, as "METHOD /openapi/{path}": the generated document drops TypeBox's marker. */
function optionalBodies(routes: readonly RouteInfo[]): Set<string> {
  return new Set(
    routes
      .filter((r) => typeof r.hooks?.body === "object" && r.hooks.body !== null && OptionalKind in r.hooks.body)
      .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, "{$1}")}`),
  );
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function renderPage(title: string): string {
  const config = {
    url: SPEC_PATH,
    dom_id: "#swagger-ui",
    persistAuthorization: true,
    // The default points at validator.swagger.io; null keeps the UI from calling out.
    validatorUrl: null,
  };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle(${JSON.stringify(config)});</script>
</body>
</html>`;
}

export function docsPlugin(opts: DocsOptions) {
  const title = opts.title ?? "webhookd API";
  const page = new Response(renderPage(title), {
    headers: { "content-type": "text/html; charset=utf-8" },
  });

  // Used for OpenAPI generation only. Its own page at /docs pulls Swagger UI from unpkg; it is
  // superseded below, and so is its /docs/json, which serves the generated document finished.
  const generator = swagger({
    provider: "swagger-ui",
    path: "/docs",
    specPath: SPEC_PATH,
    exclude: [/^\/docs(?:\/|$)/],
    documentation: {
      // TypeBox writes JSON Schema 2020-12 (`examples` arrays, `const`, `type: "null"`): 3.1's
      // dialect. Declared as the plugin's 3.0.3, Swagger UI ignored those keywords.
      openapi: "3.1.0",
      info: {
        title,
        version: opts.version,
        description: opts.description ?? USAGE,
      },
      components: {
        securitySchemes: {
          apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
          bearer: { type: "http", scheme: "bearer" },
        },
      },
      // Either scheme is accepted.
      security: [{ apiKey: [] }, { bearer: [] }],
      tags: [
        { name: "webhooks", description: "Endpoints that receive deliveries" },
        { name: "events", description: "Events published for delivery" },
        { name: "deliveries", description: "Delivery attempts, status and retries" },
        { name: "event-types", description: "Catalogue of event types" },
        { name: "orgs", description: "Organisations (tenants)" },
        { name: "admin", description: "The admin key itself: list, rotate, revoke" },
        { name: "portal", description: "Links to the built-in portal at /portal, and its session" },
        { name: "health", description: "Liveness and readiness" },
        ...DIALECT_TAGS,
      ],
    },
  });
  const generated = generator.routes.find((r) => r.path === SPEC_PATH)!.handler as (context: unknown) => Record<string, unknown>;
  // The app's routes, as the plugin reads them to generate the document (protected in Elysia's types).
  const appRoutes = () => (generator as unknown as { getGlobalRoutes(): RouteInfo[] }).getGlobalRoutes();

  return (
    new Elysia({ name: "webhookd/docs" })
      .use(generator)
      // Elysia replaces a route re-registered with the same method and path in
      // the same instance, and a parent's .use() copies only the surviving
      // route. So the plugin's CDN page never reaches the app: no stray
      // endpoint, and no onRequest hook (which would also switch off Bun's
      // native static routes app-wide). test/http/docs.test.ts pins this.
      .get("/docs", page)
      .get(SPEC_PATH, (context) => {
        const optional = optionalBodies(appRoutes());
        return finishOpenApi(generated(context), (method, path) => optional.has(`${method} ${path}`));
      })
      // The standalone preset is not served: it only adds the top bar, whose URL
      // box invites loading specs from other hosts.
      .get("/docs/assets/swagger-ui.css", serveAsset(cssPath, "text/css; charset=utf-8"))
      .get(
        "/docs/assets/swagger-ui-bundle.js",
        serveAsset(bundlePath, "text/javascript; charset=utf-8"),
      )
  );
}
