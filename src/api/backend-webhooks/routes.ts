/**
 * `/v1/backend/webhooks`: seed 004's dialect (`{data: ...}`, `event_types`, `enabled`), served by
 * the same webhooks and deliveries services as `/api/v1/webhooks`.
 */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { DIALECT_TAGS, dialectErrors, Id, iso, IsoDate, ORG_POST_ERRORS, ORG_READ_ERRORS, ORG_WRITE_ERRORS } from "../common.ts";
import { inDialectTerms } from "../dialect-fields.ts";
import { CREATE_ERRORS, Description, PLACEHOLDER_URL, PROBE_NOTE, ShownDescription, ShownEvents, ShownUrl, EndpointIdParams, Events, SecretResponse, SigningSecret, Url } from "../webhooks/schemas.ts";
import type { WebhooksService } from "../webhooks/service.ts";
import { deleteEndpointHandler } from "../webhooks/delete-handler.ts";
import type { DeliveriesService } from "../deliveries/service.ts";
import { TEST_EVENT } from "../deliveries/service.ts";
import type { EndpointRow } from "../../store/port.ts";

const EventTypes = t.Array(Events.items, {
  ...Events,
  description: 'Event types (1-10): catalog names, "*" for all, or "prefix.*". Defaults to ["*"].',
  examples: [["call.ended"]],
});

const Webhook = t.Object({
  id: t.String({ examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  url: ShownUrl,
  description: ShownDescription,
  event_types: ShownEvents,
  enabled: t.Boolean(),
  created_at: IsoDate,
});
const WithSecret = t.Composite([
  Webhook,
  t.Object({ secret: t.String({ description: "Shown on create; later through GET /{id}/secret", examples: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwC2ZhXyM3c0o="] }) }),
]);
const CreateBody = t.Object(
  { url: Url, description: t.Optional(Description), event_types: t.Optional(EventTypes), secret: t.Optional(SigningSecret) },
  { additionalProperties: false, examples: [{ url: PLACEHOLDER_URL, description: "Production webhook", event_types: ["call.ended"] }] },
);
const TestBody = t.Optional(
  t.Object({ event: t.Optional(t.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false, examples: [{ event: "call.ended" }] }),
);

const FIELD_NAMES = { events: "event_types" };

function webhookObject(row: EndpointRow): typeof Webhook.static {
  return { id: row.id, url: row.url, description: row.description, event_types: row.events, enabled: row.enabled, created_at: iso(row.createdAt) };
}

const detail = (summary: string, description?: string) => ({ tags: [DIALECT_TAGS[1].name], summary, ...(description ? { description } : {}) });

export function backendWebhooksRoutes(auth: AuthPlugin, webhooks: WebhooksService, deliveries: DeliveriesService) {
  return new Elysia({ prefix: "/v1/backend/webhooks" })
    .use(auth)
    .get("", async ({ orgId }) => ({ data: (await webhooks.list(orgId)).map(webhookObject) }), {
      scope: "webhooks:read",
      response: { 200: t.Object({ data: t.Array(Webhook) }), ...dialectErrors(...ORG_READ_ERRORS) },
      detail: detail("List webhook endpoints"),
    })
    .post(
      "",
      async ({ orgId, body, set }) => {
        const { row, secret } = await inDialectTerms(FIELD_NAMES, () =>
          webhooks.create(orgId, { url: body.url, description: body.description, events: body.event_types, secret: body.secret }),
        );
        set.status = 201;
        return { data: { ...webhookObject(row), secret } };
      },
      {
        scope: "webhooks:write",
        body: CreateBody,
        response: { 201: t.Object({ data: WithSecret }), ...dialectErrors(...CREATE_ERRORS) },
        detail: detail("Create a webhook endpoint", `Returns the signing secret. ${PROBE_NOTE}`),
      },
    )
    .post(
      "/test",
      async ({ orgId, body }) => {
        const { messageId } = await deliveries.testAll(orgId, body?.event ?? TEST_EVENT);
        return { data: { success: true, message_id: messageId } };
      },
      {
        scope: "webhooks:write",
        body: TestBody,
        response: { 200: t.Object({ data: t.Object({ success: t.Boolean(), message_id: Id.event }) }), ...dialectErrors(...ORG_POST_ERRORS) },
        detail: detail("Send a test event to every enabled endpoint", `Event type "${TEST_EVENT}" unless one is named.`),
      },
    )
    .get("/:id", async ({ orgId, params }) => ({ data: webhookObject(await webhooks.get(orgId, params.id)) }), {
      scope: "webhooks:read",
      params: EndpointIdParams,
      response: { 200: t.Object({ data: Webhook }), ...dialectErrors(...ORG_READ_ERRORS) },
      detail: detail("Get a webhook endpoint"),
    })
    .delete(
      "/:id",
      deleteEndpointHandler(webhooks),
      { scope: "webhooks:write", params: EndpointIdParams, response: { 204: t.Null(), ...dialectErrors(...ORG_WRITE_ERRORS) }, detail: detail("Delete a webhook endpoint") },
    )
    .get("/:id/secret", async ({ orgId, params }) => ({ data: { secret: await webhooks.revealSecret(orgId, params.id) } }), {
      scope: "webhooks:write",
      params: EndpointIdParams,
      response: { 200: t.Object({ data: SecretResponse }), ...dialectErrors(...ORG_READ_ERRORS) },
      detail: detail("Get the signing secret", "For verifying signatures. Needs webhooks:write."),
    });
}
