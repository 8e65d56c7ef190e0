/**
 * Which PostgreSQL failures mean "the database cannot take writes now" (the 503
 * STORAGE_UNAVAILABLE the API answers, retried by clients) rather than "this write is wrong"
 * (passed through as it is).
 */
import { ServiceUnavailableError, ValidationError } from "../../lib/errors.ts";

/** Bun.SQL's own codes for a connection that could not be made or was lost. */
const CONNECTION_CODES = new Set([
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_CLOSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_CONNECTION_FAILED",
  "ERR_POSTGRES_IDLE_TIMEOUT",
  "ERR_POSTGRES_LIFETIME_TIMEOUT",
]);

/**
 * SQLSTATEs: 08 connection exceptions, 53 insufficient resources (disk full, out of memory, too
 * many connections), 57P01-57P04 shutdown / cannot connect now / database dropped, 57014 a
 * statement cancelled by a timeout, 55P03 a lock waited out, 58 system (I/O) errors, 25006 a
 * read-only server (a standby, or a primary demoted under us).
 */
const FAULT_STATES = /^(08|53|58|57P0[1-4]$|57014$|55P03$|25006$)/;

/** The 503 to answer for a storage fault, or null when `error` is something else. */
export function storageFault(error: unknown): ServiceUnavailableError | null {
  if (error instanceof ServiceUnavailableError) return error;
  const e = error as { code?: unknown; errno?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const state = typeof e?.errno === "string" ? e.errno : "";
  if (!CONNECTION_CODES.has(code) && !FAULT_STATES.test(state)) return null;
  return new ServiceUnavailableError(
    "STORAGE_UNAVAILABLE",
    `The database cannot take writes right now (${state || code}: ${String(e?.message ?? error)}). Retry shortly.`,
  );
}

/**
 * A value PostgreSQL cannot store in a text column (the NUL character, U+0000, or bytes that are
 * not UTF-8): the request's fault, so a 400 and not a 500. SQLite stores such text as it is.
 */
export function unstorableText(error: unknown): ValidationError | null {
  const state = (error as { errno?: unknown } | null)?.errno;
  if (state !== "22021" && state !== "22P05") return null;
  return new ValidationError("A text value holds the NUL character (U+0000) or bytes that are not UTF-8, which cannot be stored.");
}

/** Storage faults become the 503, unstorable text the 400; any other error stays as it is. */
export function asStorageFault(error: unknown): unknown {
  return storageFault(error) ?? unstorableText(error) ?? error;
}

/** A deadlock or serialization failure: PostgreSQL rolled the whole transaction back, so running it again is safe. */
export function isRetryable(error: unknown): boolean {
  const state = (error as { errno?: unknown } | null)?.errno;
  return state === "40P01" || state === "40001";
}
