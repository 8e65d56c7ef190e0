/**
 * Idempotency-Key on POST: the same key with the same request within 24 h gets the first
 * response again; another request under the same key is refused; a concurrent duplicate is a 409.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import { ConflictError, UnprocessableError, ValidationError } from "../../lib/errors.ts";
import type { IdempotencyRepo } from "../../store/repositories/idempotency.ts";

export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
const MAX_KEY_LENGTH = 255;

export type IdempotencyStart = { kind: "fresh" } | { kind: "replay"; status: number; body: string };

export function createIdempotencyService(repo: IdempotencyRepo, clock: Clock) {
  return {
    begin(scope: string, key: string, request: { method: string; path: string; body: unknown }): IdempotencyStart {
      if (key.length === 0 || key.length > MAX_KEY_LENGTH || /[^\x21-\x7e]/.test(key)) {
        throw new ValidationError(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters.`, "Idempotency-Key");
      }
      const hash = createHash("sha256")
        .update(`${request.method} ${request.path}\n${JSON.stringify(request.body ?? null)}`)
        .digest("hex");
      const now = clock();
      for (;;) {
        if (repo.claim(scope, key, hash, now)) return { kind: "fresh" };
        const existing = repo.get(scope, key);
        if (!existing) continue; // released between the two statements: claim again
        if (existing.createdAt < now - IDEMPOTENCY_TTL_MS) {
          repo.release(scope, key);
          continue;
        }
        if (existing.requestHash !== hash) {
          throw new UnprocessableError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used with a different request.");
        }
        if (existing.state === "in_progress") {
          throw new ConflictError("IDEMPOTENCY_IN_PROGRESS", "A request with this Idempotency-Key is still being processed; retry shortly.");
        }
        return { kind: "replay", status: existing.responseStatus ?? 200, body: existing.responseBody ?? "" };
      }
    },
    complete(scope: string, key: string, status: number, body: string): void {
      repo.complete(scope, key, status, body);
    },
    /** A failed request changed nothing, so its key is free to be tried again. */
    release(scope: string, key: string): void {
      repo.release(scope, key);
    },
    sweep: (now = clock()) => repo.deleteOlderThan(now - IDEMPOTENCY_TTL_MS),
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
