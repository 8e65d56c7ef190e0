/** `/api/v1/admin/keys`: the admin key's own lifecycle (list, rotate, revoke). */
import { Elysia, t } from "elysia";
import type { AuthPlugin } from "../../http/auth.ts";
import { AUTH_ERRORS, envelope, errors, ok, POST_ERRORS } from "../common.ts";
import { KeyFields, keyFieldsView, ShownOnce } from "../key-view.ts";
import type { AdminKeysService } from "./service.ts";

const AdminKey = t.Object(KeyFields);
const NewAdminKey = t.Composite([AdminKey, ShownOnce]);
// Not length-capped: an id of any other shape is a 404 (the service checks it), never a 400.
const KeyParams = t.Object({ keyId: t.String({ description: "An admin key id (`key_…`) from GET /api/v1/admin/keys" }) });

const detail = (summary: string, description: string) => ({ tags: ["admin"], summary, description: `Admin key only. ${description}` });

export function adminKeysRoutes(auth: AuthPlugin, service: AdminKeysService) {
  return new Elysia({ prefix: "/api/v1/admin/keys" })
    .use(auth)
    .get("", async () => ok((await service.list()).map(keyFieldsView)), {
      admin: true,
      response: { 200: envelope(t.Array(AdminKey)), ...errors(...AUTH_ERRORS) },
      detail: detail("List the stored admin keys", "Revoked ones included; WEBHOOKD_ADMIN_KEY is not stored and not listed."),
    })
    .post(
      "/rotate",
      async ({ set }) => {
        const { row, key } = await service.rotate();
        set.status = 201;
        return ok({ ...keyFieldsView(row), key });
      },
      {
        admin: true,
        response: { 201: envelope(NewAdminKey), ...errors("ADMIN_KEY_CONFIGURED", ...POST_ERRORS, ...AUTH_ERRORS, "STORAGE_UNAVAILABLE") },
        detail: detail(
          "Rotate the admin key",
          "A new admin key (shown once); every other stored admin key is revoked at once. 409 ADMIN_KEY_CONFIGURED while WEBHOOKD_ADMIN_KEY is set.",
        ),
      },
    )
    .delete(
      "/:keyId",
      async ({ params, set }) => {
        await service.revoke(params.keyId);
        set.status = 204;
        return null;
      },
      {
        admin: true,
        params: KeyParams,
        response: { 204: t.Null(), ...errors("NOT_FOUND", ...AUTH_ERRORS, "STORAGE_UNAVAILABLE") },
        detail: detail("Revoke an admin key", "With none left, the next start without WEBHOOKD_ADMIN_KEY generates and prints a new one."),
      },
    );
}
