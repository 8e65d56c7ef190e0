/**
 * Idempotency-Key on POST: the same key with the same request within 24 h gets the first
 * response again; another request under the same key is refused; a concurrent duplicate is a 409.
 *
 * Stored responses hold what is shown once (signing secrets, API keys), so they are sealed
 * under a key derived from the caller's own API key: the database holds only that key's hash,
 * so a copy of the database (even with the master key) cannot read them back.
 */
import { createHash, hkdfSync } from "node:crypto";
import { createSecretBox, type SecretBox } from "../../security/secret-box.ts";
import type { Clock } from "../../lib/clock.ts";
import { ConflictError, UnprocessableError, ValidationError } from "../../lib/errors.ts";
import type { IdempotencyRepo, IdempotencyRow, StoreWrite } from "../../store/port.ts";

export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** An Idempotency-Key: 1 to 255 visible ASCII characters (documented in /docs/json from these). */
export const MAX_KEY_LENGTH = 255;
export const KEY_CHARACTERS = /^[\x21-\x7e]+$/;

export type IdempotencyStart = { kind: "fresh" } | { kind: "replay"; status: number; body: string };

/** The box for one record: only a caller presenting the same API key can open it. */
function boxFor(credential: string, scope: string, key: string): SecretBox {
  const derived = hkdfSync("sha256", credential, scope, `webhookd idempotency response\n${key}`, 32);
  return createSecretBox(Buffer.from(derived));
}

export const idempotencyKeyReused = () =>
  new UnprocessableError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used with a different request.");

export function createIdempotencyService(clock: Clock, write: StoreWrite) {
  /** Claims the key in one write, freeing an expired record first; null when claimed, else the record that holds it. */
  async function claim(repo: IdempotencyRepo, scope: string, key: string, hash: string, now: number): Promise<IdempotencyRow | null> {
    for (;;) {
      if (await repo.claim(scope, key, hash, now)) return null;
      const existing = await repo.get(scope, key);
      if (!existing) continue; // released between the two statements: claim again
      if (existing.createdAt >= now - IDEMPOTENCY_TTL_MS) return existing;
      await repo.release(scope, key);
    }
  }

  return {
    /** `credential` is the API key the caller presented; it seals and opens the stored response. */
    async begin(scope: string, key: string, request: { method: string; path: string; body: unknown }, credential: string): Promise<IdempotencyStart> {
      if (key.length > MAX_KEY_LENGTH || !KEY_CHARACTERS.test(key)) {
        throw new ValidationError(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters.`, "Idempotency-Key");
      }
      const hash = createHash("sha256")
        .update(`${request.method} ${request.path}\n${JSON.stringify(request.body ?? null)}`)
        .digest("hex");
      const now = clock();
      const existing = await write((tx) => claim(tx.idempotency, scope, key, hash, now));
      if (!existing) return { kind: "fresh" };
      if (existing.requestHash !== hash) throw idempotencyKeyReused();
      if (existing.state === "in_progress") {
        throw new ConflictError("IDEMPOTENCY_IN_PROGRESS", "A request with this Idempotency-Key is still being processed; retry shortly.");
      }
      let body: string;
      try {
        body = boxFor(credential, scope, key).open(existing.responseBody ?? "");
      } catch {
        throw idempotencyKeyReused(); // sealed for another credential (e.g. WEBHOOKD_ADMIN_KEY changed since)
      }
      return { kind: "replay", status: existing.responseStatus ?? 200, body };
    },
    async complete(scope: string, key: string, status: number, body: string, credential: string): Promise<void> {
      const sealed = boxFor(credential, scope, key).seal(body);
      await write((tx) => tx.idempotency.complete(scope, key, status, sealed));
    },
    /** A failed request changed nothing, so its key is free to be tried again. */
    release: (scope: string, key: string): Promise<void> => write((tx) => tx.idempotency.release(scope, key)),
    /** Expired records; a power cut losing this delete only means the next sweep does it again. */
    sweep: (now = clock()): Promise<number> => write((tx) => tx.idempotency.deleteOlderThan(now - IDEMPOTENCY_TTL_MS), "relaxed"),
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
