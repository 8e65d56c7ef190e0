/**
 * The one place errors become responses: `{success: false, error: {code, message}}` for domain
 * errors, Elysia's validation/parse/not-found errors, and anything unexpected (a 500 is a bug,
 * logged with its stack).
 */
import { Elysia } from "elysia";
import { AppError, RateLimitedError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";

interface ElysiaValidationIssue {
  path?: string;
  summary?: string;
  message?: string;
}

/** `/events/0/data` -> `events[0].data` */
export function pointerToPath(pointer: string): string {
  return pointer
    .split("/")
    .filter(Boolean)
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join("");
}

function validationBody(error: unknown): { message: string; path?: string } {
  const all = (error as { all?: ElysiaValidationIssue[] }).all;
  const where = (error as { type?: string }).type;
  const first = Array.isArray(all) ? all[0] : undefined;
  const path = first?.path ? pointerToPath(first.path) : undefined;
  const what = first?.summary ?? first?.message ?? "invalid value";
  const label = path ?? (where === "body" ? "body" : where ?? "request");
  return { message: `${label}: ${what}`, ...(path ? { path } : {}) };
}

function envelope(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { success: false as const, error: { code, message, ...extra } };
}

export function errorEnvelope(logger: Logger) {
  return new Elysia({ name: "webhookd.error-envelope" }).onError({ as: "global" }, ({ code, error, set, request }) => {
    // Elysia wraps what a parser throws in its own ParseError; the domain error is the cause.
    const cause = (error as { cause?: unknown } | null)?.cause;
    const domain = error instanceof AppError ? error : cause instanceof AppError ? cause : null;
    if (domain) {
      set.status = domain.status;
      if (domain instanceof RateLimitedError) set.headers["retry-after"] = String(domain.retryAfterSeconds);
      return envelope(domain.code, domain.message, domain.details);
    }
    switch (code) {
      case "VALIDATION": {
        set.status = 400;
        const { message, path } = validationBody(error);
        return envelope("VALIDATION_ERROR", message, path ? { path } : {});
      }
      case "PARSE":
        set.status = 400;
        return envelope("VALIDATION_ERROR", "The request body could not be parsed.");
      case "NOT_FOUND":
        set.status = 404;
        return envelope("NOT_FOUND", `No route for ${request.method} ${new URL(request.url).pathname}.`);
      default:
        set.status = 500;
        logger.error("unhandled error", {
          method: request.method,
          path: new URL(request.url).pathname,
          error: error instanceof Error ? error.stack : String(error),
        });
        return envelope("INTERNAL_ERROR", "Something went wrong on our side; it has been logged.");
    }
  });
}
