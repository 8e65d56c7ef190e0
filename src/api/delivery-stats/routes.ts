/** `GET /api/v1/webhooks/{id}/stats`: an endpoint's deliveries by status over time. */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { envelope, errors, iso, IsoDate, ok, ORG_READ_ERRORS } from "../common.ts";
import { MAX_BUCKETS, MAX_RANGE_MS, type DeliveryStatsService } from "./service.ts";

const Counts = t.Object({ pending: t.Integer(), succeeded: t.Integer(), failed: t.Integer(), cancelled: t.Integer() });
const Stats = t.Object({
  since: IsoDate,
  until: IsoDate,
  bucketSeconds: t.Number(),
  total: Counts,
  successRate: t.Union([t.Number({ minimum: 0, maximum: 1 }), t.Null()], { description: "succeeded / (succeeded + failed + cancelled); null when none finished" }),
  buckets: t.Array(t.Object({ start: IsoDate, counts: Counts })),
});
const Query = t.Object(
  {
    since: t.Optional(t.String({ format: "date-time", description: "Default: 24 h before `until`" })),
    until: t.Optional(t.String({ format: "date-time", description: "Default: now" })),
    buckets: t.Optional(t.Numeric({ minimum: 1, maximum: MAX_BUCKETS, default: 24 })),
  },
  { additionalProperties: false },
);

export function deliveryStatsRoutes(auth: AuthPlugin, service: DeliveryStatsService) {
  return new Elysia({ prefix: "/api/v1/webhooks" }).use(auth).get(
    "/:id/stats",
    async ({ orgId, params, query }) => {
      const s = await service.forEndpoint(orgId, params.id, {
        since: query.since === undefined ? undefined : Date.parse(query.since),
        until: query.until === undefined ? undefined : Date.parse(query.until),
        buckets: query.buckets === undefined ? undefined : Math.floor(query.buckets),
      });
      return ok({ ...s, since: iso(s.since), until: iso(s.until), buckets: s.buckets.map((b) => ({ start: iso(b.start), counts: b.counts })) });
    },
    {
      scope: "webhooks:read",
      params: t.Object({ id: t.String({ maxLength: 64, description: "An endpoint id (`wh_…`)" }) }),
      query: Query,
      response: { 200: envelope(Stats), ...errors(...ORG_READ_ERRORS, "VALIDATION_ERROR") },
      detail: {
        tags: ["deliveries"],
        summary: "Count an endpoint's deliveries by status over time",
        description: `Deliveries created in [since, until), by status, in equal buckets (at most ${MAX_BUCKETS}; the range at most ${MAX_RANGE_MS / 86_400_000} days), and the success rate. Each count reads an index range (no table rows): its cost grows with the deliveries in the range, not with the log; on SQLite it is counted 20,000 entries at a time, other requests served between.`,
      },
    },
  );
}
