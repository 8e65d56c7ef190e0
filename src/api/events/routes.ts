/** `/api/v1/events`: publish one, publish a batch, read one back with its deliveries. */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { envelope, errors, EventName, Id, iso, IsoDate, ok, ORG_POST_ERRORS, ORG_READ_ERRORS, SentPayload } from "../common.ts";
import type { EventsService } from "./service.ts";
import { MAX_BATCH } from "./service.ts";
import { deliveryStatusView } from "../deliveries/view.ts";

const PublishBody = t.Object(
  {
    event: t.String({ minLength: 1, maxLength: 128, examples: ["call.ended"] }),
    data: t.Record(t.String(), t.Unknown(), {
      description: "Any JSON object (256 KiB by default)",
      examples: [{ id: "abc123", status: "ended", to: "+14155551234", from: "+14155559999", duration: 45 }],
    }),
    id: t.Optional(
      t.String({ minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$", description: "Your own id: an event with an id already published is not sent again" }),
    ),
  },
  // Without `id`: a fixed one would make every Try it out after the first a duplicate.
  { additionalProperties: false, examples: [{ event: "call.ended", data: { id: "abc123", status: "ended", to: "+14155551234", from: "+14155559999", duration: 45 } }] },
);
const BatchBody = t.Object(
  { events: t.Array(PublishBody, { minItems: 1, maxItems: MAX_BATCH }) },
  {
    additionalProperties: false,
    examples: [{ events: [{ event: "call.started", data: { id: "abc123", to: "+14155551234" } }, { event: "call.ended", data: { id: "abc123", duration: 45 } }] }],
  },
);

const Published = t.Object({
  id: Id.event,
  event: EventName,
  timestamp: IsoDate,
  deliveries: t.Integer({ description: "Endpoints the event fans out to" }),
  duplicate: t.Boolean({ description: "True when this id was published before; nothing new was sent" }),
});

const DeliveryBrief = t.Object({
  id: Id.delivery,
  endpointId: Id.endpoint,
  status: t.String({ examples: ["succeeded"] }),
  attempts: t.Integer(),
  nextAttemptAt: t.Union([IsoDate, t.Null()]),
  lastAttemptAt: t.Union([IsoDate, t.Null()]),
  statusCode: t.Union([t.Integer(), t.Null()]),
});
const EventDetail = t.Object({
  id: Id.event,
  event: EventName,
  timestamp: IsoDate,
  payload: t.String({ ...SentPayload, description: "The exact body sent to every endpoint" }),
  deliveries: t.Array(DeliveryBrief),
});

const detail = (summary: string, description?: string) => ({ tags: ["events"], summary, ...(description ? { description } : {}) });

export function eventsRoutes(auth: AuthPlugin, service: EventsService) {
  return new Elysia({ prefix: "/api/v1/events" })
    .use(auth)
    .post(
      "",
      async ({ orgId, body, headers, set }) => {
        set.status = 202;
        return ok(await service.publish(orgId, body, headers["idempotency-key"]));
      },
      {
        scope: "events:write",
        body: PublishBody,
        response: { 202: envelope(Published), ...errors(...ORG_POST_ERRORS) },
        detail: detail(
          "Publish an event",
          "202 means committed: the event and one delivery per subscribed endpoint are on disk before the response. An `id` or `Idempotency-Key` makes publishing idempotent.",
        ),
      },
    )
    .post(
      "/batch",
      async ({ orgId, body, set }) => {
        set.status = 202;
        return ok(await service.publishBatch(orgId, body.events));
      },
      {
        scope: "events:write",
        body: BatchBody,
        response: { 202: envelope(t.Array(Published)), ...errors(...ORG_POST_ERRORS) },
        detail: detail("Publish up to 1000 events", "All or nothing: one invalid item rejects the batch with a 400 naming its index."),
      },
    )
    .get(
      "/:id",
      async ({ orgId, params }) => {
        const { event, deliveries } = await service.get(orgId, params.id);
        return ok({
          id: event.id,
          event: event.type,
          timestamp: iso(event.createdAt),
          payload: event.body,
          deliveries: deliveries.map((d) => ({ id: d.id, endpointId: d.endpointId, ...deliveryStatusView(d) })),
        });
      },
      {
        scope: "webhooks:read",
        params: t.Object({ id: t.String({ maxLength: 64, description: "An event id (`evt_…`) from a publish response" }) }),
        response: { 200: envelope(EventDetail), ...errors(...ORG_READ_ERRORS, "VALIDATION_ERROR") },
        detail: detail("Get an event and its deliveries"),
      },
    );
}
