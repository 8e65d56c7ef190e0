/**
 * Domain errors. Services throw these; the HTTP layer maps them to the error envelope once
 * (src/http/error-envelope.ts). Nothing here knows about Elysia.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, readonly path?: string) {
    super("VALIDATION_ERROR", 400, message, path ? { path } : undefined);
  }
}

/** Refuses the NUL character in a text field: PostgreSQL cannot store it, so neither backend takes it. */
export function refuseNul(value: string | null | undefined, field: string): void {
  if (value?.includes("\u0000")) throw new ValidationError(`${field} must not contain the NUL character (U+0000).`, field);
}

export class BadRequestError extends AppError {
  constructor(code: string, message: string) {
    super(code, 400, message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = "A valid API key is required (X-API-Key or Authorization: Bearer).") {
    super("UNAUTHORIZED", 401, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super("FORBIDDEN", 403, message);
  }
}

export class NotFoundError extends AppError {
  constructor(what = "Resource") {
    super("NOT_FOUND", 404, `${what} not found.`);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(code, 409, message);
  }
}

/** No route serves this method and path. */
export class NoRouteError extends AppError {
  constructor(method: string, path: string) {
    super("NOT_FOUND", 404, `No route for ${method} ${path}.`);
  }
}

export class UnprocessableError extends AppError {
  constructor(code: string, message: string) {
    super(code, 422, message);
  }
}

/** A send asked of an endpoint that is disabled: disabling stops every send to it. */
export class EndpointDisabledError extends AppError {
  constructor(what: string) {
    super("ENDPOINT_DISABLED", 422, `The endpoint is disabled; enable it (isActive: true) to ${what}.`);
  }
}

export class EndpointDeletedError extends AppError {
  constructor() {
    super("ENDPOINT_DELETED", 422, "The endpoint was deleted: nothing more is sent to it. Its delivery log stays readable until retention removes it.");
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message: string) {
    super("PAYLOAD_TOO_LARGE", 413, message);
  }
}

export class RateLimitedError extends AppError {
  constructor(readonly retryAfterSeconds: number, what = "Rate limit") {
    super("RATE_LIMITED", 429, `${what} exceeded; retry after ${retryAfterSeconds}s.`);
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(code: string, message: string) {
    super(code, 503, message);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message = "Send the request body as JSON with Content-Type: application/json.") {
    super("UNSUPPORTED_MEDIA_TYPE", 415, message);
  }
}

/**
 * A portal link that cannot be used. Answered as an HTML page (the person holding the link is in
 * a browser), never as JSON and never with the token in it.
 */
export class PortalLinkError extends AppError {
  constructor(readonly reason: "unknown" | "used" | "expired") {
    super(
      "PORTAL_LINK_INVALID",
      reason === "unknown" ? 404 : 410,
      reason === "used"
        ? "This portal link was already used. Links work once: ask the application that sent you here for a new one."
        : reason === "expired"
          ? "This portal link has expired. Ask the application that sent you here for a new one."
          : "This portal link is not valid. Check that it was copied whole, or ask for a new one.",
    );
  }
}
