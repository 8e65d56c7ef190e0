/**
 * The whole product's schema. Times are unix milliseconds (integers): cheap to index and
 * compare; the API formats them as ISO-8601.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { AttemptTrigger, DeliveryStatus, DisabledReason } from "../port.ts";

export const orgs = sqliteTable("orgs", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** API keys, stored only as a SHA-256 hash. `orgId` null marks an admin key. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").references(() => orgs.id),
    name: text("name"),
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key (e.g. `sk_live_AbCd`), so people can tell keys apart. */
    keyPrefix: text("key_prefix").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash), index("api_keys_org").on(t.orgId)],
);

export const endpoints = sqliteTable(
  "endpoints",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    url: text("url").notNull(),
    description: text("description"),
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    disabledReason: text("disabled_reason").$type<DisabledReason>(),
    disabledAt: integer("disabled_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    failureCount: integer("failure_count").notNull().default(0),
    lastTriggeredAt: integer("last_triggered_at"),
    /** AES-256-GCM under the master key; never stored in plaintext. */
    secretEnc: text("secret_enc").notNull(),
    /** The secret replaced by a rotation with a grace period; it keeps signing until it expires. */
    previousSecretEnc: text("previous_secret_enc"),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** Deleted endpoints stay as tombstones so their delivery logs live out the retention window. */
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("endpoints_org").on(t.orgId, t.deletedAt)],
);

/** One published event. `body` is the exact JSON sent to every endpoint, on every attempt. */
export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    type: text("type").notNull(),
    body: text("body").notNull(),
    /** The publisher's own id or Idempotency-Key: the same one is never fanned out twice. */
    dedupeKey: text("dedupe_key"),
    isTest: integer("is_test", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("events_dedupe").on(t.orgId, t.dedupeKey),
    index("events_created").on(t.createdAt),
  ],
);

/**
 * One event for one endpoint. The truth the scheduler works from: a `pending` row with
 * `next_attempt_at` is due then; rows in flight when the process dies stay `pending` and are
 * due again at start (at-least-once). In a cluster a node holds the rows it works on by a lease
 * (`lease_owner` until `lease_expires_at`); one process on SQLite leaves them null.
 */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    eventId: text("event_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status").$type<DeliveryStatus>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    lastAttemptAt: integer("last_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastDurationMs: integer("last_duration_ms"),
    lastErrorCode: text("last_error_code"),
    lastErrorMessage: text("last_error_message"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
  },
  (t) => [
    // Pending rows in due order; the lease's expiry beside it lets a claim pass over rows another
    // node holds without reading them.
    index("deliveries_due")
      .on(t.nextAttemptAt, t.leaseExpiresAt)
      .where(sql`status = 'pending'`),
    // Each org's pending rows in due order: the scheduler finds the orgs with pending rows by
    // skipping from one org to the next, and pages one org's due rows without reading another's.
    index("deliveries_org_due")
      .on(t.orgId, t.nextAttemptAt, t.id)
      .where(sql`status = 'pending'`),
    // The delivery log lists newest first under any mix of its filters: each status, with or
    // without an event type, is one range of these, merged in id order (deliveries.ts, page).
    index("deliveries_endpoint_status").on(t.endpointId, t.status, t.id),
    index("deliveries_endpoint_event").on(t.endpointId, t.eventType, t.status, t.id),
    index("deliveries_event").on(t.eventId),
    index("deliveries_created").on(t.createdAt),
  ],
);

/** The delivery log: one row per HTTP attempt. */
export const attempts = sqliteTable(
  "attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    trigger: text("trigger").$type<AttemptTrigger>().notNull(),
    attemptNumber: integer("attempt_number").notNull(),
    url: text("url").notNull(),
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    responseHeaders: text("response_headers", { mode: "json" }).$type<Record<string, string>>(),
    responseBody: text("response_body"),
    // The request headers as sent (signatures included, never a secret); null for rows written
    // before they were kept (migration 0005) and for attempts that sent nothing.
    requestHeaders: text("request_headers", { mode: "json" }).$type<Record<string, string>>(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("attempts_delivery").on(t.deliveryId, t.id), index("attempts_created").on(t.createdAt)],
);

/** Idempotency-Key records: the first response to a POST, replayed for 24 h. */
export const idempotencyRecords = sqliteTable(
  "idempotency_records",
  {
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    state: text("state").$type<"in_progress" | "done">().notNull(),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index("idempotency_created").on(t.createdAt)],
);

/**
 * Portal sessions (issue 13). A backend asks for a single-use link; opening it turns the link
 * into a session cookie. Both secrets are stored only as SHA-256: `link_hash` until the link is
 * used (the conditional update that sets `used_at` is what makes it single-use across
 * processes), `session_hash` from then on.
 */
export const portalSessions = sqliteTable(
  "portal_sessions",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    readOnly: integer("read_only", { mode: "boolean" }).notNull(),
    linkHash: text("link_hash").notNull(),
    linkExpiresAt: integer("link_expires_at").notNull(),
    sessionHash: text("session_hash"),
    expiresAt: integer("expires_at").notNull(),
    returnUrl: text("return_url"),
    /** The API key that asked for the link (audit). */
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    usedAt: integer("used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    uniqueIndex("portal_sessions_link").on(t.linkHash),
    uniqueIndex("portal_sessions_session").on(t.sessionHash),
    index("portal_sessions_expires").on(t.expiresAt),
  ],
);
