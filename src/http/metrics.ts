import { Elysia } from "elysia";
import type { WebhookdMetrics } from "../lib/metrics.ts";

/** GET /metrics in Prometheus text format, and the per-route request counter behind it. */
export function metricsRoutes(metrics: WebhookdMetrics) {
  return new Elysia({ name: "webhookd.metrics" })
    .onAfterResponse({ as: "global" }, ({ route, set, request }) => {
      if (route === "/metrics") return;
      metrics.httpRequests.inc({ method: request.method, route: route || "unmatched", status: String(set.status ?? 200) });
    })
    .get("/metrics", () => new Response(metrics.registry.render(), { headers: { "content-type": "text/plain; version=0.0.4" } }), {
      detail: { tags: ["health"], summary: "Prometheus metrics", security: [] },
    });
}
