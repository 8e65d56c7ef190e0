/**
 * Elysia compiles each route's handler from what its hooks read (it reads their source). A global
 * hook that hands the whole context on makes every request, publish included, parse the Cookie
 * header and the query and build `server` and `url`, used or not (about 2 µs a publish, README
 * Performance). The routes that need the query name it themselves; the portal reads its cookie
 * from the header. This keeps a new global hook from bringing that work back unnoticed.
 */
import { describe, expect, test } from "bun:test";
import { createHttpApp, type HttpDeps } from "../../src/http/app.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { createWebhookdMetrics } from "../../src/lib/metrics.ts";

/** Route registration only keeps the services; none is called here. */
const unused = new Proxy({}, { get: () => () => undefined }) as never;

describe("what every request costs", () => {
  test("the hooks every request runs ask Elysia for no cookies, query, server or URL", () => {
    const deps: HttpDeps = {
      version: "test",
      logger: silentLogger,
      metrics: createWebhookdMetrics(),
      auth: unused,
      rateLimiter: null,
      idempotency: unused,
      orgs: unused,
      adminKeys: unused,
      webhooks: unused,
      events: unused,
      deliveries: unused,
      catalog: [],
      maxPayloadBytes: 1024,
      checkWritable: async () => {},
      portalSessions: unused,
      portal: { frameAncestors: "'self'", title: "webhookd", brandColor: "#2563eb", theme: "auto" },
      deliveryStats: unused,
      orgDeliveries: unused,
    };
    const app = createHttpApp(deps);
    // What the global hooks make every compiled handler build (Elysia's own record of it).
    const inference = (app as unknown as { inference: Record<string, boolean> }).inference;
    expect(inference).toMatchObject({ cookie: false, query: false, server: false, url: false });
  });
});
