/**
 * Webhook endpoints: the rules of seeds 000-004 (limits, filters, HTTPS, SSRF, probe, secrets
 * shown once, rotation with an optional grace period). No HTTP framework in here.
 */
import type { Clock } from "../../lib/clock.ts";
import { BadRequestError, NotFoundError, UnprocessableError, ValidationError } from "../../lib/errors.ts";
import { isId, newId } from "../../lib/ids.ts";
import type { EventTypeCatalog } from "../../event-catalog.ts";
import type { SigningSecrets } from "../../security/signing-secrets.ts";
import type { TargetVerdict } from "../../security/target-guard.ts";
import { generateSigningSecret, isSigningSecret, SIGNING_SECRET_BYTES } from "../../security/tokens.ts";
import type { EndpointPatch, EndpointRow, EndpointsReads, StoreWrite } from "../../store/port.ts";
import type { EndpointStop } from "../../delivery/endpoint-stop.ts";
import { checkDescription, normalizeEventFilters, parseEndpointUrl } from "./endpoint-rules.ts";

export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

/** Sends a signed probe to a URL; throws an AppError (URL_PROBE_FAILED) when it gets no 2xx. */
export type Prober = (url: string, secret: string) => Promise<void>;

export interface WebhooksServiceDeps {
  endpoints: EndpointsReads;
  write: StoreWrite;
  secrets: SigningSecrets;
  clock: Clock;
  catalog: EventTypeCatalog;
  checkTarget: (url: URL) => TargetVerdict | Promise<TargetVerdict>;
  probe: Prober | null;
  allowHttp: boolean;
  maxEndpointsPerOrg: number;
  /** Disabling and deleting stop the endpoint: nothing more is sent to it. */
  stop: EndpointStop;
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
  const { endpoints, write, secrets, clock, catalog } = deps;
  const tooMany = () => new UnprocessableError("MAX_ENDPOINTS", `Maximum ${deps.maxEndpointsPerOrg} webhook endpoints per organization.`);

  async function require(orgId: string, id: string): Promise<EndpointRow> {
    // A path id of the wrong shape (junk, traversal, huge) is simply not found, without a query.
    const row = isId("wh", id) ? await endpoints.get(orgId, id) : undefined;
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
      if ((await endpoints.list(orgId)).length >= deps.maxEndpointsPerOrg) throw tooMany();
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
        secretEnc: secrets.seal(secret),
        previousSecretEnc: null,
        previousSecretExpiresAt: null,
        createdAt: now,
        updatedAt: now,
        deletedAt: null,
      };
      // Counted again by the store in the write itself, after the (slow) probe: concurrent creates cannot both slip under.
      if (!(await write((tx) => tx.endpoints.insertWithinLimit(row, deps.maxEndpointsPerOrg)))) throw tooMany();
      return { row, secret };
    },

    async update(orgId: string, id: string, input: UpdateEndpointInput): Promise<EndpointRow> {
      const current = await require(orgId, id);
      const now = clock();
      const patch: EndpointPatch = { updatedAt: now };
      if (input.events !== undefined) patch.events = normalizeEventFilters(input.events, catalog);
      checkDescription(input.description);
      if (input.description !== undefined) patch.description = input.description;
      if (input.url !== undefined && input.url !== current.url) {
        patch.url = await admitUrl(input.url, secrets.current(current));
      }
      if (input.isActive === false && current.enabled) {
        Object.assign(patch, { enabled: false, disabledReason: "manual", disabledAt: now });
      }
      if (input.isActive === true) {
        Object.assign(patch, { enabled: true, disabledReason: null, disabledAt: null, consecutiveFailures: 0 });
      }
      const stops = patch.enabled === false;
      const { row, cancelled } = await write(async (tx) => {
        const row = await tx.endpoints.update(orgId, id, patch);
        return { row, cancelled: row && stops ? await deps.stop.inWrite(tx, id, now) : null };
      });
      if (!row) throw new NotFoundError("Webhook endpoint");
      if (cancelled !== null) deps.stop.committed(id, now, cancelled);
      return row;
    },

    async delete(orgId: string, id: string): Promise<void> {
      await require(orgId, id);
      const now = clock();
      const cancelled = await write(async (tx) => {
        await tx.endpoints.update(orgId, id, { deletedAt: now, updatedAt: now, enabled: false });
        return deps.stop.inWrite(tx, id, now);
      });
      deps.stop.committed(id, now, cancelled);
    },

    async rotateSecret(orgId: string, id: string, gracePeriodSeconds = 0): Promise<{ row: EndpointRow; secret: string }> {
      if (!Number.isInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_SECONDS) {
        throw new BadRequestError("VALIDATION_ERROR", `gracePeriodSeconds must be a whole number from 0 to ${MAX_GRACE_SECONDS}.`);
      }
      await require(orgId, id);
      const secret = generateSigningSecret();
      const secretEnc = secrets.seal(secret);
      const now = clock();
      // The store keeps in grace whatever secret is current when the write runs: a concurrent
      // rotation committed just before this one becomes the previous secret, not lost unseen.
      const row = await write((tx) => tx.endpoints.rotateSecret(orgId, id, secretEnc, gracePeriodSeconds > 0 ? now + gracePeriodSeconds * 1000 : null, now));
      if (!row) throw new NotFoundError("Webhook endpoint");
      return { row, secret };
    },

    async revealSecret(orgId: string, id: string): Promise<string> {
      return secrets.current(await require(orgId, id));
    },

    maskedSecret: (row: EndpointRow): string => secrets.masked(row),
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
