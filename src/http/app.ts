/**
 * The HTTP app factory: plugins, then one controller per resource. It never listens; app.ts
 * (the composition root) does, so tests can also drive it with `app.handle(request)`.
 */
import { Elysia } from "elysia";
import type { Logger } from "../lib/logger.ts";
import { errorEnvelope } from "./error-envelope.ts";
import { routeMethods, type RouteSpec } from "./route-methods.ts";
import { jsonBodyParser } from "./body-parser.ts";
import { authPlugin } from "./auth.ts";
import { idempotencyPlugin } from "./idempotency.ts";
import { docsPlugin } from "./docs.ts";
import { healthRoutes } from "./health.ts";
import type { AuthService } from "../api/auth/service.ts";
import type { IdempotencyService } from "../api/idempotency/service.ts";
import type { OrgsService } from "../api/orgs/service.ts";
import type { AdminKeysService } from "../api/admin-keys/service.ts";
import type { WebhooksService } from "../api/webhooks/service.ts";
import type { EventTypeCatalog } from "../event-catalog.ts";
import type { RateLimiter } from "../lib/token-bucket.ts";
import { orgsRoutes } from "../api/orgs/routes.ts";
import { adminKeysRoutes } from "../api/admin-keys/routes.ts";
import { webhooksRoutes } from "../api/webhooks/routes.ts";
import { eventTypesRoutes } from "../api/event-types/routes.ts";
import { eventsRoutes } from "../api/events/routes.ts";
import { deliveriesRoutes } from "../api/deliveries/routes.ts";
import { webhookEndpointsRoutes } from "../api/webhook-endpoints/routes.ts";
import { backendWebhooksRoutes } from "../api/backend-webhooks/routes.ts";
import type { EventsService } from "../api/events/service.ts";
import type { DeliveriesService } from "../api/deliveries/service.ts";
import type { WebhookdMetrics } from "../lib/metrics.ts";
import { metricsRoutes } from "./metrics.ts";
import { LOGIN_PATH, portalPlugin, type PortalOptions } from "./portal.ts";
import type { PortalSessionsService } from "../api/portal-sessions/service.ts";
import { cookieAdmitter } from "../api/portal-sessions/cookie.ts";
import { portalSessionsRoutes } from "../api/portal-sessions/routes.ts";
import { deliveryStatsRoutes } from "../api/delivery-stats/routes.ts";
import type { DeliveryStatsService } from "../api/delivery-stats/service.ts";
import { orgDeliveriesRoutes } from "../api/org-deliveries/routes.ts";
import type { OrgDeliveriesService } from "../api/org-deliveries/service.ts";

export interface HttpDeps {
  version: string;
  logger: Logger;
  auth: AuthService;
  rateLimiter: RateLimiter | null;
  idempotency: IdempotencyService;
  orgs: OrgsService;
  adminKeys: AdminKeysService;
  webhooks: WebhooksService;
  events: EventsService;
  deliveries: DeliveriesService;
  metrics: WebhookdMetrics;
  catalog: EventTypeCatalog;
  maxPayloadBytes: number;
  checkWritable: () => Promise<void>;
  portalSessions: PortalSessionsService;
  portal: PortalOptions;
  deliveryStats: DeliveryStatsService;
  orgDeliveries: OrgDeliveriesService;
}

/** Body caps: a batch may carry many events; everything else one payload and some room. */
export function bodyLimits(maxPayloadBytes: number) {
  const single = maxPayloadBytes + 64 * 1024;
  const batch = Math.max(16 * 1024 * 1024, 4 * maxPayloadBytes);
  return { single, batch, limitFor: (path: string) => (path.endsWith("/batch") ? batch : single) };
}

export function createHttpApp(deps: HttpDeps) {
  const auth = authPlugin(deps.auth, deps.rateLimiter, cookieAdmitter(deps.portalSessions));
  // For 405s: every route is registered below; the table is built at the first request that matches none.
  let routes: readonly RouteSpec[] = [];
  let methodsOn: ((pathname: string) => string[]) | null = null;
  // encodeSchema off: no response schema has a t.Transform, and the Encode pass walks every
  // response dynamically (a few percent of a publish in the profile).
  // standardHostname off: Elysia would otherwise take the path from the 11th character of the URL
  // on, so `Host: x` turned `/zz/api/v1/orgs` into `/api/v1/orgs`. The server speaks plain http
  // only, so the path starts at the first "/" after "http://".
  const app = new Elysia({ normalize: false, encodeSchema: false, handler: { standardHostname: false } })
    .use(errorEnvelope(deps.logger, (pathname) => (methodsOn ??= routeMethods(routes))(pathname)))
    .use(auth) // before the body parser: its parse hook refuses an unauthenticated body unread
    .use(jsonBodyParser(bodyLimits(deps.maxPayloadBytes).limitFor, new Set([LOGIN_PATH])))
    .use(idempotencyPlugin(deps.idempotency))
    .use(docsPlugin({ version: deps.version }))
    .use(metricsRoutes(deps.metrics))
    .use(healthRoutes(deps.checkWritable))
    .use(eventTypesRoutes(deps.catalog))
    .use(orgsRoutes(auth, deps.orgs))
    .use(adminKeysRoutes(auth, deps.adminKeys))
    .use(deliveriesRoutes(auth, deps.deliveries))
    .use(webhooksRoutes(auth, deps.webhooks))
    .use(eventsRoutes(auth, deps.events))
    .use(webhookEndpointsRoutes(auth, deps.webhooks))
    .use(backendWebhooksRoutes(auth, deps.webhooks, deps.deliveries))
    .use(deliveryStatsRoutes(auth, deps.deliveryStats))
    .use(orgDeliveriesRoutes(auth, deps.orgDeliveries))
    .use(portalPlugin(deps.portal))
    .use(portalSessionsRoutes(auth, deps.portalSessions, deps.portal));
  routes = app.routes;
  return app;
}
export type HttpApp = ReturnType<typeof createHttpApp>;
