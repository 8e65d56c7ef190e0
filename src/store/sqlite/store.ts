/**
 * The SQLite adapter of the storage port: one file, one writer with group commit ("a 2xx means
 * on disk"), WAL checkpoints on a thread of their own. The embedded default.
 */
import { silentLogger, type Logger } from "../../lib/logger.ts";
import type { Store, StoreTx } from "../port.ts";
import { createEndpointCache } from "../endpoint-cache.ts";
import { BUSY_TIMEOUT_MS, openDatabase } from "./database.ts";
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
import { createChangeNotices } from "./change-notices.ts";
import { asStorageFault, createWriteBatcher, type StorageObserver } from "./write-batcher.ts";
import { startCheckpointer, type Checkpointer } from "./checkpointer.ts";
import { storageFault } from "./storage-fault.ts";
import { faultMapped } from "../fault-mapped.ts";

export interface SqliteStore extends Store {
  /** Starts the WAL checkpoint thread (serve only; CLI commands do without). */
  startCheckpointer(logger: Logger): Checkpointer;
}

/** `observer` hears how long writes waited on storage (for metrics); `logger` hears a change listener fail. */
export function openSqliteStore(file: string, { observer, logger = silentLogger }: { observer?: StorageObserver; logger?: Logger } = {}): SqliteStore {
  const { db, sqlite, close } = openDatabase(file);
  migrate(sqlite);
  let checkpointer: Checkpointer | null = null;
  // The cache reads through the repositories made just below (it is made first: they tell it of changes).
  const cache = createEndpointCache({ list: (orgId) => tx.endpoints.list(orgId), getById: (id) => tx.endpoints.getById(id) }, { hearing: true });
  const { notices, changes, ...told } = createChangeNotices(cache, logger);
  const batcher = createWriteBatcher(sqlite, { observer, onRollback: () => cache.reset(true), notices: told });
  const tx: StoreTx = {
    orgs: createOrgsRepo(db),
    apiKeys: createApiKeysRepo(db, notices),
    endpoints: createEndpointsRepo(db, notices, batcher),
    events: createEventsRepo(db),
    deliveries: createDeliveriesRepo(db),
    attempts: createAttemptsRepo(db),
    idempotency: createIdempotencyRepo(db),
    portalSessions: createPortalSessionsRepo(db),
    retention: createRetentionRepo(sqlite),
  };
  batcher.bind(tx);
  // Reads run on the same connection (the port's types keep writes inside `write`); a storage
  // fault in one is the same 503 as in a write.
  const reads = <R extends object>(repo: R): R => faultMapped(repo, asStorageFault);
  return {
    backend: "sqlite",
    // One process owns the file: nothing to claim from anyone, and every job runs once already.
    leases: null,
    exclusive: (_name, job) => job(),
    orgs: reads(tx.orgs),
    apiKeys: reads(tx.apiKeys),
    endpoints: reads(tx.endpoints),
    events: reads(tx.events),
    deliveries: reads(tx.deliveries),
    attempts: reads(tx.attempts),
    idempotency: reads(tx.idempotency),
    portalSessions: reads(tx.portalSessions),
    endpointCache: { liveForOrg: cache.liveForOrg, get: cache.get, peek: cache.peek },
    changes,
    write: batcher.submit,
    async checkWritable() {
      // Ask without waiting: bun:sqlite waits out busy_timeout synchronously, which would
      // freeze the whole process on every readiness probe while another process holds a lock.
      sqlite.run("PRAGMA busy_timeout = 0");
      try {
        sqlite.run("BEGIN IMMEDIATE");
        sqlite.run("ROLLBACK");
      } catch (error) {
        throw storageFault(error) ?? error;
      } finally {
        sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
    },
    flush: () => batcher.flush(),
    startCheckpointer(logger) {
      checkpointer = startCheckpointer(file, logger);
      return checkpointer;
    },
    async close() {
      await batcher.flush();
      await checkpointer?.stop();
      batcher.close();
      close();
    },
  };
}
