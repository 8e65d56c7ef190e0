/** `/api/v1/webhooks`: the endpoint API of seeds 000-004 in one canonical shape. */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { envelope, errors, ok, ORG_POST_ERRORS, ORG_READ_ERRORS, ORG_WRITE_ERRORS } from "../common.ts";
import { CREATE_ERRORS, CreateEndpointBody, PROBE_NOTE, Endpoint, EndpointIdParams, RotateSecretBody, SecretResponse, UPDATE_ERRORS, UpdateEndpointBody } from "./schemas.ts";
import type { WebhooksService } from "./service.ts";
import { endpointView } from "./view.ts";
import { canonicalEvents, canonicalGracePeriod, canonicalIsActive } from "./field-aliases.ts";
import { deleteEndpointHandler } from "./delete-handler.ts";

const detail = (summary: string, description?: string) => ({ tags: ["webhooks"], summary, ...(description ? { description } : {}) });

export function webhooksRoutes(auth: AuthPlugin, service: WebhooksService) {
  const masked = (row: Parameters<typeof endpointView>[0]) => endpointView(row, service.maskedSecret(row));

  return new Elysia({ prefix: "/api/v1/webhooks" })
    .use(auth)
    // "" rather than "/": the documented path is /api/v1/webhooks (both are served).
    .get("", async ({ orgId }) => ok((await service.list(orgId)).map(masked)), {
      scope: "webhooks:read",
      response: { 200: envelope(t.Array(Endpoint)), ...errors(...ORG_READ_ERRORS) },
      detail: detail("List webhook endpoints", "Secrets are masked."),
    })
    .post(
      "",
      async ({ orgId, body, set }) => {
        const { row, secret } = await service.create(orgId, {
          url: body.url,
          description: body.description,
          secret: body.secret,
          events: canonicalEvents(body),
          isActive: canonicalIsActive(body),
        });
        set.status = 201;
        return ok(endpointView(row, secret));
      },
      {
        scope: "webhooks:write",
        body: CreateEndpointBody,
        response: { 201: envelope(Endpoint), ...errors(...CREATE_ERRORS) },
        detail: detail(
          "Create a webhook endpoint",
          `Returns the signing secret in full, once (your own when you send \`secret\`). \`events\` defaults to ["*"]. The URL must be HTTPS and must not resolve to a private address. ${PROBE_NOTE}`,
        ),
      },
    )
    .get("/:id", async ({ orgId, params }) => ok(masked(await service.get(orgId, params.id))), {
      scope: "webhooks:read",
      params: EndpointIdParams,
      response: { 200: envelope(Endpoint), ...errors(...ORG_READ_ERRORS) },
      detail: detail("Get a webhook endpoint"),
    })
    .patch(
      "/:id",
      async ({ orgId, params, body }) =>
        ok(masked(await service.update(orgId, params.id, { url: body.url, description: body.description, events: canonicalEvents(body), isActive: canonicalIsActive(body) }))),
      {
      scope: "webhooks:write",
      params: EndpointIdParams,
      body: UpdateEndpointBody,
      response: { 200: envelope(Endpoint), ...errors(...UPDATE_ERRORS) },
      detail: detail(
        "Update a webhook endpoint",
        "Partial: only the fields sent change. `isActive: false` disables (reason `manual`); `isActive: true` re-enables and resets `consecutiveFailures`.",
      ),
      },
    )
    .delete(
      "/:id",
      deleteEndpointHandler(service),
      {
        scope: "webhooks:write",
        params: EndpointIdParams,
        response: { 204: t.Null(), ...errors(...ORG_WRITE_ERRORS) },
        detail: detail(
          "Delete a webhook endpoint",
          "Nothing more is sent to it; its pending deliveries are cancelled in batches of 1,000 (the first with the delete). Its delivery log stays readable for the retention window.",
        ),
      },
    )
    .post(
      "/:id/rotate-secret",
      async ({ orgId, params, body }) => {
        const { secret } = await service.rotateSecret(orgId, params.id, canonicalGracePeriod(body) ?? 0);
        return ok({ secret });
      },
      {
        scope: "webhooks:write",
        params: EndpointIdParams,
        body: RotateSecretBody,
        response: { 200: envelope(SecretResponse), ...errors(...ORG_POST_ERRORS) },
        detail: detail(
          "Rotate the signing secret",
          "The old secret stops signing at once, or with `gracePeriodSeconds` keeps signing beside the new one until then.",
        ),
      },
    )
    .get("/:id/secret", async ({ orgId, params }) => ok({ secret: await service.revealSecret(orgId, params.id) }), {
      scope: "webhooks:write",
      params: EndpointIdParams,
      response: { 200: envelope(SecretResponse), ...errors(...ORG_READ_ERRORS) },
      detail: detail("Get the signing secret", "For verifying signatures (seed 004). Needs webhooks:write."),
    });
}
