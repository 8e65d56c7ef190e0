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

export function envelope<T extends TSchema>(data: T) {
  return t.Object({ success: t.Literal(true), data });
}

/** The `{success: true, data}` body: a superset of seeds 000, 002 and 004's shapes. */
export function ok<T>(data: T): { success: true; data: T } {
  return { success: true, data };
}

/** Error responses documented on every authenticated route. */
export const commonErrors = {
  400: ErrorEnvelope,
  401: ErrorEnvelope,
  403: ErrorEnvelope,
  404: ErrorEnvelope,
  413: ErrorEnvelope,
  415: ErrorEnvelope,
  422: ErrorEnvelope,
  429: ErrorEnvelope,
  503: ErrorEnvelope,
} as const;

/** The same, for the /v1/ dialects. */
export const dialectErrors = Object.fromEntries(Object.keys(commonErrors).map((status) => [status, DialectError])) as {
  [S in keyof typeof commonErrors]: typeof DialectError;
};

export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export const IsoDate = t.String({ format: "date-time", examples: ["2025-01-15T10:30:00.000Z"] });
export const NullableIsoDate = t.Union([IsoDate, t.Null()]);
