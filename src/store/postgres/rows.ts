/**
 * Rows as PostgreSQL returns them (snake_case, int8 as a string, jsonb parsed) into the port's
 * domain rows (camelCase, times as numbers). Every read goes through one of these, so a field
 * never reaches a service in the driver's shape.
 */
import type { ApiKeyRow, AttemptRow, DeliveryRow, EndpointRow, EventRow, IdempotencyRow, OrgRow, PortalSessionRow } from "../port.ts";

// Bun.SQL returns rows as plain objects keyed by column name.
type Raw = Record<string, any>;

/** int8 comes back as a string; times in ms stay well inside a double's exact integers. */
export const ms = (v: string | number): number => Number(v);
export const msOrNull = (v: string | number | null): number | null => (v === null ? null : Number(v));

export function toOrg(r: Raw): OrgRow {
  return { id: r.id, name: r.name, createdAt: ms(r.created_at) };
}

export function toApiKey(r: Raw): ApiKeyRow {
  return {
    id: r.id,
    orgId: r.org_id,
    name: r.name,
    keyHash: r.key_hash,
    keyPrefix: r.key_prefix,
    scopes: r.scopes,
    createdAt: ms(r.created_at),
    revokedAt: msOrNull(r.revoked_at),
  };
}

export function toEndpoint(r: Raw): EndpointRow {
  return {
    id: r.id,
    orgId: r.org_id,
    url: r.url,
    description: r.description,
    events: r.events,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    disabledAt: msOrNull(r.disabled_at),
    consecutiveFailures: r.consecutive_failures,
    failureCount: r.failure_count,
    lastTriggeredAt: msOrNull(r.last_triggered_at),
    secretEnc: r.secret_enc,
    previousSecretEnc: r.previous_secret_enc,
    previousSecretExpiresAt: msOrNull(r.previous_secret_expires_at),
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
    deletedAt: msOrNull(r.deleted_at),
  };
}

export function toEvent(r: Raw): EventRow {
  return {
    id: r.id,
    orgId: r.org_id,
    type: r.type,
    body: r.body,
    dedupeKey: r.dedupe_key,
    isTest: r.is_test,
    createdAt: ms(r.created_at),
  };
}

export function toDelivery(r: Raw): DeliveryRow {
  return {
    id: r.id,
    orgId: r.org_id,
    eventId: r.event_id,
    endpointId: r.endpoint_id,
    eventType: r.event_type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: msOrNull(r.next_attempt_at),
    lastAttemptAt: msOrNull(r.last_attempt_at),
    lastStatusCode: r.last_status_code,
    lastDurationMs: r.last_duration_ms,
    lastErrorCode: r.last_error_code,
    lastErrorMessage: r.last_error_message,
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: msOrNull(r.lease_expires_at),
  };
}

export function toAttempt(r: Raw): AttemptRow {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    endpointId: r.endpoint_id,
    trigger: r.trigger,
    attemptNumber: r.attempt_number,
    url: r.url,
    statusCode: r.status_code,
    durationMs: r.duration_ms,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    responseHeaders: r.response_headers,
    responseBody: r.response_body,
    requestHeaders: r.request_headers,
    createdAt: ms(r.created_at),
  };
}

export function toPortalSession(r: Raw): PortalSessionRow {
  return {
    id: r.id,
    orgId: r.org_id,
    readOnly: r.read_only,
    linkHash: r.link_hash,
    linkExpiresAt: ms(r.link_expires_at),
    sessionHash: r.session_hash,
    expiresAt: ms(r.expires_at),
    returnUrl: r.return_url,
    createdBy: r.created_by,
    createdAt: ms(r.created_at),
    usedAt: r.used_at === null ? null : ms(r.used_at),
    revokedAt: r.revoked_at === null ? null : ms(r.revoked_at),
  };
}

export function toIdempotency(r: Raw): IdempotencyRow {
  return {
    scope: r.scope,
    key: r.key,
    requestHash: r.request_hash,
    state: r.state,
    responseStatus: r.response_status,
    responseBody: r.response_body,
    createdAt: ms(r.created_at),
  };
}

/** jsonb goes in as text cast by the query (`::text::jsonb`): a string parameter typed jsonb would be stored as a JSON string. */
export const jsonText = (v: unknown): string | null => (v === null ? null : JSON.stringify(v));
