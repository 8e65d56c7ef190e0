/** `/api/v1/orgs`: the admin key's API for tenants and their keys. */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { SCOPES } from "../auth/scopes.ts";
import { AUTH_ERRORS, BODY_ERRORS, envelope, errors, Id, iso, IsoDate, ok, POST_ERRORS } from "../common.ts";
import { KeyFields, keyFieldsView, ShownOnce } from "../key-view.ts";
import type { ApiKeyRow, OrgRow } from "../../store/port.ts";
import type { OrgsService } from "./service.ts";
import { KeysetPagination, KeysetQuery, keysetRequest } from "../paging.ts";

const Org = t.Object({ id: Id.org, name: t.String({ examples: ["Acme Inc"] }), createdAt: IsoDate });
const ApiKey = t.Object({ ...KeyFields, orgId: Id.org, scopes: t.Array(t.String(), { examples: [["webhooks:read", "webhooks:write", "events:write"]] }) });
const NewApiKey = t.Composite([ApiKey, ShownOnce]);
const CreateOrgBody = t.Object({ name: t.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false, examples: [{ name: "Acme Inc" }] });
const CreateKeyBody = t.Object(
  {
    name: t.Optional(t.Union([t.String({ maxLength: 200 }), t.Null()])),
    scopes: t.Array(t.Union(SCOPES.map((s) => t.Literal(s))), { minItems: 1, examples: [["webhooks:read", "webhooks:write", "events:write"]] }),
    mode: t.Optional(t.Union([t.Literal("live"), t.Literal("test")], { description: "sk_live_ (default) or sk_test_" })),
  },
  { additionalProperties: false, examples: [{ name: "Production", scopes: ["webhooks:read", "webhooks:write", "events:write"] }] },
);
// Not length-capped: an id of any other shape is a 404 (the service checks it), never a 400.
const OrgId = t.String({ description: "An org id (`org_…`) from POST or GET /api/v1/orgs" });
const OrgParams = t.Object({ orgId: OrgId });
const KeyParams = t.Object({ orgId: OrgId, keyId: t.String({ description: "An API key id (`key_…`) from GET /api/v1/orgs/{orgId}/keys" }) });

const orgView = (o: OrgRow) => ({ id: o.id, name: o.name, createdAt: iso(o.createdAt) });
const keyView = (k: ApiKeyRow) => ({ ...keyFieldsView(k), orgId: k.orgId ?? "", scopes: k.scopes });

const detail = (summary: string) => ({ tags: ["orgs"], summary, description: "Admin key only." });

export function orgsRoutes(auth: AuthPlugin, service: OrgsService) {
  return new Elysia({ prefix: "/api/v1/orgs" })
    .use(auth)
    .post(
      "",
      async ({ body, set }) => {
        set.status = 201;
        return ok(orgView(await service.createOrg(body.name)));
      },
      { admin: true, body: CreateOrgBody, response: { 201: envelope(Org), ...errors(...BODY_ERRORS, ...POST_ERRORS, ...AUTH_ERRORS, "STORAGE_UNAVAILABLE") }, detail: detail("Create an organization") },
    )
    .get(
      "",
      async ({ query }) => {
        const { items, pagination } = await service.listOrgs(keysetRequest(query));
        return { success: true as const, data: items.map(orgView), pagination };
      },
      {
        admin: true,
        query: KeysetQuery,
        response: { 200: t.Object({ success: t.Literal(true), data: t.Array(Org), pagination: KeysetPagination }), ...errors("VALIDATION_ERROR", ...AUTH_ERRORS) },
        detail: detail("List organizations, oldest first, a page at a time"),
      },
    )
    .post(
      "/:orgId/keys",
      async ({ params, body, set }) => {
        const { row, key } = await service.createKey(params.orgId, body);
        set.status = 201;
        return ok({ ...keyView(row), key });
      },
      { admin: true, params: OrgParams, body: CreateKeyBody, response: { 201: envelope(NewApiKey), ...errors("NOT_FOUND", ...BODY_ERRORS, ...POST_ERRORS, ...AUTH_ERRORS, "STORAGE_UNAVAILABLE") }, detail: detail("Create an API key") },
    )
    .get(
      "/:orgId/keys",
      async ({ params, query }) => {
        const { items, pagination } = await service.listKeys(params.orgId, keysetRequest(query));
        return { success: true as const, data: items.map(keyView), pagination };
      },
      {
        admin: true,
        params: OrgParams,
        query: KeysetQuery,
        response: { 200: t.Object({ success: t.Literal(true), data: t.Array(ApiKey), pagination: KeysetPagination }), ...errors("VALIDATION_ERROR", "NOT_FOUND", ...AUTH_ERRORS) },
        detail: detail("List an organization's API keys, oldest first, a page at a time"),
      },
    )
    .delete(
      "/:orgId/keys/:keyId",
      async ({ params, set }) => {
        await service.revokeKey(params.orgId, params.keyId);
        set.status = 204;
        return null;
      },
      { admin: true, params: KeyParams, response: { 204: t.Null(), ...errors("NOT_FOUND", ...AUTH_ERRORS, "STORAGE_UNAVAILABLE") }, detail: detail("Revoke an API key") },
    );
}
