import { Elysia } from "elysia";
import { swagger } from "@elysiajs/swagger";
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

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function renderPage(title: string): string {
  const config = {
    url: "/docs/json",
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

  return (
    new Elysia({ name: "webhookd/docs" })
      // Used for OpenAPI generation only. Its own page at /docs pulls Swagger UI
      // from unpkg; it is superseded below.
      .use(
        swagger({
          provider: "swagger-ui",
          path: "/docs",
          specPath: "/docs/json",
          exclude: [/^\/docs(?:\/|$)/],
          documentation: {
            info: {
              title,
              version: opts.version,
              description: opts.description ?? "Self-hosted webhook delivery server.",
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
              { name: "health", description: "Liveness and readiness" },
            ],
          },
        }),
      )
      // Elysia replaces a route re-registered with the same method and path in
      // the same instance, and a parent's .use() copies only the surviving
      // route. So the plugin's CDN page never reaches the app: no stray
      // endpoint, and no onRequest hook (which would also switch off Bun's
      // native static routes app-wide). test/http/docs.test.ts pins this.
      .get("/docs", page)
      // The standalone preset is not served: it only adds the top bar, whose URL
      // box invites loading specs from other hosts.
      .get("/docs/assets/swagger-ui.css", serveAsset(cssPath, "text/css; charset=utf-8"))
      .get(
        "/docs/assets/swagger-ui-bundle.js",
        serveAsset(bundlePath, "text/javascript; charset=utf-8"),
      )
  );
}
