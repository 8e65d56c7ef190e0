import { Elysia } from "elysia";
import type { WebhookdMetrics } from "../lib/metrics.ts";

/** GET /metrics in Prometheus text format, and the per-route request counter behind it. */
export function metricsRoutes(metrics: WebhookdMetrics) {
  return new Elysia({ name: "webhookd.metrics" })
    .onAfterResponse({ as: "global" }, ({ route, set, request, responseValue }) => {
      if (route === "/metrics") return;
      // A hook may answer with a Response of its own (an idempotent replay): its status is the one sent.
      const status = responseValue instanceof Response ? responseValue.status : (set.status ?? 200);
      metrics.httpRequests.inc({ method: request.method, route: route || "unmatched", status: String(status) });
    })
    .get("/metrics", () => new Response(metrics.registry.render(), { headers: { "content-type": "text/plain; version=0.0.4" } }), {
      detail: { tags: ["health"], summary: "Prometheus metrics", security: [] },
    });
}
