/**
 * The one place errors become responses: `{success: false, error: {code, message}}` for domain
 * errors, Elysia's validation/parse/not-found errors, and anything unexpected (a 500 is a bug,
 * logged with its stack).
 */
import { Elysia } from "elysia";
import { AppError, NoRouteError, RateLimitedError } from "../lib/errors.ts";
import { DIALECT_PREFIX } from "../api/common.ts";
import { requestPath } from "./request-path.ts";
import type { Logger } from "../lib/logger.ts";

interface ElysiaValidationIssue {
  path?: string;
  summary?: string;
  message?: string;
  value?: unknown;
  /** For a union: one iterable of issues per branch. */
  errors?: Iterable<ElysiaValidationIssue>[];
  schema?: { type?: string; const?: unknown; format?: string };
}

function jsonTypeMatches(type: string | undefined, value: unknown): boolean {
  if (type === "integer" || type === "number") return typeof value === "number";
  if (type === "null") return value === null;
  if (type === "array") return Array.isArray(value);
  if (type === "object") return typeof value === "object" && value !== null && !Array.isArray(value);
  return type !== undefined && typeof value === type;
}

/**
 * TypeBox reports a failed union as "should be one of: 'string', 'string'", which says nothing
 * (Elysia's numeric coercion turns every integer field into such a union). Say what was wrong:
 * the allowed literals, or the failure of the branch of the value's own type.
 */
function unionMessage(issue: ElysiaValidationIssue): string | undefined {
  if (!Array.isArray(issue.errors)) return undefined;
  const branches = issue.errors
    .map((branch) => [...branch][0])
    .filter((b): b is ElysiaValidationIssue => !!b && !(b.schema?.type === "string" && (b.schema.format === "integer" || b.schema.format === "numeric")));
  if (branches.length === 0) return undefined;
  if (branches.every((b) => b.schema?.const !== undefined)) {
    return `Expected one of ${branches.map((b) => JSON.stringify(b.schema!.const)).join(", ")}`;
  }
  const own = branches.find((b) => jsonTypeMatches(b.schema?.type, issue.value));
  if (own?.message) return own.message;
  return `Expected ${[...new Set(branches.map((b) => b.schema?.type ?? "another value"))].join(" or ")}`;
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
  const what = (first && unionMessage(first)) ?? first?.summary ?? first?.message ?? "invalid value";
  // Elysia reports a failing query parameter as type "property" with no path of its own.
  const label = path ?? (where === "property" ? "query" : where ?? "request");
  return { message: `${label}: ${what}`, ...(path ? { path } : {}) };
}

type Undo = () => void | Promise<void>;
const failureHooks = new WeakMap<Request, Undo[]>();

/**
 * Runs `undo` if this request ends in an error, and waits for it before the error response is
 * sent: a client that retries on the answer finds the cleanup done (on PostgreSQL the retry may
 * reach another connection or node at once). For plugins that must clean up after a failed
 * request: Elysia stops at the first onError hook that answers, which is this module's.
 */
export function onRequestFailure(request: Request, undo: Undo): void {
  const hooks = failureHooks.get(request);
  if (hooks) hooks.push(undo);
  else failureHooks.set(request, [undo]);
}

async function runFailureHooks(request: Request, logger: Logger): Promise<void> {
  const hooks = failureHooks.get(request);
  if (!hooks) return;
  failureHooks.delete(request);
  for (const undo of hooks) {
    try {
      await undo();
    } catch (err) {
      logger.error("cleanup after a failed request failed", { error: err instanceof Error ? err.stack : String(err) });
    }
  }
}

/** `{success: false, error}`, or on the /v1/ dialects seed 004's `{error}`. */
function envelope(pathname: string, code: string, message: string, extra: Record<string, unknown> = {}) {
  const error = { code, message, ...extra };
  return pathname.startsWith(DIALECT_PREFIX) ? { error } : { success: false as const, error };
}

/**
 * `methodsOn(pathname)`: the methods the app has routes for on a path; a request that found no
 * route but names such a path gets 405 with `Allow` rather than 404.
 */
export function errorEnvelope(logger: Logger, methodsOn: (pathname: string) => string[] = () => []) {
  return new Elysia({ name: "webhookd.error-envelope" }).onError({ as: "global" }, async ({ code, error, set, request }) => {
    await runFailureHooks(request, logger);
    const pathname = requestPath(request.url);
    // Elysia wraps what a parser throws in its own ParseError; the domain error is the cause.
    const cause = (error as { cause?: unknown } | null)?.cause;
    const domain = error instanceof AppError ? error : cause instanceof AppError ? cause : null;
    if (domain) {
      set.status = domain.status;
      if (domain instanceof RateLimitedError) set.headers["retry-after"] = String(domain.retryAfterSeconds);
      return envelope(pathname, domain.code, domain.message, domain.details);
    }
    switch (code) {
      case "VALIDATION": {
        set.status = 400;
        const { message, path } = validationBody(error);
        return envelope(pathname, "VALIDATION_ERROR", message, path ? { path } : {});
      }
      case "PARSE":
        set.status = 400;
        return envelope(pathname, "VALIDATION_ERROR", "The request body could not be parsed.");
      case "NOT_FOUND": {
        const allowed = methodsOn(pathname);
        if (allowed.length > 0 && !allowed.includes(request.method)) {
          set.status = 405;
          set.headers.allow = allowed.join(", ");
          return envelope(pathname, "METHOD_NOT_ALLOWED", `${pathname} does not take ${request.method}; it takes ${allowed.join(", ")}.`);
        }
        const none = new NoRouteError(request.method, pathname);
        set.status = none.status;
        return envelope(pathname, none.code, none.message);
      }
      default:
        set.status = 500;
        logger.error("unhandled error", {
          method: request.method,
          path: pathname,
          error: error instanceof Error ? error.stack : String(error),
        });
        return envelope(pathname, "INTERNAL_ERROR", "Something went wrong on our side; it has been logged.");
    }
  });
}
