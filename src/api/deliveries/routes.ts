/** Delivery logs, replay, recover and test sends, under `/api/v1/webhooks`. */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { envelope, errors, EventName, Id, IsoDate, ok, SentPayload, ORG_POST_ERRORS, ORG_READ_ERRORS, ORG_WRITE_ERRORS, POST_ERRORS } from "../common.ts";
import type { DeliveriesService } from "./service.ts";
import { LIST_PAYLOAD_BYTES, MAX_ATTEMPT_LOG, MAX_COUNTED, MAX_PAGE_OFFSET, MAX_PAGE_SIZE, TEST_EVENT } from "./service.ts";

const Response = t.Union([
  t.Object({ status: t.Integer({ examples: [200] }), headers: t.Record(t.String(), t.String()), body: t.String({ description: "Its first 4 KiB", examples: ["ok"] }) }),
  t.Null(),
]);
const ErrorInfo = t.Union([t.Object({ code: t.String({ examples: ["http_status"] }), message: t.String({ examples: ["HTTP 500"] }) }), t.Null()]);
const NullableDate = t.Union([IsoDate, t.Null()]);
const DeliveryStatus = t.Union([t.Literal("pending"), t.Literal("succeeded"), t.Literal("failed"), t.Literal("cancelled")]);

export const DeliveryLog = t.Object({
  id: Id.delivery,
  eventId: Id.event,
  event: EventName,
  status: DeliveryStatus,
  success: t.Boolean(),
  attempts: t.Integer(),
  statusCode: t.Union([t.Integer(), t.Null()]),
  durationMs: t.Union([t.Integer(), t.Null()]),
  payload: t.String({ ...SentPayload, description: `The exact body sent; in a list, its first ${LIST_PAYLOAD_BYTES} bytes` }),
  payloadTruncated: t.Boolean({ description: "The payload is cut here (lists only): GET the delivery for all of it" }),
  response: Response,
  error: ErrorInfo,
  createdAt: IsoDate,
  lastAttemptAt: NullableDate,
  nextAttemptAt: NullableDate,
});
const Attempt = t.Object({
  id: Id.attempt,
  attempt: t.Integer(),
  trigger: t.Union([t.Literal("scheduled"), t.Literal("replay"), t.Literal("test")], { description: "What made the attempt" }),
  url: t.String({ examples: ["https://your-app.com/webhook"] }),
  statusCode: t.Union([t.Integer(), t.Null()]),
  durationMs: t.Integer(),
  error: ErrorInfo,
  request: t.Union(
    [
      t.Object({
        headers: t.Record(t.String(), t.String(), {
          description: "The request headers as sent, signatures included (the body is the delivery's `payload`); at most 50 headers and 4 KiB",
          examples: [{ "content-type": "application/json", "webhook-id": "evt_01JH2W8Q4V3N6X0Z9K7B5C1D2E", "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=" }],
        }),
      }),
      t.Null(),
    ],
    { description: "null when nothing was sent (a blocked address, no answer from DNS) or for attempts logged before webhookd kept request headers" },
  ),
  response: Response,
  createdAt: IsoDate,
});
const Outcome = t.Object({
  deliveryId: Id.delivery,
  success: t.Boolean(),
  statusCode: t.Union([t.Integer(), t.Null()]),
  durationMs: t.Integer(),
  error: ErrorInfo,
});

const ListQuery = t.Object(
  {
    page: t.Optional(t.Numeric({ minimum: 1, maximum: 1_000_000, default: 1 })),
    limit: t.Optional(t.Numeric({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 })),
    success: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
    event: t.Optional(t.String({ maxLength: 128 })),
    status: t.Optional(DeliveryStatus),
    before: t.Optional(t.String({ maxLength: 64, description: "Only deliveries older than this delivery id: pass `pagination.nextBefore` to page on" })),
  },
  { additionalProperties: false },
);
const EndpointId = t.String({ maxLength: 64, description: "An endpoint id (`wh_…`) from the create or list response" });
const EndpointParams = t.Object({ id: EndpointId });
const DeliveryParams = t.Object({ id: EndpointId, deliveryId: t.String({ maxLength: 64, description: "A delivery id (`dlv_…`) from the endpoint's delivery log" }) });
const TestBody = t.Object({ event: t.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false, examples: [{ event: "call.ended" }] });

const detail = (summary: string, description?: string) => ({ tags: ["deliveries"], summary, ...(description ? { description } : {}) });

export function deliveriesRoutes(auth: AuthPlugin, service: DeliveriesService) {
  return new Elysia({ prefix: "/api/v1/webhooks" })
    .use(auth)
    .get(
      "/:id/deliveries",
      async ({ orgId, params, query }) => {
        const page = Math.floor(query.page ?? 1);
        const limit = Math.floor(query.limit ?? 20);
        const success = query.success === undefined ? undefined : query.success === "true";
        const { items, pagination } = await service.list(orgId, params.id, page, limit, {
          success,
          status: query.status,
          eventType: query.event,
          before: query.before,
        });
        return { success: true as const, data: items, pagination };
      },
      {
        scope: "webhooks:read",
        params: EndpointParams,
        query: ListQuery,
        response: {
          200: t.Object({
            success: t.Literal(true),
            data: t.Array(DeliveryLog),
            pagination: t.Object({
              page: t.Integer(),
              limit: t.Integer(),
              total: t.Integer({ description: `Matching deliveries, counted up to ${MAX_COUNTED}` }),
              totalExact: t.Boolean({ description: `false when there are more than ${MAX_COUNTED} (total then says ${MAX_COUNTED})` }),
              hasMore: t.Boolean(),
              nextBefore: t.Union([t.String(), t.Null()], { description: "The last id of this page when there are more: pass it as `before`", examples: Id.delivery.examples }),
            }),
          }),
          ...errors(...ORG_READ_ERRORS, "VALIDATION_ERROR"),
        },
        detail: detail(
          "List an endpoint's deliveries",
          `Newest first. \`success=false\` shows failed and cancelled deliveries. \`page\` reaches back ${MAX_PAGE_OFFSET} deliveries; \`before\` (with \`pagination.nextBefore\`) pages any distance.`,
        ),
      },
    )
    .get("/:id/deliveries/:deliveryId", async ({ orgId, params }) => ok(await service.get(orgId, params.id, params.deliveryId)), {
      scope: "webhooks:read",
      params: DeliveryParams,
      response: { 200: envelope(t.Composite([DeliveryLog, t.Object({ attemptLog: t.Array(Attempt) })])), ...errors(...ORG_READ_ERRORS, "VALIDATION_ERROR") },
      detail: detail("Get a delivery with its attempts", `The whole payload, and the latest ${MAX_ATTEMPT_LOG} attempts, oldest first.`),
    })
    .post("/:id/deliveries/:deliveryId/replay", async ({ orgId, params }) => ok(await service.replay(orgId, params.id, params.deliveryId)), {
      scope: "webhooks:write",
      params: DeliveryParams,
      response: { 200: envelope(Outcome), ...errors(...ORG_WRITE_ERRORS, ...POST_ERRORS, "ENDPOINT_DISABLED", "ENDPOINT_DELETED") },
      detail: detail(
        "Replay a delivery",
        "Re-sends the original payload (fresh timestamp and signatures) to the endpoint's current URL now and returns the outcome. Retry counters are not touched.",
      ),
    })
    .post(
      "/:id/recover",
      async ({ orgId, params, body, set }) => {
        set.status = 202;
        return ok(await service.recover(orgId, params.id, Date.parse(body.since)));
      },
      {
        scope: "webhooks:write",
        params: EndpointParams,
        body: t.Object({ since: t.String({ format: "date-time" }) }, { additionalProperties: false, examples: [{ since: "2025-01-15T00:00:00Z" }] }),
        response: {
          202: envelope(t.Object({ deliveries: t.Integer({ description: "Failed deliveries being replayed" }) })),
          ...errors(...ORG_POST_ERRORS, "RECOVER_IN_PROGRESS", "ENDPOINT_DISABLED", "ENDPOINT_DELETED"),
        },
        detail: detail(
          "Replay every failed delivery since a time",
          "Runs in the background (up to 1000 per call), under the same limits as every delivery. One recover per endpoint at a time: 409 RECOVER_IN_PROGRESS while one runs.",
        ),
      },
    )
    .post("/:id/test", async ({ orgId, params, body }) => ok(await service.testEndpoint(orgId, params.id, body.event)), {
      scope: "webhooks:write",
      params: EndpointParams,
      body: TestBody,
      response: { 200: envelope(t.Composite([Outcome, t.Object({ eventId: Id.event })])), ...errors("ENDPOINT_DISABLED", "ENDPOINT_DELETED", ...ORG_POST_ERRORS) },
      detail: detail("Send a test event to one endpoint", "A synthetic payload of the requested type, sent now; returns the outcome."),
    })
    .post(
      "/test",
      async ({ orgId, body }) => {
        const { messageId, deliveries } = await service.testAll(orgId, body?.event ?? TEST_EVENT);
        return ok({ success: true, messageId, message_id: messageId, deliveries });
      },
      {
        scope: "webhooks:write",
        body: t.Optional(t.Object({ event: t.Optional(t.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false, examples: [{ event: "call.ended" }] })),
        response: {
          200: envelope(t.Object({ success: t.Boolean(), messageId: Id.event, message_id: t.String({ description: "Seed 004's spelling", examples: Id.event.examples }), deliveries: t.Integer() })),
          ...errors(...ORG_POST_ERRORS),
        },
        detail: detail("Send a test event to every enabled endpoint", `Event type "${TEST_EVENT}" unless one is named.`),
      },
    );
}
