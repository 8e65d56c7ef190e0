/**
 * The store: one SQLite file behind repositories. Everything above this module sees only the
 * repositories, so another backend can replace it without touching services.
 */
import { BUSY_TIMEOUT_MS, openDatabase, type StoreHandle } from "./database.ts";
import { migrate } from "./migrate.ts";
import { createApiKeysRepo } from "./repositories/api-keys.ts";
import { createEndpointsRepo } from "./repositories/endpoints.ts";
import { createIdempotencyRepo } from "./repositories/idempotency.ts";
import { createOrgsRepo } from "./repositories/orgs.ts";
import { createEventsRepo } from "./repositories/events.ts";
import { createDeliveriesRepo } from "./repositories/deliveries.ts";
import { createAttemptsRepo } from "./repositories/attempts.ts";
import { createRetentionRepo } from "./repositories/retention.ts";
import { createPortalSessionsRepo } from "./repositories/portal-sessions.ts";
import { createDeliveryStatsRepo } from "./repositories/delivery-stats.ts";
import { createEndpointCache } from "./endpoint-cache.ts";
import { createWriteBatcher, type StorageObserver } from "./write-batcher.ts";

/** `observer` hears how long writes waited on storage (for metrics). */
export function openStore(file: string, { observer }: { observer?: StorageObserver } = {}) {
  const handle: StoreHandle = openDatabase(file);
  migrate(handle.sqlite);
  const { db, sqlite } = handle;
  const endpoints = createEndpointsRepo(db);
  const endpointCache = createEndpointCache(endpoints);
  const batcher = createWriteBatcher(sqlite, { observer, onRollback: () => endpointCache.clear() });
  return {
    orgs: createOrgsRepo(db),
    apiKeys: createApiKeysRepo(db),
    endpoints,
    endpointCache,
    idempotency: createIdempotencyRepo(db),
    events: createEventsRepo(db),
    deliveries: createDeliveriesRepo(db),
    attempts: createAttemptsRepo(db),
    retention: createRetentionRepo(sqlite),
    portalSessions: createPortalSessionsRepo(db, batcher.submit),
    deliveryStats: createDeliveryStatsRepo(sqlite),
    batcher,
    /** Every API write goes through here, so none of them waits for a lock on the event loop. */
    write: batcher.submit,
    /** Throws unless the database takes a write lock now. */
    checkWritable(): void {
      // Ask without waiting: bun:sqlite waits out busy_timeout synchronously, which would
      // freeze the whole process on every readiness probe while another process holds a lock.
      sqlite.run("PRAGMA busy_timeout = 0");
      try {
        sqlite.run("BEGIN IMMEDIATE");
        sqlite.run("ROLLBACK");
      } finally {
        sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
    },
    close(): void {
      batcher.close();
      handle.close();
    },
  };
}
export type Store = ReturnType<typeof openStore>;
