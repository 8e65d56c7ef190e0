/**
 * Composition root: opens the store, builds the services and the delivery engine, and starts and
 * stops the HTTP server, the engine and the sweeper. The only module that knows them all.
 */
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, type Config } from "./config.ts";
import { systemClock, type Clock } from "./lib/clock.ts";
import { createLogger, type Logger } from "./lib/logger.ts";
import { createWebhookdMetrics } from "./lib/metrics.ts";
import { createRateLimiter } from "./lib/token-bucket.ts";
import type { Store } from "./store/port.ts";
import { openPostgresStore } from "./store/postgres/store.ts";
import { openSqliteStore } from "./store/sqlite/store.ts";
import type { WebhookdMetrics } from "./lib/metrics.ts";
import { BUSY_TIMEOUT_MS } from "./store/sqlite/database.ts";
import { createSecretBox, loadOrCreateMasterKey, type SecretBox } from "./security/secret-box.ts";
import { createSigningSecrets } from "./security/signing-secrets.ts";
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
import { createDeliveryEngine } from "./delivery/engine.ts";
import { createProber, PROBE_TIMEOUT_MS } from "./delivery/prober.ts";
import { createSweeper } from "./scheduler/sweeper.ts";
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

/**
 * The store the config names, and what `serve` starts beside it: SQLite's checkpoint thread (and
 * its gauge); nothing for PostgreSQL, which keeps its own log.
 */
async function openStore(config: Config, logger: Logger, metrics: WebhookdMetrics): Promise<{ store: Store; startMaintenance(): void }> {
  if (config.databaseUrl) {
    // Every node must open every other node's sealed secrets: a master key made per data dir cannot.
    if (!config.masterKey) throw new ConfigError("WEBHOOKD_MASTER_KEY must be set (the same on every node) when WEBHOOKD_DATABASE_URL is set");
    const store = await openPostgresStore(config.databaseUrl, { logger, leaseMs: config.leaseMs });
    return { store, startMaintenance() {} };
  }
  assertDataDirWritable(config.dataDir);
  const store = openSqliteStore(databaseFile(config), { observer: metrics.storage, logger });
  return {
    store,
    startMaintenance() {
      const checkpointer = store.startCheckpointer(logger);
      metrics.registry.gauge(
        "webhookd_wal_frames_checkpointed",
        "WAL frames the background checkpoint thread has copied into the database file since start",
        () => checkpointer.checkpointedFrames,
      );
    },
  };
}

/** Everything but the listeners and timers: used by `serve`, by CLI commands and by tests. */
export async function buildServices(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const resolver = options.resolver ?? systemResolver;
  const userAgent = `webhookd/${VERSION}`;
  const metrics = createWebhookdMetrics();
  const { store, startMaintenance } = await openStore(config, logger, metrics);
  let secretBox: SecretBox;
  try {
    secretBox = createSecretBox(loadOrCreateMasterKey(config.dataDir, config.masterKey));
    assertMasterKeyOpens(secretBox, await store.endpoints.sampleSealedSecret());
  } catch (err) {
    await store.close();
    throw err;
  }
  const secrets = createSigningSecrets(secretBox, clock);
  const checkTarget = (url: URL) => vetPort(url, config.allowedPorts) ?? vetTarget(url, { resolver, allowPrivate: config.allowPrivateTargets });
  const client = createHttpClient({ pickTarget: checkTarget, caCerts: config.caFile, userAgent });

  const auth = createAuthService({
    apiKeys: store.apiKeys,
    orgs: store.orgs,
    configuredAdminKeyHash: config.adminKey ? hashApiKey(config.adminKey) : null,
  });
  store.changes.onKeyRevoked(auth.forgetKeyHash);
  const orgs = createOrgsService({ orgs: store.orgs, apiKeys: store.apiKeys, clock, write: store.write });
  const adminKeys = createAdminKeysService({ apiKeys: store.apiKeys, clock, write: store.write, configured: config.adminKey !== undefined });

  const engine = createDeliveryEngine({
    store,
    client,
    policy: createRetryPolicy({ schedule: config.retrySchedule, jitter: 0.1, retryAfterMaxMs: RETRY_AFTER_MAX_MS }),
    signingSecrets: (endpoint) => secrets.signing(endpoint),
    clock,
    logger,
    metrics,
    userAgent,
    concurrency: config.concurrency,
    orgConcurrency: config.orgConcurrency,
    endpointConcurrency: config.endpointConcurrency,
    attemptTimeoutMs: config.attemptTimeoutMs,
    disableAfter: config.disableAfter,
    maxInMemory: config.maxInMemory,
  });

  const webhooks = createWebhooksService({
    endpoints: store.endpoints,
    write: store.write,
    secrets,
    clock,
    catalog: config.eventTypes,
    checkTarget,
    probe: config.probe ? createProber(client, { clock, userAgent }) : null,
    allowHttp: config.allowHttp,
    maxEndpointsPerOrg: config.maxEndpointsPerOrg,
    stop: engine.endpointStop,
  });
  const events = createEventsService({
    events: store.events,
    deliveries: store.deliveries,
    endpointCache: store.endpointCache,
    write: store.write,
    catalog: config.eventTypes,
    clock,
    maxPayloadBytes: config.maxPayloadBytes,
    orgPublishRate: config.orgPublishRate > 0 ? createRateLimiter(config.orgPublishRate, config.orgPublishRate * 2, clock) : null,
    onScheduled: engine.offer,
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
    sendNow: engine.sendNow,
    sendNowFallbackMs: 2 * config.attemptTimeoutMs + SEND_NOW_FALLBACK_MARGIN_MS,
  });
  const idempotency = createIdempotencyService(clock, store.write);
  const portalSessions = createPortalSessionsService({ sessions: store.portalSessions, orgs: store.orgs, apiKeys: store.apiKeys, write: store.write, clock });
  const sweeper = createSweeper({
    write: store.write,
    sweepIdempotency: idempotency.sweep,
    sweepPortalSessions: portalSessions.sweep,
    resumeCancellations: engine.resumeCancellations,
    exclusive: store.exclusive,
    clock,
    logger,
    retentionDays: config.retentionDays,
    cron: config.retentionCron,
  });

  return { config, logger, clock, metrics, store, startMaintenance, secrets, auth, orgs, adminKeys, webhooks, events, deliveries, idempotency, portalSessions, engine, sweeper };
}
export type Services = Awaited<ReturnType<typeof buildServices>>;

export interface RunningApp {
  url: string;
  port: number;
  services: Services;
  /** The admin key made on this first start, if one was; printed once by `serve`. */
  generatedAdminKey: string | null;
  stop(): Promise<void>;
}

export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const services = await buildServices(config, options);
  const { logger, store } = services;
  const { generated: generatedAdminKey, revoked } = await services.adminKeys.atStart();
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
    deliveryStats: createDeliveryStatsService({ deliveries: store.deliveries, endpoints: store.endpoints, clock: services.clock }),
    orgDeliveries: createOrgDeliveriesService({ deliveries: store.deliveries, endpoints: store.endpoints, events: store.events, attempts: store.attempts }),
    portal: { frameAncestors: config.portalFrameAncestors, title: config.portalTitle, brandColor: config.portalBrandColor, theme: config.portalTheme, logo: config.portalLogo },
  });
  await services.engine.start();
  services.sweeper.start();
  services.startMaintenance();
  http.listen({ port: config.port, hostname: config.host, maxRequestBodySize: 1024 * 1024 * 1024, idleTimeout: idleTimeoutSeconds(config) });
  const server = http.server!;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${server.port}`;
  logger.info("webhookd listening", { url, version: VERSION, storage: config.databaseUrl ? "postgres" : "sqlite", dataDir: config.dataDir });

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
        const drained = await services.engine.stop(SHUTDOWN_GRACE_MS);
        if (!drained) logger.warn("attempts still in flight at shutdown are due again after restart");
        await store.close();
        logger.info("webhookd stopped");
      })();
      return stopping;
    },
  };
}
