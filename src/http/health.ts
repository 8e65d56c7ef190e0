import { Elysia, t } from "elysia";
import { ServiceUnavailableError } from "../lib/errors.ts";
import { errors } from "../api/common.ts";

/** /healthz: the process answers. /readyz: the database takes writes. */
export function healthRoutes(checkWritable: () => Promise<void>) {
  return new Elysia()
    .get("/healthz", () => ({ status: "ok" }), {
      response: t.Object({ status: t.String({ examples: ["ok"] }) }),
      detail: { tags: ["health"], summary: "Liveness", security: [] },
    })
    .get(
      "/readyz",
      async () => {
        try {
          await checkWritable();
        } catch (err) {
          throw new ServiceUnavailableError("NOT_READY", `The database is not writable: ${(err as Error).message}`);
        }
        return { status: "ready" };
      },
      { response: { 200: t.Object({ status: t.String({ examples: ["ready"] }) }), ...errors("NOT_READY") }, detail: { tags: ["health"], summary: "Readiness: the database takes writes", security: [] } },
    );
}
