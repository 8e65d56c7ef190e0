/**
 * Composition root: opens the store, builds the services, and starts and stops the HTTP server,
 * the scheduler, the dispatcher and the sweeper. The only module that knows them all.
 */
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, type Config } from "./config.ts";
import { systemClock, type Clock } from "./lib/clock.ts";
import { createLogger, type Logger } from "./lib/logger.ts";
import { createWebhookdMetrics } from "./lib/metrics.ts";
import { createRateLimiter } from "./lib/token-bucket.ts";
import { openStore, type Store } from "./store/store.ts";
import { BUSY_TIMEOUT_MS } from "./store/database.ts";
import { startCheckpointer } from "./store/checkpointer.ts";
import { createSecretBox, loadOrCreateMasterKey, type SecretBox } from "./security/secret-box.ts";
import { hashApiKey } from "./security/tokens.ts";
import { systemResolver, type Resolver } from "./security/resolver.ts";
import { vetTarget } from "./security/target-guard.ts";
import { vetPort } from "./security/port-rule.ts";
import { createAuthService } from "./api/auth/service.ts";
import { createOrgsService } from "./api/orgs/service.ts";
import { createAdminKeysService } from "./api/admin-keys/service.ts";
import { createWebhooksService } from "./api/webhooks/service.ts";
import { createIdempotencyService } from "./api/idempotency/service.ts";
import { createEventsService } from "./api/events/service.ts";
import { createDeliveriesService } from "./api/deliveries/service.ts";
import { createPortalSessionsService } from "./api/portal-sessions/service.ts";
import { createDeliveryStatsService } from "./api/delivery-stats/service.ts";
import { createOrgDeliveriesService } from "./api/org-deliveries/service.ts";
import { createHttpClient } from "./delivery/http-client.ts";
import { createRetryPolicy } from "./delivery/retry-policy.ts";
import { createDispatcher } from "./delivery/dispatcher.ts";
import { createProber, PROBE_TIMEOUT_MS } from "./delivery/prober.ts";
import { createScheduler } from "./scheduler/scheduler.ts";
import { createSweeper } from "./scheduler/sweeper.ts";
import { createPendingCanceller } from "./store/pending-canceller.ts";
import { createHttpApp } from "./http/app.ts";
import { VERSION } from "./version.ts";

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** Tests play DNS through this (rebinding, mixed answers). */
  resolver?: Resolver;
}

/** In-flight attempts get this long to finish at shutdown; the rest are due again after restart. */
const SHUTDOWN_GRACE_MS = 10_000;
const RETRY_AFTER_MAX_MS = 3_600_000;
/**
 * A test sent at once is due this long after two attempt timeouts (one waiting in the queue for
 * a slot, the fairness bound, and one for the attempt), in case the process dies first.
 */
const SEND_NOW_FALLBACK_MARGIN_MS = 30_000;

/** Bun's largest idle timeout. */
const MAX_IDLE_TIMEOUT_S = 255;
const IDLE_MARGIN_MS = 2_000;

/**
 * Bun closes a connection that has neither sent nor received a byte for this long, so a client
 * that stops reading a response is dropped and the response freed. A handler is silent while it
 * works, so this must outlast the slowest: an attempt or the probe, then a write that waits out
 * another process's lock.
 */
function idleTimeoutSeconds(config: Pick<Config, "attemptTimeoutMs" | "probe">): number {
  const slowestHandlerMs = Math.max(config.attemptTimeoutMs, config.probe ? PROBE_TIMEOUT_MS : 0) + BUSY_TIMEOUT_MS;
  return Math.min(MAX_IDLE_TIMEOUT_S, Math.ceil((slowestHandlerMs + IDLE_MARGIN_MS) / 1000));
}

export function databaseFile(config: Pick<Config, "dataDir">): string {
  return join(config.dataDir, "webhookd.db");
}

/** The files in the data dir and the access each needs (master.key is only read once made). */
const DATA_FILES: [string, number][] = [
  ["webhookd.db", constants.R_OK | constants.W_OK],
  ["webhookd.db-wal", constants.R_OK | constants.W_OK],
  ["webhookd.db-shm", constants.R_OK | constants.W_OK],
  ["master.key", constants.R_OK],
];

/**
 * The data dir must be one this uid can create and write, and so must the files already in it:
 * otherwise SQLite fails deep inside with a stack trace that names neither the dir nor the fix
 * (a root-owned bind mount under the image's uid 10001 is the usual case).
 */
function assertDataDirWritable(dataDir: string): void {
  const dir = resolve(dataDir);
  const uid = process.getuid?.() ?? "?";
  const fix = `give uid ${uid} write access (chown -R ${uid} ${dir}) or set WEBHOOKD_DATA_DIR / --data-dir to a dir it can write`;
  const reason = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EACCES" || code === "EPERM" ? "permission denied" : code === "EROFS" ? "read-only file system" : (err as Error).message;
  };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ConfigError(`data dir ${dir} cannot be created by uid ${uid} (${reason(err)}): create it, ${fix}`);
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError(`data dir ${dir} is not writable by uid ${uid} (${reason(err)}): ${fix}`);
  }
  for (const [name, mode] of DATA_FILES) {
    const file = join(dir, name);
    try {
      if (existsSync(file)) accessSync(file, mode);
    } catch (err) {
      throw new ConfigError(`${file} in the data dir is not ${mode & constants.W_OK ? "writable" : "readable"} by uid ${uid} (${reason(err)}): ${fix}`);
    }
  }
}

/** A different master key than the one that sealed the stored secrets must stop the start, not fail every request. */
function assertMasterKeyOpens(box: SecretBox, sealed: string | undefined): void {
  if (sealed === undefined) return;
  try {
    box.open(sealed);
  } catch {
    throw new ConfigError(
      "WEBHOOKD_MASTER_KEY: this master key does not decrypt the stored signing secrets (a different key, or master.key replaced)",
    );
  }
}

/** Everything but the listeners and timers: used by `serve`, by CLI commands and by tests. */
export function buildServices(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const resolver = options.resolver ?? systemResolver;
  const userAgent = `webhookd/${VERSION}`;
  const metrics = createWebhookdMetrics();
  assertDataDirWritable(config.dataDir);
  const store: Store = openStore(databaseFile(config), { observer: metrics.storage });
  const secretBox = createSecretBox(loadOrCreateMasterKey(config.dataDir, config.masterKey));
  try {
    assertMasterKeyOpens(secretBox, store.endpoints.sampleSealedSecret());
  } catch (err) {
    store.close();
    throw err;
  }
  const checkTarget = (url: URL) => vetPort(url, config.allowedPorts) ?? vetTarget(url, { resolver, allowPrivate: config.allowPrivateTargets });
  const client = createHttpClient({ pickTarget: checkTarget, caCerts: config.caFile, userAgent });

  const auth = createAuthService({
    apiKeys: store.apiKeys,
    orgs: store.orgs,
    configuredAdminKeyHash: config.adminKey ? hashApiKey(config.adminKey) : null,
  });
  const orgs = createOrgsService({ orgs: store.orgs, apiKeys: store.apiKeys, clock, write: store.write, onKeyRevoked: auth.forgetKeyHash });
  const adminKeys = createAdminKeysService({
    apiKeys: store.apiKeys,
    clock,
    write: store.write,
    configured: config.adminKey !== undefined,
    onKeyRevoked: auth.forgetKeyHash,
  });

  const canceller = createPendingCanceller({
    deliveries: store.deliveries,
    write: store.write,
    clock,
    logger,
    onCancelled: (count) => metrics.deliveries.inc({ outcome: "cancelled" }, count),
  });

  // Late-bound: the scheduler needs the dispatcher and the dispatcher reports to the scheduler.
  let scheduler: ReturnType<typeof createScheduler> | null = null;

  const webhooks = createWebhooksService({
    endpoints: store.endpoints,
    write: store.write,
    secretBox,
    clock,
    catalog: config.eventTypes,
    checkTarget,
    probe: config.probe ? createProber(client, { clock, userAgent }) : null,
    allowHttp: config.allowHttp,
    maxEndpointsPerOrg: config.maxEndpointsPerOrg,
    onChanged: (orgId, endpointId) => store.endpointCache.invalidate(orgId, endpointId),
    cancellation: canceller,
    onStopped: (endpointId) => dispatcher.dropEndpoint(endpointId),
  });

  const dispatcher = createDispatcher({
    deliveries: store.deliveries,
    attempts: store.attempts,
    endpoints: store.endpoints,
    endpointCache: store.endpointCache,
    batcher: store.batcher,
    client,
    policy: createRetryPolicy({ schedule: config.retrySchedule, jitter: 0.1, retryAfterMaxMs: RETRY_AFTER_MAX_MS }),
    signingSecrets: (endpoint) => webhooks.signingSecrets(endpoint),
    clock,
    logger,
    metrics,
    userAgent,
    concurrency: config.concurrency,
    orgConcurrency: config.orgConcurrency,
    endpointConcurrency: config.endpointConcurrency,
    attemptTimeoutMs: config.attemptTimeoutMs,
    disableAfter: config.disableAfter,
    cancellation: canceller,
    onSettled: (id, retry) => (retry ? scheduler?.offer([retry]) : scheduler?.done(id)),
  });

  scheduler = createScheduler({
    pageDue: store.deliveries.pageDue,
    pageOrgDue: store.deliveries.pageOrgDue,
    orgNextDue: store.deliveries.orgNextDue,
    pendingOrgs: store.deliveries.pendingOrgs,
    onDue: (due) => dispatcher.enqueue(due),
    evict: (orgId) => dispatcher.evictQueued(orgId),
    clock,
    maxInMemory: config.maxInMemory,
  });
  const schedulerRef = scheduler;

  const events = createEventsService({
    events: store.events,
    deliveries: store.deliveries,
    endpointCache: store.endpointCache,
    batcher: store.batcher,
    catalog: config.eventTypes,
    clock,
    maxPayloadBytes: config.maxPayloadBytes,
    orgPublishRate: config.orgPublishRate > 0 ? createRateLimiter(config.orgPublishRate, config.orgPublishRate * 2, clock) : null,
    onScheduled: (due) => schedulerRef.offer(due),
    onPublished: (count) => metrics.eventsPublished.inc({}, count),
  });
  const deliveries = createDeliveriesService({
    deliveries: store.deliveries,
    attempts: store.attempts,
    events: store.events,
    endpoints: store.endpoints,
    eventsService: events,
    catalog: config.eventTypes,
    clock,
    sendNow: dispatcher.sendNow,
    sendNowFallbackMs: 2 * config.attemptTimeoutMs + SEND_NOW_FALLBACK_MARGIN_MS,
  });
  const idempotency = createIdempotencyService(store.idempotency, clock, store.write);
  const portalSessions = createPortalSessionsService({ sessions: store.portalSessions, orgs: store.orgs, apiKeys: store.apiKeys, clock });
  const sweeper = createSweeper({
    retention: store.retention,
    write: store.write,
    sweepIdempotency: idempotency.sweep,
    sweepPortalSessions: portalSessions.sweep,
    resumeCancellations: canceller.resume,
    clock,
    logger,
    retentionDays: config.retentionDays,
    cron: config.retentionCron,
  });

  metrics.registry.gauge("webhookd_due_queue_depth", "Deliveries due and waiting for a dispatch slot or in flight", () => dispatcher.backlog);
  metrics.registry.gauge("webhookd_scheduled_retries", "Deliveries waiting in the timer wheel", () => schedulerRef.scheduled);
  metrics.registry.gauge("webhookd_deliveries_in_memory", "Deliveries the scheduler holds in memory", () => schedulerRef.inMemory);

  return { config, logger, clock, metrics, store, auth, orgs, adminKeys, webhooks, events, deliveries, idempotency, portalSessions, dispatcher, scheduler: schedulerRef, sweeper, canceller };
}
export type Services = ReturnType<typeof buildServices>;

export interface RunningApp {
  url: string;
  port: number;
  services: Services;
  /** The admin key made on this first start, if one was; printed once by `serve`. */
  generatedAdminKey: string | null;
  stop(): Promise<void>;
}

export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const services = buildServices(config, options);
  const { logger, store } = services;
  const { generated: generatedAdminKey, revoked } = services.adminKeys.atStart();
  if (revoked > 0) logger.warn("WEBHOOKD_ADMIN_KEY is set: revoked the stored admin keys", { revoked });
  const http = createHttpApp({
    version: VERSION,
    logger,
    metrics: services.metrics,
    auth: services.auth,
    rateLimiter: config.rateLimit > 0 ? createRateLimiter(config.rateLimit, config.rateLimit * 2, services.clock) : null,
    idempotency: services.idempotency,
    orgs: services.orgs,
    adminKeys: services.adminKeys,
    webhooks: services.webhooks,
    events: services.events,
    deliveries: services.deliveries,
    catalog: config.eventTypes,
    maxPayloadBytes: config.maxPayloadBytes,
    checkWritable: store.checkWritable,
    portalSessions: services.portalSessions,
    deliveryStats: createDeliveryStatsService({ stats: store.deliveryStats, endpoints: store.endpoints, clock: services.clock }),
    orgDeliveries: createOrgDeliveriesService({ deliveries: store.deliveries, endpoints: store.endpoints, events: store.events, attempts: store.attempts }),
    portal: { frameAncestors: config.portalFrameAncestors, title: config.portalTitle, brandColor: config.portalBrandColor, theme: config.portalTheme, logo: config.portalLogo },
  });
  services.canceller.resume();
  services.scheduler.start();
  services.sweeper.start();
  const checkpointer = startCheckpointer(databaseFile(config), logger);
  services.metrics.registry.gauge(
    "webhookd_wal_frames_checkpointed",
    "WAL frames the background checkpoint thread has copied into the database file since start",
    () => checkpointer.checkpointedFrames,
  );
  http.listen({ port: config.port, hostname: config.host, maxRequestBodySize: 1024 * 1024 * 1024, idleTimeout: idleTimeoutSeconds(config) });
  const server = http.server!;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${server.port}`;
  logger.info("webhookd listening", { url, version: VERSION, dataDir: config.dataDir });

  let stopping: Promise<void> | null = null;
  return {
    url,
    port: server.port ?? config.port,
    services,
    generatedAdminKey,
    stop() {
      stopping ??= (async () => {
        await http.stop();
        services.sweeper.stop();
        services.scheduler.stop();
        await services.canceller.stop();
        const drained = await services.dispatcher.drain(SHUTDOWN_GRACE_MS);
        if (!drained) logger.warn("attempts still in flight at shutdown are due again after restart");
        await store.batcher.flush();
        await checkpointer.stop();
        store.close();
        logger.info("webhookd stopped");
      })();
      return stopping;
    },
  };
}
