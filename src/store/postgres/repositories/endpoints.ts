import type { SQL } from "bun";
import type { AutoDisableReason, EndpointPatch, EndpointRow, EndpointsReads, EndpointsRepo } from "../../port.ts";
import type { TxChanges } from "../changes.ts";
import { jsonText, toEndpoint } from "../rows.ts";

/** Each patchable field's column, and the cast its parameter needs. Typed over every key, so a new field cannot be missed. */
const PATCH_COLUMNS: Record<keyof EndpointPatch, string> = {
  url: "url",
  description: "description",
  events: "events",
  enabled: "enabled",
  disabledReason: "disabled_reason",
  disabledAt: "disabled_at",
  consecutiveFailures: "consecutive_failures",
  failureCount: "failure_count",
  lastTriggeredAt: "last_triggered_at",
  secretEnc: "secret_enc",
  previousSecretEnc: "previous_secret_enc",
  previousSecretExpiresAt: "previous_secret_expires_at",
  updatedAt: "updated_at",
  deletedAt: "deleted_at",
};

export function pgEndpointsReads(db: SQL): EndpointsReads {
  return {
    async sampleSealedSecret(): Promise<string | undefined> {
      const [row] = await db`SELECT secret_enc FROM endpoints LIMIT 1`;
      return row?.secret_enc;
    },

    async get(orgId: string, id: string): Promise<EndpointRow | undefined> {
      const [row] = await db`SELECT * FROM endpoints WHERE id = ${id} AND org_id = ${orgId} AND deleted_at IS NULL`;
      return row && toEndpoint(row);
    },

    async getWithDeleted(orgId: string, id: string): Promise<EndpointRow | undefined> {
      const [row] = await db`SELECT * FROM endpoints WHERE id = ${id} AND org_id = ${orgId}`;
      return row && toEndpoint(row);
    },

    async getById(id: string): Promise<EndpointRow | undefined> {
      const [row] = await db`SELECT * FROM endpoints WHERE id = ${id}`;
      return row && toEndpoint(row);
    },

    async list(orgId: string): Promise<EndpointRow[]> {
      return (await db`SELECT * FROM endpoints WHERE org_id = ${orgId} AND deleted_at IS NULL ORDER BY id`).map(toEndpoint);
    },

    async listDeleted(orgId: string, limit: number): Promise<EndpointRow[]> {
      // A range of endpoints_org (org_id, deleted_at), read from its newest end.
      return (await db`SELECT * FROM endpoints WHERE org_id = ${orgId} AND deleted_at IS NOT NULL ORDER BY deleted_at DESC LIMIT ${limit}`).map(toEndpoint);
    },
  };
}

/**
 * Writes that change what the endpoint cache serves (the row itself: address, filters, secrets,
 * enabled) report the change. The delivery counters (`recordAttempt`, `recordExhausted`) do not:
 * they change on every attempt, and reporting them would empty every node's cache and send a
 * notification at the delivery rate; nothing routes or signs by them.
 */
/** How fresh last_triggered_at is kept on PostgreSQL (see recordAttempt). */
const LAST_TRIGGERED_RESOLUTION_MS = 1_000;

export function pgEndpointsRepo(db: SQL, changes: TxChanges): EndpointsRepo {
  const changed = (orgId: string, endpointId: string): void => {
    changes.record({ kind: "endpoint", orgId, endpointId });
  };
  const reads = pgEndpointsReads(db);
  return {
    ...reads,
    async insertWithinLimit(e: EndpointRow, limit: number): Promise<boolean> {
      // The org's row lock serializes its creates across connections and nodes. NO KEY UPDATE
      // conflicts with itself but not with the KEY SHARE locks of foreign key checks, so the org's
      // publishes (an event row checks its org) go on meanwhile. It must be taken in a statement
      // of its own: under READ COMMITTED the count's snapshot is taken when its statement starts,
      // so only a statement that starts after the lock is granted sees the endpoint a concurrent
      // create committed while this one waited.
      await db`SELECT 1 FROM orgs WHERE id = ${e.orgId} FOR NO KEY UPDATE`;
      const inserted = await db`
        INSERT INTO endpoints (id, org_id, url, description, events, enabled, disabled_reason, disabled_at, consecutive_failures,
          failure_count, last_triggered_at, secret_enc, previous_secret_enc, previous_secret_expires_at, created_at, updated_at, deleted_at)
        SELECT ${e.id}, ${e.orgId}, ${e.url}, ${e.description}, ${jsonText(e.events)}::text::jsonb, ${e.enabled}, ${e.disabledReason},
          ${e.disabledAt}::bigint, ${e.consecutiveFailures}::int, ${e.failureCount}::int, ${e.lastTriggeredAt}::bigint, ${e.secretEnc},
          ${e.previousSecretEnc}, ${e.previousSecretExpiresAt}::bigint, ${e.createdAt}::bigint, ${e.updatedAt}::bigint, ${e.deletedAt}::bigint
        WHERE (SELECT count(*) FROM endpoints WHERE org_id = ${e.orgId} AND deleted_at IS NULL) < ${limit}`;
      if (inserted.count !== 1) return false;
      changed(e.orgId, e.id);
      return true;
    },

    async update(orgId: string, id: string, patch: EndpointPatch): Promise<EndpointRow | undefined> {
      const fields = (Object.keys(patch) as Array<keyof EndpointPatch>).filter((k) => patch[k] !== undefined);
      if (fields.length === 0) return reads.get(orgId, id);
      // The column names come from PATCH_COLUMNS, never from the caller; every value is a parameter.
      const sets = fields.map((k, i) => `${PATCH_COLUMNS[k]} = $${i + 1}${k === "events" ? "::text::jsonb" : ""}`);
      const values = fields.map((k) => (k === "events" ? jsonText(patch.events) : patch[k]));
      const n = fields.length;
      const [row] = await db.unsafe(
        `UPDATE endpoints SET ${sets.join(", ")} WHERE org_id = $${n + 1} AND id = $${n + 2} AND deleted_at IS NULL RETURNING *`,
        [...values, orgId, id],
      );
      if (!row) return undefined;
      changed(orgId, id);
      return toEndpoint(row);
    },

    async rotateSecret(orgId: string, id: string, secretEnc: string, previousExpiresAt: number | null, at: number): Promise<EndpointRow | undefined> {
      // One statement: the secret kept in grace is the one this UPDATE replaces (SET reads the row
      // as it is when locked), so a concurrent rotation committed just before becomes the previous
      // secret instead of being lost.
      const [row] = await db`
        UPDATE endpoints SET
          previous_secret_enc = CASE WHEN ${previousExpiresAt}::bigint IS NULL THEN NULL ELSE secret_enc END,
          previous_secret_expires_at = ${previousExpiresAt}::bigint,
          secret_enc = ${secretEnc}, updated_at = ${at}
        WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL RETURNING *`;
      if (!row) return undefined;
      changed(orgId, id);
      return toEndpoint(row);
    },

    async recordAttempt(id: string, at: number, success: boolean): Promise<void> {
      // Written only when it changes something worth a row version: a run of failures to end, or
      // a last-triggered time a second old. Every attempt updating one hot row would serialize
      // all of an endpoint's outcomes on its row lock and leave a dead tuple each (SQLite merges
      // them per group commit instead). So last_triggered_at is kept to the second here.
      await db`
        UPDATE endpoints SET consecutive_failures = CASE WHEN ${success} THEN 0 ELSE consecutive_failures END, last_triggered_at = ${at}
        WHERE id = ${id} AND (last_triggered_at IS NULL OR last_triggered_at < ${at - LAST_TRIGGERED_RESOLUTION_MS} OR (${success} AND consecutive_failures > 0))`;
    },

    async recordExhausted(id: string, at: number): Promise<{ consecutiveFailures: number; enabled: boolean } | null> {
      const [row] = await db`
        UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failure_count = failure_count + 1, last_triggered_at = ${at}
        WHERE id = ${id} RETURNING consecutive_failures, enabled`;
      return row ? { consecutiveFailures: row.consecutive_failures, enabled: row.enabled } : null;
    },

    async autoDisable(id: string, at: number, reason: AutoDisableReason): Promise<boolean> {
      const [row] = await db`
        UPDATE endpoints SET enabled = false, disabled_reason = ${reason}, disabled_at = ${at}, updated_at = ${at}
        WHERE id = ${id} AND enabled RETURNING org_id`;
      if (!row) return false;
      changed(row.org_id, id);
      return true;
    },
  };
}
