import { ServiceUnavailableError } from "../../lib/errors.ts";

/** SQLite errors that mean "the storage cannot take writes now", not "this write is wrong". */
const STORAGE_FAULT_CODES = /SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;
const STORAGE_FAULT_MESSAGES = /database or disk is full|database is locked|disk I\/O error/;

/** The 503 to answer for a storage fault, or null when `error` is something else. */
export function storageFault(error: unknown): ServiceUnavailableError | null {
  if (error instanceof ServiceUnavailableError) return error;
  const code = String((error as { code?: unknown } | null)?.code ?? "");
  const message = String((error as Error | null)?.message ?? error);
  if (!STORAGE_FAULT_CODES.test(code) && !STORAGE_FAULT_MESSAGES.test(message)) return null;
  return new ServiceUnavailableError(
    "STORAGE_UNAVAILABLE",
    `The database cannot take writes right now (${code || message}); nothing was stored. Retry shortly.`,
  );
}

