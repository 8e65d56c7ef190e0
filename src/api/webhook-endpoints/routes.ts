/**
 * `/v1/webhook_endpoints`: seed 003's dialect (snake_case fields, the object itself as the body,
 * `Authorization: Bearer sk_...`), served by the same webhooks service as `/api/v1/webhooks`.
 */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { DIALECT_TAGS, dialectErrors, iso, IsoDate, NullableIsoDate, ORG_POST_ERRORS, ORG_READ_ERRORS, ORG_WRITE_ERRORS } from "../common.ts";
import { inDialectTerms } from "../dialect-fields.ts";
import {
  CREATE_ERRORS,
  Description,
  DisabledReason,
  EndpointIdParams,
  EndpointStatus,
  Events,
  GracePeriodSeconds,
  PLACEHOLDER_URL,
  PROBE_NOTE,
  ShownDescription,
  ShownEvents,
  ShownUrl,
  SigningSecret,
  UPDATE_ERRORS,
  Url,
} from "../webhooks/schemas.ts";
import type { WebhooksService } from "../webhooks/service.ts";
import { deleteEndpointHandler } from "../webhooks/delete-handler.ts";
import type { EndpointRow } from "../../store/port.ts";

const EnabledEvents = t.Array(Events.items, {
  ...Events,
  description: 'Event types this endpoint subscribes to (1-10): catalog names, "*" for all, or "prefix.*". Defaults to ["*"].',
  examples: [["call.ended", "call.failed"]],
});

const WebhookEndpoint = t.Object({
  id: t.String({ examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"], description: "webhookd's endpoint id (the same on every dialect), not a UUID" }),
  org_id: t.String({ examples: ["org_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  url: ShownUrl,
  description: ShownDescription,
  enabled_events: ShownEvents,
  status: EndpointStatus,
  disabled_reason: DisabledReason,
  disabled_at: NullableIsoDate,
  consecutive_failures: t.Integer(),
  created_at: IsoDate,
  updated_at: IsoDate,
});
const WithSigningSecret = t.Composite([
  t.Object({ signing_secret: t.String({ description: "Returned only on create and rotate", examples: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }) }),
  WebhookEndpoint,
]);

const CreateBody = t.Object(
  { url: Url, description: t.Optional(Description), enabled_events: t.Optional(EnabledEvents), signing_secret: t.Optional(SigningSecret) },
  { additionalProperties: false, examples: [{ url: PLACEHOLDER_URL, description: "Production webhook", enabled_events: ["call.ended", "call.failed"] }] },
);
const UpdateBody = t.Object(
  { url: t.Optional(Url), description: t.Optional(Description), enabled_events: t.Optional(EnabledEvents), status: t.Optional(EndpointStatus) },
  { additionalProperties: false, examples: [{ description: "Production webhook", enabled_events: ["call.ended"], status: "enabled" }] },
);
const RotateBody = t.Optional(
  t.Object({ grace_period_seconds: t.Optional(GracePeriodSeconds) }, { additionalProperties: false, examples: [{ grace_period_seconds: 3600 }] }),
);

const FIELD_NAMES = { events: "enabled_events", secret: "signing_secret" };

function endpointObject(row: EndpointRow): typeof WebhookEndpoint.static {
  return {
    id: row.id,
    org_id: row.orgId,
    url: row.url,
    description: row.description,
    enabled_events: row.events,
    status: row.enabled ? "enabled" : "disabled",
    disabled_reason: row.disabledReason,
    disabled_at: iso(row.disabledAt),
    consecutive_failures: row.consecutiveFailures,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

const detail = (summary: string, description?: string) => ({ tags: [DIALECT_TAGS[0].name], summary, ...(description ? { description } : {}) });

export function webhookEndpointsRoutes(auth: AuthPlugin, service: WebhooksService) {
  return new Elysia({ prefix: "/v1/webhook_endpoints" })
    .use(auth)
    .post(
      "",
      async ({ orgId, body, set }) => {
        const { row, secret } = await inDialectTerms(FIELD_NAMES, () =>
          service.create(orgId, { url: body.url, description: body.description, events: body.enabled_events, secret: body.signing_secret }),
        );
        set.status = 201;
        return { signing_secret: secret, ...endpointObject(row) };
      },
      {
        scope: "webhooks:write",
        body: CreateBody,
        response: { 201: WithSigningSecret, ...dialectErrors(...CREATE_ERRORS) },
        detail: detail("Create a webhook endpoint", `\`signing_secret\` is returned here and on rotate only. ${PROBE_NOTE}`),
      },
    )
    .get("", async ({ orgId }) => ({ data: (await service.list(orgId)).map(endpointObject) }), {
      scope: "webhooks:read",
      response: { 200: t.Object({ data: t.Array(WebhookEndpoint) }), ...dialectErrors(...ORG_READ_ERRORS) },
      detail: detail("List webhook endpoints"),
    })
    .get("/:id", async ({ orgId, params }) => endpointObject(await service.get(orgId, params.id)), {
      scope: "webhooks:read",
      params: EndpointIdParams,
      response: { 200: WebhookEndpoint, ...dialectErrors(...ORG_READ_ERRORS) },
      detail: detail("Get a webhook endpoint"),
    })
    .patch(
      "/:id",
      async ({ orgId, params, body }) => {
        const isActive = body.status === undefined ? undefined : body.status === "enabled";
        const row = await inDialectTerms(FIELD_NAMES, () =>
          service.update(orgId, params.id, { url: body.url, description: body.description, events: body.enabled_events, isActive }),
        );
        return endpointObject(row);
      },
      {
        scope: "webhooks:write",
        params: EndpointIdParams,
        body: UpdateBody,
        response: { 200: WebhookEndpoint, ...dialectErrors(...UPDATE_ERRORS) },
        detail: detail(
          "Update a webhook endpoint",
          'Partial. `status: "disabled"` disables (reason `manual`); `status: "enabled"` re-enables and resets `consecutive_failures`.',
        ),
      },
    )
    .delete(
      "/:id",
      deleteEndpointHandler(service),
      { scope: "webhooks:write", params: EndpointIdParams, response: { 204: t.Null(), ...dialectErrors(...ORG_WRITE_ERRORS) }, detail: detail("Delete a webhook endpoint") },
    )
    .post(
      "/:id/rotate_secret",
      async ({ orgId, params, body }) => {
        const { row, secret } = await service.rotateSecret(orgId, params.id, body?.grace_period_seconds ?? 0);
        return { signing_secret: secret, ...endpointObject(row) };
      },
      {
        scope: "webhooks:write",
        params: EndpointIdParams,
        body: RotateBody,
        response: { 200: WithSigningSecret, ...dialectErrors(...ORG_POST_ERRORS) },
        detail: detail("Rotate the signing secret", "With `grace_period_seconds` the old secret keeps signing beside the new one until then."),
      },
    );
}
