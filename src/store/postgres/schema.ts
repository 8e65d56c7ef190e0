/**
 * The same tables as src/store/schema.ts (SQLite), in PostgreSQL's types: times are unix
 * milliseconds in `bigint`, flags `boolean`, lists `jsonb`; an event's `body` stays `text`, the
 * exact bytes every attempt sends. test/unit/schema-parity.test.ts keeps the two in step.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import type { AttemptTrigger, DeliveryStatus, DisabledReason } from "../port.ts";

const ms = (name: string) => bigint(name, { mode: "number" });

export const orgs = pgTable("orgs", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: ms("created_at").notNull(),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").references(() => orgs.id),
    name: text("name"),
    keyHash: text("key_hash").notNull(),
    keyPrefix: text("key_prefix").notNull(),
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash), index("api_keys_org").on(t.orgId)],
);

export const endpoints = pgTable(
  "endpoints",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    url: text("url").notNull(),
    description: text("description"),
    events: jsonb("events").$type<string[]>().notNull(),
    enabled: boolean("enabled").notNull(),
    disabledReason: text("disabled_reason").$type<DisabledReason>(),
    disabledAt: ms("disabled_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    failureCount: integer("failure_count").notNull().default(0),
    lastTriggeredAt: ms("last_triggered_at"),
    secretEnc: text("secret_enc").notNull(),
    previousSecretEnc: text("previous_secret_enc"),
    previousSecretExpiresAt: ms("previous_secret_expires_at"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    deletedAt: ms("deleted_at"),
  },
  (t) => [index("endpoints_org").on(t.orgId, t.deletedAt)],
);

export const events = pgTable(
  "events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    type: text("type").notNull(),
    body: text("body").notNull(),
    dedupeKey: text("dedupe_key"),
    isTest: boolean("is_test").notNull().default(false),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [uniqueIndex("events_dedupe").on(t.orgId, t.dedupeKey), index("events_created").on(t.createdAt)],
);

export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    eventId: text("event_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status").$type<DeliveryStatus>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at"),
    lastAttemptAt: ms("last_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastDurationMs: integer("last_duration_ms"),
    lastErrorCode: text("last_error_code"),
    lastErrorMessage: text("last_error_message"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: ms("lease_expires_at"),
  },
  (t) => [
    // The claim's index: pending rows in due order, the lease's expiry filtered in the index.
    index("deliveries_due")
      .on(t.nextAttemptAt, t.leaseExpiresAt)
      .where(sql`status = 'pending'`),
    index("deliveries_org_due")
      .on(t.orgId, t.nextAttemptAt, t.id)
      .where(sql`status = 'pending'`),
    index("deliveries_endpoint_status").on(t.endpointId, t.status, t.id),
    index("deliveries_endpoint_event").on(t.endpointId, t.eventType, t.status, t.id),
    index("deliveries_event").on(t.eventId),
    index("deliveries_created").on(t.createdAt),
  ],
);

export const attempts = pgTable(
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
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    responseBody: text("response_body"),
    // The request headers as sent (signatures included, never a secret); null for rows written
    // before they were kept (migration 0004) and for attempts that sent nothing.
    requestHeaders: jsonb("request_headers").$type<Record<string, string>>(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("attempts_delivery").on(t.deliveryId, t.id), index("attempts_created").on(t.createdAt)],
);

export const idempotencyRecords = pgTable(
  "idempotency_records",
  {
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    state: text("state").$type<"in_progress" | "done">().notNull(),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index("idempotency_created").on(t.createdAt)],
);

export const portalSessions = pgTable(
  "portal_sessions",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    readOnly: boolean("read_only").notNull(),
    linkHash: text("link_hash").notNull(),
    linkExpiresAt: ms("link_expires_at").notNull(),
    sessionHash: text("session_hash"),
    expiresAt: ms("expires_at").notNull(),
    returnUrl: text("return_url"),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
    usedAt: ms("used_at"),
    revokedAt: ms("revoked_at"),
  },
  (t) => [
    uniqueIndex("portal_sessions_link").on(t.linkHash),
    uniqueIndex("portal_sessions_session").on(t.sessionHash),
    index("portal_sessions_expires").on(t.expiresAt),
  ],
);
