/** Pieces every resource's routes share: the envelope, error schemas, time formatting. */
import { t, type TSchema } from "elysia";

export const ErrorEnvelope = t.Object(
  {
    success: t.Literal(false),
    error: t.Object({
      code: t.String({ examples: ["VALIDATION_ERROR"] }),
      message: t.String(),
      path: t.Optional(t.String()),
    }),
  },
  { description: "Every error, on every route" },
);

/**
 * The API dialects of seeds 003 (`/v1/webhook_endpoints`) and 004 (`/v1/backend/webhooks`) live
 * under this prefix. Their errors are `{error: {code, message}}`, seed 004's shape, without `success`.
 */
export const DIALECT_PREFIX = "/v1/";

/** The dialects' sections in /docs, described there. */
export const DIALECT_TAGS = [
  {
    name: "seed 003: /v1/webhook_endpoints",
    description: "Seed 003's dialect: snake_case fields, the endpoint object itself as the body; errors are {error: {code, message}}",
  },
  { name: "seed 004: /v1/backend/webhooks", description: "Seed 004's dialect: {data: ...}, event_types, enabled; errors are {error: {code, message}}" },
] as const;

export const DialectError = t.Object(
  {
    error: t.Object({
      code: t.String({ examples: ["VALIDATION_ERROR"] }),
      message: t.String(),
      path: t.Optional(t.String()),
    }),
  },
  { description: "Every error on the /v1/ dialects" },
);

/** Ids and names in responses, with examples so /docs shows real-looking values, not "string". */
export const Id = {
  org: t.String({ examples: ["org_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  key: t.String({ examples: ["key_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  endpoint: t.String({ examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  event: t.String({ examples: ["evt_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  delivery: t.String({ examples: ["dlv_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  attempt: t.String({ examples: ["att_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
};
export const EventName = t.String({ examples: ["call.ended"] });
/** An event body as sent: the exact bytes every attempt carries. */
export const SentPayload = t.String({
  description: "The exact body sent",
  examples: ['{"event":"call.ended","timestamp":"2025-01-15T10:30:00.000Z","data":{"id":"call_abc123","status":"ended","duration":45}}'],
});

export function envelope<T extends TSchema>(data: T) {
  return t.Object({ success: t.Literal(true), data });
}

/** The `{success: true, data}` body: a superset of seeds 000, 002 and 004's shapes. */
export function ok<T>(data: T): { success: true; data: T } {
  return { success: true, data };
}

/**
 * Every error code the API answers with: its status, when, and a typical message. /docs lists
 * them per route, and the README's error table is written from here (scripts/readme-tables.ts).
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: { status: 400, when: "a field is wrong (the message and `path` name it), malformed JSON, invalid UTF-8", message: "The request body is not valid JSON." },
  URL_NOT_ALLOWED: {
    status: 400,
    when: "the endpoint URL is, or resolves to, a non-public address, or names a port outside `WEBHOOKD_ALLOWED_PORTS`",
    message: "url is not allowed: 10.0.0.1 is a private address.",
  },
  URL_PROBE_FAILED: { status: 400, when: "the probe POST got no 2xx within 10 s (the message says what happened)", message: "The probe could not reach the URL: connection refused." },
  UNAUTHORIZED: { status: 401, when: "no key, an unknown key, a revoked key", message: "A valid API key is required (X-API-Key or Authorization: Bearer)." },
  FORBIDDEN: {
    status: 403,
    when: "the key lacks the route's scope (the message names it), or the route needs the admin key (or the admin key names no org with X-Org-Id)",
    message: 'This API key lacks the required scope "webhooks:write".',
  },
  NOT_FOUND: { status: 404, when: "no such resource in your org (or no such org in X-Org-Id), or no such route", message: "Webhook endpoint not found." },
  METHOD_NOT_ALLOWED: {
    status: 405,
    when: "the path exists but not with this method; `Allow` lists the ones it takes",
    message: "/api/v1/webhooks does not take PUT; it takes GET, POST.",
  },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, when: "the same Idempotency-Key is still being processed", message: "A request with this Idempotency-Key is still being processed; retry shortly." },
  ADMIN_KEY_CONFIGURED: {
    status: 409,
    when: "an admin key rotation while `WEBHOOKD_ADMIN_KEY` sets the admin key",
    message: "The admin key is set by WEBHOOKD_ADMIN_KEY: change the variable and restart to rotate it.",
  },
  RECOVER_IN_PROGRESS: {
    status: 409,
    when: "a recover of this endpoint is still running; call again once it has finished",
    message: "A recover of this endpoint is still running; try again once it has finished.",
  },
  PAYLOAD_TOO_LARGE: { status: 413, when: "the body or an event's `data` is over the limit", message: "The request body is larger than 327680 bytes." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, when: "a body that is not `application/json`", message: "Send the request body as JSON with Content-Type: application/json." },
  MAX_ENDPOINTS: { status: 422, when: "the org already has the maximum number of endpoints", message: "Maximum 5 webhook endpoints per organization." },
  IDEMPOTENCY_KEY_REUSED: { status: 422, when: "an Idempotency-Key reused with a different request", message: "This Idempotency-Key was already used with a different request." },
  ENDPOINT_DELETED: {
    status: 422,
    when: "a replay, recover or test send on a deleted endpoint (its log stays readable until retention)",
    message: "The endpoint was deleted: nothing more is sent to it. Its delivery log stays readable until retention removes it.",
  },
  ENDPOINT_DISABLED: {
    status: 422,
    when: "a replay, recover or test send to a disabled endpoint, or one it was disabled before sending",
    message: "The endpoint is disabled; enable it (isActive: true) to send it a test.",
  },
  RATE_LIMITED: {
    status: 429,
    when: "over the per-key rate (`Retry-After`, `RateLimit-*` headers), or over the org's publish rate (`Retry-After`)",
    message: "Rate limit exceeded; retry after 1s.",
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    when: "the database cannot take writes (disk full, locked); nothing was stored",
    message: "The database cannot take writes right now (SQLITE_FULL); nothing was stored. Retry shortly.",
  },
  NOT_READY: { status: 503, when: "`GET /readyz`: the database does not take writes", message: "The database is not writable: disk I/O error" },
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** What any route that needs a key may answer. */
export const AUTH_ERRORS = ["UNAUTHORIZED", "FORBIDDEN", "RATE_LIMITED"] as const satisfies ErrorCode[];
/** What a route that reads a JSON body may answer. */
export const BODY_ERRORS = ["VALIDATION_ERROR", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"] as const satisfies ErrorCode[];
/** What every POST may answer: its Idempotency-Key is malformed, in use, or was used for another request. */
export const POST_ERRORS = ["VALIDATION_ERROR", "IDEMPOTENCY_IN_PROGRESS", "IDEMPOTENCY_KEY_REUSED"] as const satisfies ErrorCode[];

/** What a route acting in an org may answer: NOT_FOUND for its ids, or the org the admin key names in X-Org-Id. */
export const ORG_READ_ERRORS: ErrorCode[] = ["NOT_FOUND", ...AUTH_ERRORS];
export const ORG_WRITE_ERRORS: ErrorCode[] = [...ORG_READ_ERRORS, "STORAGE_UNAVAILABLE"];
/** A POST with a JSON body, in an org. */
export const ORG_POST_ERRORS: ErrorCode[] = [...BODY_ERRORS, ...POST_ERRORS, ...ORG_WRITE_ERRORS];

/** One response schema per status the codes use, its description listing them, its example the first. */
function errorResponses(shape: typeof ErrorEnvelope | typeof DialectError, codes: readonly ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const dialect = !("success" in shape.properties);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => {
      const { message } = ERROR_CODES[list[0]!];
      const example = { error: { code: list[0], message } };
      return [
        status,
        t.Object(shape.properties, {
          description: list.map((code) => `\`${code}\`: ${ERROR_CODES[code].when}`).join("; "),
          examples: [dialect ? example : { success: false, ...example }],
        }),
      ];
    }),
  ) as Record<number, typeof shape>;
}

/** The error responses of a route under /api, for the codes it can answer with. */
export const errors = (...codes: ErrorCode[]) => errorResponses(ErrorEnvelope, codes);
/** The same on the /v1/ dialects. */
export const dialectErrors = (...codes: ErrorCode[]) => errorResponses(DialectError, codes);

export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export const IsoDate = t.String({ format: "date-time", examples: ["2025-01-15T10:30:00.000Z"] });
export const NullableIsoDate = t.Union([IsoDate, t.Null()]);
