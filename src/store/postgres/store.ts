/**
 * The PostgreSQL adapter of the storage port (cluster mode): one pool of connections, one
 * transaction per write, the endpoint cache kept right across nodes by LISTEN/NOTIFY.
 *
 * How stale can a node's view be? A change committed by another node is heard when its
 * notification arrives (a few milliseconds on one network; test/store/postgres.test.ts measures
 * it). While the LISTEN connection is known to be down nothing is served from the cache, and when
 * it is back the changes made meanwhile (endpoints by updated_at, keys by revoked_at, looked up
 * from a little before the loss to cover clocks apart) are told to the listeners as if heard. A
 * connection that dies without closing is found by the heartbeat (notify.ts) within two
 * heartbeats: the one window where a node can serve a stale endpoint.
 */
import { SQL } from "bun";
import { ServiceUnavailableError } from "../../lib/errors.ts";
import { silentLogger, type Logger } from "../../lib/logger.ts";
import type { Store } from "../port.ts";
import type { Change } from "./changes.ts";
import { createEndpointCache } from "../endpoint-cache.ts";
import { asStorageFault } from "./errors.ts";
import { migratePostgres } from "./migrate.ts";
import { listenForChanges } from "./notify.ts";
import { faultMapped } from "../fault-mapped.ts";
import { pgApiKeysReads } from "./repositories/api-keys.ts";
import { pgAttemptsReads } from "./repositories/attempts.ts";
import { pgDeliveriesReads } from "./repositories/deliveries.ts";
import { pgEndpointsReads } from "./repositories/endpoints.ts";
import { pgEventsReads } from "./repositories/events.ts";
import { pgIdempotencyReads } from "./repositories/idempotency.ts";
import { pgPortalSessionsReads } from "./repositories/portal-sessions.ts";
import { pgOrgsReads } from "./repositories/orgs.ts";
import { createTransactions } from "./transactions.ts";
import { runExclusive } from "./exclusive.ts";

export interface PostgresStoreOptions {
  /** Connections in the pool: how many writes and reads run at once. */
  maxConnections?: number;
  /** How long a new connection may take before the write or read waiting on it gets the 503. */
  connectTimeoutSeconds?: number;
  /** How long a statement waits for a row lock (another node's transaction) before the write gets the 503. */
  lockTimeoutMs?: number;
  /**
   * How long the server lets a transaction sit idle before it ends the session: a node paused or
   * cut off mid-write must not hold its row locks (an org's, an endpoint's) from every other node.
   */
  idleInTransactionTimeoutMs?: number;
  /** How long `checkWritable` waits for an answer. */
  checkTimeoutMs?: number;
  /** How far apart the nodes' clocks may be: the catch-up after a lost LISTEN connection looks back this much further. */
  clockSkewMs?: number;
  /** How often the LISTEN connection is checked by a ping through the database: a silent one is replaced within two of these. */
  heartbeatMs?: number;
  /** This node's name in its notifications and its delivery leases (a random one by default). */
  node?: string;
  /**
   * How long a node's lease on a delivery lasts past its due time or its last renewal, whichever
   * is later. The engine renews every third of it, so a live node keeps what it holds through a
   * stall of up to two thirds of it; a node that dies loses its rows to the others at most this
   * long after they came due.
   */
  leaseMs?: number;
  logger?: Logger;
  clock?: () => number;
}

/** 60 s: a node's rows are taken over within a minute of its death; a stall of 40 s (six default attempt timeouts) costs it nothing. */
export const DEFAULT_LEASE_MS = 60_000;

export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const node = options.node ?? crypto.randomUUID();
  const checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  // A silent connection is found up to two heartbeats after it stopped delivering.
  const lookBackMs = (options.clockSkewMs ?? 60_000) + 2 * heartbeatMs;
  const sql = new SQL(url, {
    max: options.maxConnections ?? 20,
    connectionTimeout: options.connectTimeoutSeconds ?? 5,
    connection: {
      // "durable" is the default whatever the server's own default is; "relaxed" turns it off per transaction.
      synchronous_commit: "on",
      lock_timeout: `${options.lockTimeoutMs ?? 5_000}ms`,
      idle_in_transaction_session_timeout: `${options.idleInTransactionTimeoutMs ?? 15_000}ms`,
      // Short queries on indexes only: JIT compiling one (the planner overestimates a claim's
      // rows) cost 7 ms of a 8 ms claim, measured beside a 300k-row backlog.
      jit: "off",
    },
  });
  try {
    await migratePostgres(sql, clock);
  } catch (error) {
    await sql.close();
    throw asStorageFault(error);
  }

  const orgs = faultMapped(pgOrgsReads(sql), asStorageFault);
  const apiKeys = faultMapped(pgApiKeysReads(sql), asStorageFault);
  const endpoints = faultMapped(pgEndpointsReads(sql), asStorageFault);
  const events = faultMapped(pgEventsReads(sql), asStorageFault);
  const deliveries = faultMapped(pgDeliveriesReads(sql), asStorageFault);
  const attempts = faultMapped(pgAttemptsReads(sql), asStorageFault);
  const idempotency = faultMapped(pgIdempotencyReads(sql), asStorageFault);
  const portalSessions = faultMapped(pgPortalSessionsReads(sql), asStorageFault);
  const endpointCache = createEndpointCache(endpoints);

  const endpointListeners: Array<(orgId: string, endpointId: string) => void> = [];
  const keyListeners: Array<(keyHash: string) => void> = [];
  /** A throwing listener is logged, never the writer's problem nor the other listeners'. */
  function tell<A extends unknown[]>(listeners: Array<(...args: A) => void>, ...args: A): void {
    for (const l of listeners) {
      try {
        l(...args);
      } catch (error) {
        logger.error("a store change listener threw", { error: String(error) });
      }
    }
  }
  /** Drops the cached copy and tells the listeners. */
  function apply(change: Change): void {
    if (change.kind === "endpoint") {
      endpointCache.invalidate(change.orgId, change.endpointId);
      tell(endpointListeners, change.orgId, change.endpointId);
    } else {
      tell(keyListeners, change.keyHash);
    }
  }

  const leases = { owner: node, leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS };
  const transactions = createTransactions({
    sql,
    node,
    leases,
    changing: (c) => {
      if (c.kind === "endpoint") endpointCache.invalidate(c.orgId, c.endpointId);
    },
    committed: (changes) => changes.forEach(apply),
  });

  /** When the LISTEN connection was lost; null while it is heard. */
  let lostAt: number | null = null;
  /** Losses so far: a catch-up that a new loss overtook must not turn the cache back on. */
  let losses = 0;
  let closed = false;

  /** Tells the listeners what changed while the LISTEN connection was down; tries again until it can. */
  async function catchUp(): Promise<void> {
    if (closed || lostAt === null) return;
    const since = lostAt - lookBackMs;
    const lossesBefore = losses;
    try {
      const keys = await sql`SELECT key_hash FROM api_keys WHERE revoked_at >= ${since}`;
      const changed = await sql`SELECT org_id, id FROM endpoints WHERE updated_at >= ${since}`;
      if (losses === lossesBefore) {
        lostAt = null;
        endpointCache.reset(true);
      }
      for (const k of keys) apply({ kind: "key", keyHash: k.key_hash });
      for (const e of changed) apply({ kind: "endpoint", orgId: e.org_id, endpointId: e.id });
      logger.info("store: hearing other nodes' changes again", { keysRevoked: keys.length, endpointsChanged: changed.length });
    } catch (error) {
      logger.warn("store: could not catch up on missed changes; trying again", { error: String(error) });
      setTimeout(catchUp, 1_000);
    }
  }

  let listener: Awaited<ReturnType<typeof listenForChanges>>;
  try {
    listener = await listenForChanges({ url, pool: sql, node, heartbeatMs }, {
      changed: apply,
      deaf() {
        losses++;
        endpointCache.reset(false);
        if (lostAt !== null) return;
        lostAt = clock();
        logger.warn("store: lost the connection that hears other nodes' changes; the endpoint cache is off until it is back");
      },
      hearing() {
        if (lostAt === null) endpointCache.reset(true);
        else void catchUp();
      },
    });
  } catch (error) {
    await sql.close();
    throw asStorageFault(error);
  }

  async function checkWritable(): Promise<void> {
    const query = sql`SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS read_only`;
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        query.cancel();
        reject(new ServiceUnavailableError("STORAGE_UNAVAILABLE", `The database did not answer within ${checkTimeoutMs} ms. Retry shortly.`));
      }, checkTimeoutMs);
    });
    try {
      const [row] = await Promise.race([query, timeout]);
      if (row.read_only) throw new ServiceUnavailableError("STORAGE_UNAVAILABLE", "The database is read-only (a standby?). Retry shortly.");
    } catch (error) {
      throw asStorageFault(error);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    backend: "postgres",
    leases,
    exclusive: (name, job) => runExclusive(sql, name, job),
    orgs,
    apiKeys,
    endpoints,
    events,
    deliveries,
    attempts,
    idempotency,
    portalSessions,
    endpointCache: { liveForOrg: endpointCache.liveForOrg, get: endpointCache.get, peek: endpointCache.peek },
    changes: {
      onEndpointChanged: (l) => void endpointListeners.push(l),
      onKeyRevoked: (l) => void keyListeners.push(l),
    },
    write: transactions.write,
    checkWritable,
    flush: transactions.flush,
    async close() {
      closed = true;
      await transactions.close();
      await listener.close();
      await sql.close();
    },
  };
}
