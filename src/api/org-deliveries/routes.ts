/** `GET /api/v1/deliveries`: the delivery log across the org's endpoints. */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { errors, Id, ORG_READ_ERRORS } from "../common.ts";
import { DeliveryLog } from "../deliveries/routes.ts";
import { MAX_PAGE_SIZE } from "../deliveries/service.ts";
import { MAX_DELETED_ENDPOINTS, type OrgDeliveriesService } from "./service.ts";

const Query = t.Object(
  {
    limit: t.Optional(t.Numeric({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 })),
    success: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
    event: t.Optional(t.String({ maxLength: 128 })),
    status: t.Optional(t.Union([t.Literal("pending"), t.Literal("succeeded"), t.Literal("failed"), t.Literal("cancelled")])),
    before: t.Optional(t.String({ maxLength: 64, description: "Only deliveries older than this delivery id: pass `pagination.nextBefore` to page on" })),
  },
  { additionalProperties: false },
);

export function orgDeliveriesRoutes(auth: AuthPlugin, service: OrgDeliveriesService) {
  return new Elysia().use(auth).get(
    "/api/v1/deliveries",
    async ({ orgId, query }) => {
      const { items, pagination } = await service.list(orgId, Math.floor(query.limit ?? 20), {
        success: query.success === undefined ? undefined : query.success === "true",
        status: query.status,
        eventType: query.event,
        before: query.before,
      });
      return { success: true as const, data: items, pagination };
    },
    {
      scope: "webhooks:read",
      query: Query,
      response: {
        200: t.Object({
          success: t.Literal(true),
          data: t.Array(
            t.Composite([
              DeliveryLog,
              t.Object({
                endpointId: Id.endpoint,
                endpointUrl: t.String({ examples: ["https://your-app.com/webhook"] }),
                endpointDeleted: t.Boolean({ description: "The endpoint was deleted: its log stays readable until retention, nothing can be replayed" }),
              }),
            ]),
          ),
          pagination: t.Object({
            limit: t.Integer(),
            hasMore: t.Boolean(),
            nextBefore: t.Union([t.String(), t.Null()], { description: "The last id of this page when there are more: pass it as `before`", examples: Id.delivery.examples }),
          }),
        }),
        ...errors(...ORG_READ_ERRORS, "VALIDATION_ERROR"),
      },
      detail: {
        tags: ["deliveries"],
        summary: "List the deliveries of every endpoint of the org",
        description:
          `Newest first, across the org's endpoints, the deleted ones' kept logs included (\`endpointDeleted\`; the ${MAX_DELETED_ENDPOINTS} most recently deleted: an older one's log stays under its own \`/webhooks/{id}/deliveries\`), with the same filters as one endpoint's log; page with \`before\`. A page reads \`limit + 1\` rows per endpoint.`,
      },
    },
  );
}
