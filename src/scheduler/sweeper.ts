/**
 * The retention sweeper: on a croner schedule, deletes logs, finished deliveries and events older
 * than the retention window (deleted endpoints' logs included), expired idempotency records and
 * ended portal sessions,
 * in small batches, each one write of the group commit, so other writes never wait long behind it.
 * In a cluster every node has the schedule and one of them sweeps (`exclusive`); the others skip.
 */
import { Cron } from "croner";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/logger.ts";
import { retentionTables, type Store, type StoreWrite } from "../store/port.ts";

export interface SweeperDeps {
  write: StoreWrite;
  /** Runs the sweep unless another node is running it (the store's `exclusive`); without it the sweep always runs. */
  exclusive?: Store["exclusive"];
  sweepIdempotency: (now: number) => Promise<number>;
  /** Deletes portal sessions that have ended. */
  sweepPortalSessions?: (now: number) => Promise<number>;
  /** Finishes cancelling the pending deliveries of stopped endpoints, should one have been cut short. */
  resumeCancellations: () => Promise<void>;
  clock: Clock;
  logger: Logger;
  retentionDays: number;
  cron: string;
  batchSize?: number;
}

export function createSweeper(deps: SweeperDeps) {
  const batchSize = deps.batchSize ?? 500;
  let job: Cron | null = null;

  /** Deletes what the retention window has passed; null when another node is sweeping now. */
  function runOnce(): Promise<Record<string, number> | null> {
    return deps.exclusive ? deps.exclusive("retention sweep", sweep) : sweep();
  }

  async function sweep(): Promise<Record<string, number>> {
    await deps.resumeCancellations();
    const now = deps.clock();
    const cutoff = now - deps.retentionDays * 86_400_000;
    const deleted: Record<string, number> = {};
    for (const table of retentionTables) {
      deleted[table] = 0;
      for (;;) {
        // Relaxed: a delete lost to a power cut is simply done again by the next sweep.
        const n = await deps.write((tx) => tx.retention.deleteBatch(table, cutoff, batchSize), "relaxed");
        deleted[table] += n;
        if (n < batchSize) break;
      }
    }
    deleted.idempotencyRecords = await deps.sweepIdempotency(now);
    if (deps.sweepPortalSessions) deleted.portalSessions = await deps.sweepPortalSessions(now);
    if (Object.values(deleted).some((n) => n > 0)) deps.logger.info("retention sweep", deleted);
    return deleted;
  }

  return {
    start(): void {
      // protect: a slow sweep is never overlapped by the next one.
      job = new Cron(deps.cron, { protect: true }, async () => {
        try {
          await runOnce();
        } catch (err) {
          deps.logger.error("retention sweep failed", { error: String(err) });
        }
      });
    },
    runOnce,
    stop(): void {
      job?.stop();
    },
  };
}
export type Sweeper = ReturnType<typeof createSweeper>;
