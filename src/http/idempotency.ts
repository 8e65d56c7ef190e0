/**
 * Wires Idempotency-Key into every POST: claim before the handler, store the response after it,
 * release the key when the request fails (a failed request changed nothing).
 */
import { Elysia } from "elysia";
import type { Caller } from "../api/auth/service.ts";
import type { IdempotencyService } from "../api/idempotency/service.ts";
import { presentedKey } from "./auth.ts";
import { sessionCookie } from "../api/portal-sessions/cookie.ts";
import { onRequestFailure } from "./error-envelope.ts";

export function idempotencyPlugin(service: IdempotencyService) {
  const claimed = new WeakMap<Request, { scope: string; key: string; credential: string }>();
  return new Elysia({ name: "webhookd.idempotency" })
    .onBeforeHandle({ as: "global" }, async (ctx) => {
      const { request, headers, body, path } = ctx;
      const caller = (ctx as unknown as { caller: Caller | null }).caller;
      const key = headers["idempotency-key"];
      if (request.method !== "POST" || key === undefined || !caller) return;
      const scope = `${caller.principal.keyId}/${caller.orgId ?? "-"}`;
      // Authentication already accepted this key (or the portal session cookie), so one is present.
      const credential = (presentedKey(headers) ?? sessionCookie(headers))!;
      const start = await service.begin(scope, key, { method: request.method, path, body }, credential);
      if (start.kind === "replay") {
        return new Response(start.body, {
          status: start.status,
          headers: { "content-type": "application/json", "idempotent-replayed": "true" },
        });
      }
      claimed.set(request, { scope, key, credential });
      // Not an onError hook here: the envelope's handler answers first, and Elysia stops there.
      onRequestFailure(request, async () => {
        if (!claimed.delete(request)) return;
        // Done before the error is answered, so a retry finds the key free. Should this write fail
        // too, the key answers 409 IDEMPOTENCY_IN_PROGRESS until it expires (24 h).
        await service.release(scope, key).catch(() => {});
      });
    })
    .onAfterHandle({ as: "global" }, async ({ request, response, set }) => {
      const claim = claimed.get(request);
      if (!claim) return;
      claimed.delete(request);
      const status = typeof set.status === "number" ? set.status : 200;
      try {
        await service.complete(claim.scope, claim.key, status, JSON.stringify(response ?? null), claim.credential);
      } catch {
        // The work is done and committed; only its replay record failed. Free the key rather
        // than leave it "in progress" for 24 h, and still answer with the real response.
        await service.release(claim.scope, claim.key).catch(() => {});
      }
    });
}
