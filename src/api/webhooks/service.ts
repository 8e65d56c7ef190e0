/**
 * Webhook endpoints: the rules of seeds 000-004 (limits, filters, HTTPS, SSRF, probe, secrets
 * shown once, rotation with an optional grace period). No HTTP framework in here.
 */
import { LRUCache } from "lru-cache";
import type { Clock } from "../../lib/clock.ts";
import { BadRequestError, NotFoundError, UnprocessableError, ValidationError } from "../../lib/errors.ts";
import { isId, newId } from "../../lib/ids.ts";
import type { EventTypeCatalog } from "../../event-catalog.ts";
import type { SecretBox } from "../../security/secret-box.ts";
import type { TargetVerdict } from "../../security/target-guard.ts";
import { generateSigningSecret, isSigningSecret, maskSecret, SIGNING_SECRET_BYTES } from "../../security/tokens.ts";
import type { EndpointPatch, EndpointRow, EndpointsRepo } from "../../store/repositories/endpoints.ts";
import type { StoreWrite } from "../../store/write-batcher.ts";
import type { PendingCancellation } from "../../store/pending-canceller.ts";
import { checkDescription, normalizeEventFilters, parseEndpointUrl } from "./endpoint-rules.ts";

export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

/** Sends a signed probe to a URL; throws an AppError (URL_PROBE_FAILED) when it gets no 2xx. */
export type Prober = (url: string, secret: string) => Promise<void>;

export interface WebhooksServiceDeps {
  endpoints: EndpointsRepo;
  write: StoreWrite;
  secretBox: SecretBox;
  clock: Clock;
  catalog: EventTypeCatalog;
  checkTarget: (url: URL) => TargetVerdict | Promise<TargetVerdict>;
  probe: Prober | null;
  allowHttp: boolean;
  maxEndpointsPerOrg: number;
  /** An org's endpoint changed, inside the write that changes it: caches drop it. */
  onChanged: (orgId: string, endpointId: string) => void;
  /** An endpoint is gone or disabled: its pending deliveries are cancelled, the first batch in the same write. */
  cancellation: PendingCancellation;
  /** An endpoint was disabled or deleted, once committed: nothing queued for it may be sent. */
  onStopped: (endpointId: string) => void;
}

export interface CreateEndpointInput {
  url: string;
  events?: string[];
  description?: string | null;
  /** The caller's own signing secret; one is generated when absent. */
  secret?: string;
  /** false creates the endpoint disabled (reason `manual`). */
  isActive?: boolean;
}

export interface UpdateEndpointInput {
  url?: string;
  events?: string[];
  description?: string | null;
  isActive?: boolean;
}

export function createWebhooksService(deps: WebhooksServiceDeps) {
  const { endpoints, write, secretBox, clock, catalog } = deps;
  const tooMany = () => new UnprocessableError("MAX_ENDPOINTS", `Maximum ${deps.maxEndpointsPerOrg} webhook endpoints per organization.`);
  // Sealed value -> plaintext: a sealed string never changes meaning, so nothing to invalidate.
  const opened = new LRUCache<string, string>({ max: 50_000 });
  const open = (sealed: string): string => {
    let plain = opened.get(sealed);
    if (plain === undefined) {
      plain = secretBox.open(sealed);
      opened.set(sealed, plain);
    }
    return plain;
  };

  function require(orgId: string, id: string): EndpointRow {
    // A path id of the wrong shape (junk, traversal, huge) is simply not found, without a query.
    const row = isId("wh", id) ? endpoints.get(orgId, id) : undefined;
    if (!row) throw new NotFoundError("Webhook endpoint");
    return row;
  }

  /** Shape, SSRF rule, then the probe: what a URL must pass before it is stored. */
  async function admitUrl(raw: string, secret: string): Promise<string> {
    const url = parseEndpointUrl(raw, deps.allowHttp);
    const verdict = await deps.checkTarget(url);
    if (!verdict.ok) {
      if (verdict.code === "blocked_address") throw new BadRequestError("URL_NOT_ALLOWED", `url is not allowed: ${verdict.message}.`);
      // An unresolvable host is left to delivery-time checks unless the probe must reach it now.
      if (deps.probe) throw new BadRequestError("URL_PROBE_FAILED", `The probe could not reach the URL: ${verdict.message}.`);
    }
    if (deps.probe) await deps.probe(url.href, secret);
    return url.href;
  }

  return {
    list: (orgId: string) => endpoints.list(orgId),
    get: require,

    async create(orgId: string, input: CreateEndpointInput): Promise<{ row: EndpointRow; secret: string }> {
      if (endpoints.countLive(orgId) >= deps.maxEndpointsPerOrg) throw tooMany();
      const events = normalizeEventFilters(input.events ?? ["*"], catalog);
      checkDescription(input.description);
      if (input.secret !== undefined && !isSigningSecret(input.secret)) {
        throw new ValidationError(
          `secret must be whsec_ followed by the base64 of ${SIGNING_SECRET_BYTES.min} to ${SIGNING_SECRET_BYTES.max} random bytes.`,
          "secret",
        );
      }
      const secret = input.secret ?? generateSigningSecret();
      const url = await admitUrl(input.url, secret);
      const now = clock();
      const enabled = input.isActive ?? true;
      const row: EndpointRow = {
        id: newId("wh"),
        orgId,
        url,
        description: input.description ?? null,
        events,
        enabled,
        disabledReason: enabled ? null : "manual",
        disabledAt: enabled ? null : now,
        consecutiveFailures: 0,
        failureCount: 0,
        lastTriggeredAt: null,
        secretEnc: secretBox.seal(secret),
        previousSecretEnc: null,
        previousSecretExpiresAt: null,
        createdAt: now,
        updatedAt: now,
        deletedAt: null,
      };
      await write(() => {
        // Counted again in the write itself, after the (slow) probe: concurrent creates cannot both slip under.
        if (endpoints.countLive(orgId) >= deps.maxEndpointsPerOrg) throw tooMany();
        endpoints.insert(row);
        deps.onChanged(orgId, row.id);
      });
      return { row, secret };
    },

    async update(orgId: string, id: string, input: UpdateEndpointInput): Promise<EndpointRow> {
      const current = require(orgId, id);
      const now = clock();
      const patch: EndpointPatch = { updatedAt: now };
      if (input.events !== undefined) patch.events = normalizeEventFilters(input.events, catalog);
      checkDescription(input.description);
      if (input.description !== undefined) patch.description = input.description;
      if (input.url !== undefined && input.url !== current.url) {
        patch.url = await admitUrl(input.url, secretBox.open(current.secretEnc));
      }
      if (input.isActive === false && current.enabled) {
        Object.assign(patch, { enabled: false, disabledReason: "manual", disabledAt: now });
      }
      if (input.isActive === true) {
        Object.assign(patch, { enabled: true, disabledReason: null, disabledAt: null, consecutiveFailures: 0 });
      }
      const stops = patch.enabled === false;
      const { row, cancelled } = await write(() => {
        const row = endpoints.update(orgId, id, patch);
        deps.onChanged(orgId, id);
        return { row, cancelled: row && stops ? deps.cancellation.firstBatch(id, now) : null };
      });
      if (!row) throw new NotFoundError("Webhook endpoint");
      if (cancelled !== null) deps.cancellation.committed(id, now, cancelled);
      if (stops) deps.onStopped(id);
      return row;
    },

    async delete(orgId: string, id: string): Promise<void> {
      require(orgId, id);
      const now = clock();
      const cancelled = await write(() => {
        endpoints.update(orgId, id, { deletedAt: now, updatedAt: now, enabled: false });
        deps.onChanged(orgId, id);
        return deps.cancellation.firstBatch(id, now);
      });
      deps.cancellation.committed(id, now, cancelled);
      deps.onStopped(id);
    },

    async rotateSecret(orgId: string, id: string, gracePeriodSeconds = 0): Promise<{ row: EndpointRow; secret: string }> {
      if (!Number.isInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_SECONDS) {
        throw new BadRequestError("VALIDATION_ERROR", `gracePeriodSeconds must be a whole number from 0 to ${MAX_GRACE_SECONDS}.`);
      }
      require(orgId, id);
      const secret = generateSigningSecret();
      const secretEnc = secretBox.seal(secret);
      const now = clock();
      const row = await write(() => {
        // The secret kept in grace is read inside the write: a concurrent rotation committed
        // just before this one must become the previous secret, not be overwritten unseen.
        const current = endpoints.get(orgId, id);
        if (!current) return undefined;
        const row = endpoints.update(orgId, id, {
          secretEnc,
          previousSecretEnc: gracePeriodSeconds > 0 ? current.secretEnc : null,
          previousSecretExpiresAt: gracePeriodSeconds > 0 ? now + gracePeriodSeconds * 1000 : null,
          updatedAt: now,
        });
        deps.onChanged(orgId, id);
        return row;
      });
      if (!row) throw new NotFoundError("Webhook endpoint");
      return { row, secret };
    },

    revealSecret(orgId: string, id: string): string {
      return secretBox.open(require(orgId, id).secretEnc);
    },

    /** The secrets that sign a delivery now: the current one, then a previous one still in grace. */
    signingSecrets(row: EndpointRow, now = clock()): string[] {
      const secrets = [open(row.secretEnc)];
      if (row.previousSecretEnc && (row.previousSecretExpiresAt ?? 0) > now) secrets.push(open(row.previousSecretEnc));
      return secrets;
    },

    maskedSecret(row: EndpointRow): string {
      return maskSecret(open(row.secretEnc));
    },
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
