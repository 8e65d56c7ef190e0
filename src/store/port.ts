/**
 * The storage port: everything services and the delivery engine know of storage. Domain rows,
 * repository interfaces and one write API, all asynchronous and free of any SQL dialect. Two
 * adapters implement it: store/sqlite/ (the embedded default) and store/postgres/ (cluster mode).
 *
 * Reads go straight to `store.<repo>`; every change goes through `store.write(async tx => ...)`,
 * whose guarantees are:
 * - All or nothing: what one op wrote is committed together, or none of it is (the promise rejects).
 * - Resolves only after the commit; a "durable" write (the default) also only once the commit is
 *   on stable storage, so a 2xx that waited on it survives a power cut. "relaxed" resolves at
 *   commit (an outcome lost to a power cut only means a resend).
 * - Storage faults (disk full, database gone, lock waited out) reject with the 503
 *   `STORAGE_UNAVAILABLE` (`ServiceUnavailableError`), reads as well as writes; other errors
 *   reject as they are. A connection lost during COMMIT is the same 503 with its outcome unknown:
 *   a retry must reuse the op's ids and dedupe keys (publish and Idempotency-Key do).
 * - Invariants are the adapter's, held whatever runs concurrently (other ops, other processes,
 *   other nodes): event dedupe keys and idempotency claims are unique, `insertWithinLimit` never
 *   passes the limit, conditional updates apply only where their condition holds.
 *
 * The op's contract: it awaits nothing but `tx` calls (an adapter may hold a transaction open
 * across them), and it may run more than once (an adapter may retry it, e.g. after rolling back a
 * group of ops one of which failed), so it must not act outside `tx`. Inside an op, read through
 * `tx`; the endpoint cache is outside the transaction (on SQLite it sees the op's group, on
 * PostgreSQL it does not). Repository methods do not depend on `this`: callers pass them around
 * as plain functions. Endpoint `update`s set `updatedAt` (a node catching up on changes it
 * missed finds them by it).
 *
 * Delivery leases (cluster mode): a node works only on the pending rows it holds a lease on
 * (`leaseOwner` until `leaseExpiresAt`). `claimDue` takes free or expired leases (concurrent claims
 * never return one row twice), `renewLeases` extends them, `releaseLeases` gives them back, and an
 * outcome recorded with a `LeaseFence` applies only while the row is still the owner's: a node
 * paused past its lease cannot overwrite what the node that took the row over recorded. A store
 * shared by several processes says so with `leases` (PostgreSQL): the rows `insertMany` writes
 * are then leased to this node (it sends them at once), and the engine claims due rows instead of
 * reading the due index alone. SQLite is one process: `leases` is null and its engine never
 * claims, but its lease methods are real (the same contract, held by its single writer).
 */

export const deliveryStatuses = ["pending", "succeeded", "failed", "cancelled"] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

export const attemptTriggers = ["scheduled", "replay", "test"] as const;
export type AttemptTrigger = (typeof attemptTriggers)[number];

/** Why an endpoint is disabled: by hand, failures in a row, or a receiver's 410 Gone. */
export type DisabledReason = "manual" | "too_many_failures" | "gone";
/** Why webhookd itself disabled an endpoint. */
export type AutoDisableReason = Exclude<DisabledReason, "manual">;

/** Times are unix milliseconds. */
export interface OrgRow {
  id: string;
  name: string;
  createdAt: number;
}

/** API keys, stored only as a SHA-256 hash. `orgId` null marks an admin key. */
export interface ApiKeyRow {
  id: string;
  orgId: string | null;
  name: string | null;
  keyHash: string;
  /** The first characters of the key (e.g. `sk_live_AbCd`), so people can tell keys apart. */
  keyPrefix: string;
  scopes: string[];
  createdAt: number;
  revokedAt: number | null;
}

export interface EndpointRow {
  id: string;
  orgId: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabledReason: DisabledReason | null;
  disabledAt: number | null;
  consecutiveFailures: number;
  failureCount: number;
  lastTriggeredAt: number | null;
  /** AES-256-GCM under the master key; never stored in plaintext. */
  secretEnc: string;
  /** The secret replaced by a rotation with a grace period; it keeps signing until it expires. */
  previousSecretEnc: string | null;
  previousSecretExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** Deleted endpoints stay as tombstones so their delivery logs live out the retention window. */
  deletedAt: number | null;
}
export type EndpointPatch = Partial<Omit<EndpointRow, "id" | "orgId" | "createdAt">>;

/** One published event. `body` is the exact JSON sent to every endpoint, on every attempt. */
export interface EventRow {
  id: string;
  orgId: string;
  type: string;
  body: string;
  /** The publisher's own id or Idempotency-Key: the same one is never fanned out twice. */
  dedupeKey: string | null;
  isTest: boolean;
  createdAt: number;
}

export interface EventBody {
  text: string;
  /** `text` is only the start of the body. */
  cut: boolean;
}

/** One event for one endpoint: a `pending` row with `nextAttemptAt` is due then. */
export interface DeliveryRow {
  id: string;
  orgId: string;
  eventId: string;
  endpointId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatusCode: number | null;
  lastDurationMs: number | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  createdAt: number;
  updatedAt: number;
  /** The node working on the row (cluster mode); null when none is. */
  leaseOwner: string | null;
  /** When the lease lapses and any node may claim the row. */
  leaseExpiresAt: number | null;
}

/** An outcome's condition in cluster mode: the row must still be `owner`'s, and keeps its lease until `keepUntil` (null: released). */
export interface LeaseFence {
  owner: string;
  /** A retry the node keeps in its own wheel stays its own until then; null gives the row back to the table. */
  keepUntil: number | null;
}

/** A store shared by several nodes: who this one is, and how long its leases last past a row's due time. */
export interface NodeLeases {
  owner: string;
  leaseMs: number;
}

export interface NewDelivery {
  id: string;
  orgId: string;
  eventId: string;
  endpointId: string;
  eventType: string;
  dueAt: number;
  createdAt: number;
}

/** The delivery log: one row per HTTP attempt. */
export interface AttemptRow {
  id: string;
  deliveryId: string;
  endpointId: string;
  trigger: AttemptTrigger;
  attemptNumber: number;
  url: string;
  statusCode: number | null;
  durationMs: number;
  errorCode: string | null;
  errorMessage: string | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  /** What the log keeps of the request's headers (webhook-request.ts, storedRequestHeaders; older rows kept all); null when nothing was sent or for rows older than the column. */
  requestHeaders: Record<string, string> | null;
  createdAt: number;
}

/** Idempotency-Key records: the first response to a POST, replayed for 24 h. */
export interface IdempotencyRow {
  scope: string;
  key: string;
  requestHash: string;
  state: "in_progress" | "done";
  responseStatus: number | null;
  responseBody: string | null;
  createdAt: number;
}

/**
 * A portal session (the built-in portal): a single-use link, then a session cookie. Only SHA-256
 * hashes of the link token and the session token are stored.
 */
export interface PortalSessionRow {
  id: string;
  orgId: string;
  readOnly: boolean;
  linkHash: string;
  linkExpiresAt: number;
  /** Set when the link is used. */
  sessionHash: string | null;
  expiresAt: number;
  returnUrl: string | null;
  /** The id of the API key that made it ("env" for WEBHOOKD_ADMIN_KEY). */
  createdBy: string;
  createdAt: number;
  usedAt: number | null;
  revokedAt: number | null;
}

export type StatusCounts = Record<DeliveryStatus, number>;

export interface DueDelivery {
  id: string;
  orgId: string;
  endpointId: string;
  nextAttemptAt: number;
  /** What the first attempt needs, handed over by publish so it need not be read back. */
  preloaded?: DeliveryForAttempt;
}

/** How many due rows a claim may take of one org's. */
export interface ClaimQuota {
  orgId: string;
  limit: number;
}

/** What an attempt needs: the delivery's identity and state, and its event's body. */
export interface DeliveryForAttempt extends Pick<DeliveryRow, "id" | "orgId" | "eventId" | "endpointId" | "eventType" | "status" | "attempts"> {
  body: string;
  isTest: boolean;
}

export interface DeliveryOutcome {
  id: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number;
  lastStatusCode: number | null;
  lastDurationMs: number;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
}
export type LastAttempt = Omit<DeliveryOutcome, "status" | "attempts" | "nextAttemptAt">;

export interface DeliveryFilter {
  success?: boolean;
  status?: DeliveryStatus;
  eventType?: string;
  /** Only deliveries older than this id (keyset paging). */
  before?: string;
}

/** The statuses a filter admits; `success` and `status` together admit what both do. */
export function statusesOf(f: DeliveryFilter): DeliveryStatus[] {
  return deliveryStatuses.filter(
    (s) =>
      (f.status === undefined || s === f.status) &&
      (f.success === undefined || (f.success ? s === "succeeded" : s === "failed" || s === "cancelled")),
  );
}

// ---- Repositories: reads on the store, reads and writes inside a write's transaction ----

export interface OrgsReads {
  get(id: string): Promise<OrgRow | undefined>;
  /** Up to `count` orgs in id order after `after` (from the first when null). */
  listAfter(after: string | null, count: number): Promise<OrgRow[]>;
}
export interface OrgsRepo extends OrgsReads {
  insert(row: OrgRow): Promise<void>;
}

export interface ApiKeysReads {
  findByHash(hash: string): Promise<ApiKeyRow | undefined>;
  get(orgId: string, id: string): Promise<ApiKeyRow | undefined>;
  /** Up to `count` of an org's keys in id order after `after` (from the first when null). */
  listForOrgAfter(orgId: string, after: string | null, count: number): Promise<ApiKeyRow[]>;
  hasAdminKey(): Promise<boolean>;
  /** Stored admin keys (org null), revoked ones included. */
  listAdmin(): Promise<ApiKeyRow[]>;
  getAdmin(id: string): Promise<ApiKeyRow | undefined>;
}
export interface ApiKeysRepo extends ApiKeysReads {
  insert(row: ApiKeyRow): Promise<void>;
  /** Revokes every live admin key but `keepId`; returns the hashes revoked. */
  revokeAdminKeys(at: number, keepId?: string): Promise<string[]>;
  /** Revokes the key; every process's auth refuses it once the write has committed. */
  revoke(id: string, at: number): Promise<void>;
}

export interface EndpointsReads {
  /** Any one sealed secret, to check at start that the master key still opens them. */
  sampleSealedSecret(): Promise<string | undefined>;
  /** Live (not deleted) endpoint of that org; another org's id is simply not found. */
  get(orgId: string, id: string): Promise<EndpointRow | undefined>;
  /** An endpoint of that org, deleted or not: a deleted endpoint's log stays readable until retention. */
  getWithDeleted(orgId: string, id: string): Promise<EndpointRow | undefined>;
  /** Any endpoint by id, deleted ones included. */
  getById(id: string): Promise<EndpointRow | undefined>;
  /** The org's live endpoints in id order. */
  list(orgId: string): Promise<EndpointRow[]>;
  /**
   * Up to `limit` of the org's deleted endpoints, the most recently deleted first. Retention
   * removes a deleted endpoint's row once its last delivery is gone: these are the ones whose
   * logs are still kept (or were until the last sweep).
   */
  listDeleted(orgId: string, limit: number): Promise<EndpointRow[]>;
}
export interface EndpointsRepo extends EndpointsReads {
  /** Inserts unless the org already has `limit` live endpoints (false then); holds under concurrency. */
  insertWithinLimit(row: EndpointRow, limit: number): Promise<boolean>;
  update(orgId: string, id: string, patch: EndpointPatch): Promise<EndpointRow | undefined>;
  /**
   * Replaces the signing secret in one step; with `previousExpiresAt` the secret it replaces
   * (whatever a concurrent rotation left there) keeps signing until then.
   */
  rotateSecret(orgId: string, id: string, secretEnc: string, previousExpiresAt: number | null, at: number): Promise<EndpointRow | undefined>;
  /**
   * An attempt's mark (last triggered; a success also ends the run of failures, at once). An
   * adapter may keep lastTriggeredAt to the second, skipping a newer time less than 1 s after it.
   */
  recordAttempt(id: string, at: number, success: boolean): Promise<void>;
  /** Counts an exhausted delivery; returns the new run length and whether the endpoint is enabled. */
  recordExhausted(id: string, at: number): Promise<{ consecutiveFailures: number; enabled: boolean } | null>;
  /** Disables an enabled endpoint; false when it was not enabled. */
  autoDisable(id: string, at: number, reason: AutoDisableReason): Promise<boolean>;
}

export interface EventsReads {
  findByDedupeKey(orgId: string, dedupeKey: string): Promise<EventRow | undefined>;
  /**
   * The exact bodies of these events, each cut to its first `maxChars` characters (`cut` says so):
   * a page of the log shows previews, and need not load every payload whole.
   */
  bodies(ids: string[], maxChars?: number): Promise<Map<string, EventBody>>;
  get(orgId: string, id: string): Promise<EventRow | undefined>;
}
export interface EventsRepo extends EventsReads {
  /** False when the org already has an event with this dedupe key (nothing written). */
  insertIfNew(row: EventRow): Promise<boolean>;
}

export interface DeliveriesReads {
  /** Pending rows after the (due, id) cursor and due by `until`, in due order. */
  pageDue(afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]>;
  /** One org's pending rows after the (due, id) cursor and due by `until`, in due order. */
  pageOrgDue(orgId: string, afterDue: number, afterId: string, until: number, limit: number): Promise<DueDelivery[]>;
  /** When the org's first pending row due after `after` is due; null when it has none. */
  orgNextDue(orgId: string, after: number): Promise<number | null>;
  /** Every org with pending rows, and when its first one is due. */
  pendingOrgs(): Promise<Array<{ orgId: string; nextDue: number }>>;
  forAttempt(id: string): Promise<DeliveryForAttempt | null>;
  /** Disabled or deleted endpoints that still have pending deliveries: a cancellation cut short. */
  stoppedWithPending(): Promise<string[]>;
  get(endpointId: string, id: string): Promise<DeliveryRow | undefined>;
  /** In creation order, so an event reads back the same way every time. */
  listForEvent(eventId: string): Promise<DeliveryRow[]>;
  /** The endpoint's deliveries matching `filter`, newest first. */
  page(endpointId: string, filter: DeliveryFilter, offset: number, limit: number): Promise<DeliveryRow[]>;
  /** How many deliveries match, counting no further than `cap` (an exact count is a scan of them all). */
  countUpTo(endpointId: string, filter: DeliveryFilter, cap: number): Promise<number>;
  /** How many failed deliveries created since `since` there are, counting up to `limit`. */
  countFailedSince(endpointId: string, since: number, limit: number): Promise<number>;
  /** Ids of failed deliveries created since `since`, after `afterId` in id order: a page of a recover. */
  failedIdsSince(endpointId: string, since: number, afterId: string, limit: number): Promise<string[]>;
  /** For each [start, start + step) from `from` up to `to`, the endpoint's deliveries created then, by status. */
  countsByBucket(endpointId: string, from: number, to: number, step: number): Promise<Array<{ start: number; counts: StatusCounts }>>;
}
export interface DeliveriesRepo extends DeliveriesReads {
  /** Pending rows; on a store with `leases`, leased to this node until their due time plus the lease. */
  insertMany(rows: NewDelivery[]): Promise<void>;
  /**
   * Leases to `owner`, for each org in `quotas`, up to its limit of pending rows due by `until`
   * whose lease is free (none, or lapsed before `now`), earliest first, each until its due time
   * (or `now`, if later) plus `leaseMs`; returned in due order. Claims running at once on any
   * node never return the same row.
   */
  claimDue(owner: string, now: number, until: number, leaseMs: number, quotas: readonly ClaimQuota[]): Promise<DueDelivery[]>;
  /** Extends `owner`'s leases on these pending rows to at least `until`; returns the ids it still holds. */
  renewLeases(owner: string, ids: string[], until: number): Promise<string[]>;
  /** Gives `owner`'s leases on these rows back: any node may claim them when due. */
  releaseLeases(owner: string, ids: string[]): Promise<void>;
  /**
   * Applies an attempt's outcome unless the row left `expectStatus` meanwhile (e.g. cancelled)
   * or, with a `fence`, is no longer the fence owner's (another node took it over).
   */
  recordOutcome(o: DeliveryOutcome, now: number, expectStatus: DeliveryStatus, fence?: LeaseFence): Promise<boolean>;
  /** The attempt's outcome as the latest, leaving status, attempts and due time (a failed replay). */
  recordLastAttempt(o: LastAttempt, now: number): Promise<void>;
  /** Cancels up to `limit` of the endpoint's pending deliveries with ids below `beforeId`; returns how many. */
  cancelPendingBatch(endpointId: string, beforeId: string, now: number, limit: number): Promise<number>;
}

export interface AttemptsReads {
  /** The delivery's latest `limit` attempts, oldest first. */
  latestForDelivery(deliveryId: string, limit: number): Promise<AttemptRow[]>;
  /** The latest attempt of each delivery, for log listings. */
  latestFor(deliveryIds: string[]): Promise<Map<string, AttemptRow>>;
}
export interface AttemptsRepo extends AttemptsReads {
  insert(row: AttemptRow): Promise<void>;
}

export interface IdempotencyReads {
  get(scope: string, key: string): Promise<IdempotencyRow | undefined>;
}
export interface IdempotencyRepo extends IdempotencyReads {
  /** Claims the key; false when another request holds or held it. Unique across processes. */
  claim(scope: string, key: string, requestHash: string, at: number): Promise<boolean>;
  complete(scope: string, key: string, status: number, body: string): Promise<void>;
  release(scope: string, key: string): Promise<void>;
  deleteOlderThan(cutoff: number): Promise<number>;
}

export interface PortalSessionsReads {
  findByLink(linkHash: string): Promise<PortalSessionRow | undefined>;
  findBySession(sessionHash: string): Promise<PortalSessionRow | undefined>;
}
export interface PortalSessionsRepo extends PortalSessionsReads {
  insert(row: PortalSessionRow): Promise<void>;
  /**
   * Uses a link: one conditional update, so a link is used once whichever process (or how many at
   * once) tries. The session, or undefined when the link is unknown, used or past its time.
   */
  useLink(linkHash: string, sessionHash: string, now: number): Promise<PortalSessionRow | undefined>;
  revoke(id: string, now: number): Promise<void>;
  /** Deletes up to `limit` sessions that ended before `before`; returns how many. */
  deleteEnded(before: number, limit: number): Promise<number>;
}

/** In dependency order: attempts, then finished deliveries, then the events and deleted endpoints they held. */
export const retentionTables = ["attempts", "deliveries", "events", "endpoints"] as const;
export type RetentionTable = (typeof retentionTables)[number];
export interface RetentionRepo {
  /** Deletes up to `limit` rows older than `cutoff` (never a pending delivery, nor a row still referenced); returns how many. */
  deleteBatch(table: RetentionTable, cutoff: number, limit: number): Promise<number>;
}

/** What an op sees inside `write`. */
export interface StoreTx {
  orgs: OrgsRepo;
  apiKeys: ApiKeysRepo;
  endpoints: EndpointsRepo;
  events: EventsRepo;
  deliveries: DeliveriesRepo;
  attempts: AttemptsRepo;
  idempotency: IdempotencyRepo;
  portalSessions: PortalSessionsRepo;
  retention: RetentionRepo;
}

export type Durability = "durable" | "relaxed";
export type StoreWrite = <T>(op: (tx: StoreTx) => Promise<T>, durability?: Durability) => Promise<T>;

/**
 * Cached reads of endpoints for the hot paths: fan-out (an org's live endpoints) and dispatch (one
 * endpoint by id). Writes that change routing or signing (url, filters, enabled, secrets,
 * deletion) drop the entry on this process at once and on every other within the adapter's
 * stated bound; the counters `recordAttempt`/`recordExhausted` write may be stale in it.
 */
export interface EndpointCache {
  liveForOrg(orgId: string): Promise<EndpointRow[]>;
  /** Deleted endpoints included (their deliveries must see they are gone). */
  get(id: string): Promise<EndpointRow | undefined>;
  /** The cached row if there is one, without waiting: the hot path's fast case (else `get`). */
  peek(id: string): EndpointRow | undefined;
}

/** Changes other parts must hear of, on this process and (in a cluster) every other. Heard after the commit. */
export interface StoreChanges {
  onEndpointChanged(listener: (orgId: string, endpointId: string) => void): void;
  onKeyRevoked(listener: (keyHash: string) => void): void;
}

export interface Store {
  readonly backend: "sqlite" | "postgres";
  /** Set when other nodes work the same deliveries (see "Delivery leases" above); null on a store one process owns. */
  readonly leases: NodeLeases | null;
  orgs: OrgsReads;
  apiKeys: ApiKeysReads;
  endpoints: EndpointsReads;
  events: EventsReads;
  deliveries: DeliveriesReads;
  attempts: AttemptsReads;
  idempotency: IdempotencyReads;
  portalSessions: PortalSessionsReads;
  endpointCache: EndpointCache;
  changes: StoreChanges;
  write: StoreWrite;
  /** Resolves when the database takes writes now; rejects (503) when it does not. */
  checkWritable(): Promise<void>;
  /**
   * Runs `job` unless a job of the same `name` runs now on another node (then resolves null at
   * once, without running it): cluster-wide jobs such as the retention sweep run once. On a store
   * one process owns it simply runs.
   */
  exclusive<T>(name: string, job: () => Promise<T>): Promise<T | null>;
  /** Waits until every write submitted so far is answered (SQLite: commits what is queued first). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
