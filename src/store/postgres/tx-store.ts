/** The repositories an op sees inside `write`, bound to its transaction. */
import type { SQL } from "bun";
import type { NodeLeases, StoreTx } from "../port.ts";
import type { TxChanges } from "./changes.ts";
import { pgApiKeysRepo } from "./repositories/api-keys.ts";
import { pgAttemptsRepo } from "./repositories/attempts.ts";
import { pgDeliveriesRepo } from "./repositories/deliveries.ts";
import { pgEndpointsRepo } from "./repositories/endpoints.ts";
import { pgEventsRepo } from "./repositories/events.ts";
import { pgIdempotencyRepo } from "./repositories/idempotency.ts";
import { pgOrgsRepo } from "./repositories/orgs.ts";
import { pgPortalSessionsRepo } from "./repositories/portal-sessions.ts";
import { pgRetentionRepo } from "./repositories/retention.ts";

export function txStore(tx: SQL, changes: TxChanges, leases: NodeLeases): StoreTx {
  return {
    orgs: pgOrgsRepo(tx),
    apiKeys: pgApiKeysRepo(tx, changes),
    endpoints: pgEndpointsRepo(tx, changes),
    events: pgEventsRepo(tx),
    deliveries: pgDeliveriesRepo(tx, leases),
    attempts: pgAttemptsRepo(tx),
    idempotency: pgIdempotencyRepo(tx),
    portalSessions: pgPortalSessionsRepo(tx),
    retention: pgRetentionRepo(tx),
  };
}
