/**
 * Composition root: opens the store, builds the services, starts and stops the HTTP server
 * (and, with the delivery engine, the scheduler and sweeper). The only module that knows them all.
 */
import { join } from "node:path";
import type { Config } from "./config.ts";
import { systemClock, type Clock } from "./lib/clock.ts";
import { createLogger, type Logger } from "./lib/logger.ts";
import { createRateLimiter } from "./lib/token-bucket.ts";
import { openStore, type Store } from "./store/store.ts";
import { createSecretBox, loadOrCreateMasterKey } from "./security/secret-box.ts";
import { hashApiKey } from "./security/tokens.ts";
import { systemResolver, type Resolver } from "./security/resolver.ts";
import { vetTarget } from "./security/target-guard.ts";
import { createAuthService } from "./api/auth/service.ts";
import { createOrgsService } from "./api/orgs/service.ts";
import { createWebhooksService } from "./api/webhooks/service.ts";
import { createIdempotencyService } from "./api/idempotency/service.ts";
import { createHttpApp } from "./http/app.ts";
import { VERSION } from "./version.ts";

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** Tests play DNS through this (rebinding, mixed answers). */
  resolver?: Resolver;
}

export function databaseFile(config: Pick<Config, "dataDir">): string {
  return join(config.dataDir, "webhookd.db");
}

/** Everything but the network listener: used by `serve`, by CLI commands and by tests. */
export function buildServices(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const resolver = options.resolver ?? systemResolver;
  const store: Store = openStore(databaseFile(config));
  const secretBox = createSecretBox(loadOrCreateMasterKey(config.dataDir, config.masterKey));
  const auth = createAuthService({
    apiKeys: store.apiKeys,
    orgs: store.orgs,
    configuredAdminKeyHash: config.adminKey ? hashApiKey(config.adminKey) : null,
  });
  const orgs = createOrgsService({ orgs: store.orgs, apiKeys: store.apiKeys, clock, onKeyRevoked: auth.forgetKeyHash });
  const checkTarget = (url: URL) => vetTarget(url, { resolver, allowPrivate: config.allowPrivateTargets });
  const webhooks = createWebhooksService({
    endpoints: store.endpoints,
    secretBox,
    clock,
    catalog: config.eventTypes,
    checkTarget,
    probe: null,
    allowHttp: config.allowHttp,
    maxEndpointsPerOrg: config.maxEndpointsPerOrg,
    onChanged: () => {},
    onStopped: () => {},
  });
  const idempotency = createIdempotencyService(store.idempotency, clock);
  return { config, logger, clock, store, auth, orgs, webhooks, idempotency };
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
  const generatedAdminKey = services.orgs.ensureAdminKey(config.adminKey !== undefined);
  const http = createHttpApp({
    version: VERSION,
    logger,
    auth: services.auth,
    rateLimiter: config.rateLimit > 0 ? createRateLimiter(config.rateLimit, config.rateLimit * 2, services.clock) : null,
    idempotency: services.idempotency,
    orgs: services.orgs,
    webhooks: services.webhooks,
    catalog: config.eventTypes,
    maxPayloadBytes: config.maxPayloadBytes,
    checkWritable: store.checkWritable,
  });
  http.listen({ port: config.port, hostname: config.host, maxRequestBodySize: 1024 * 1024 * 1024 });
  const server = http.server!;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${server.port}`;
  logger.info("webhookd listening", { url, version: VERSION, dataDir: config.dataDir });

  let stopped = false;
  return {
    url,
    port: server.port ?? config.port,
    services,
    generatedAdminKey,
    async stop() {
      if (stopped) return;
      stopped = true;
      await http.stop();
      store.close();
      logger.info("webhookd stopped");
    },
  };
}
