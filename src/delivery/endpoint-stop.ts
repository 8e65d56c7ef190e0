/**
 * Stopping an endpoint, the one operation behind a manual disable, an auto-disable and a delete:
 * the change to the endpoint row is the caller's, in its write; this cancels the endpoint's
 * pending deliveries in bounded batches,
 * so that stopping an endpoint with 300k pending never holds the event loop or the write lock
 * for long. The first batch is cancelled inside the write that stops the endpoint; when it was
 * full, the rest follow in writes of their own. Nothing is sent meanwhile: the dispatcher skips
 * every delivery of a stopped endpoint. What was pending when the endpoint stopped is cancelled
 * even if it is enabled again before the batches are through, as a single write would have.
 *
 * A process that dies mid-way (or a batch refused by storage) leaves rows pending for an
 * endpoint that is still stopped: `resume()`, run at start and by every retention sweep, finds
 * those endpoints and finishes the job.
 */
import type { Clock } from "../lib/clock.ts";
import { idBound } from "../lib/ids.ts";
import type { Logger } from "../lib/logger.ts";
import type { DeliveriesReads, StoreTx, StoreWrite } from "../store/port.ts";

/** Rows per write: a few milliseconds of the event loop (measured: ~4 ms for 1,000). */
export const CANCEL_BATCH_SIZE = 1_000;

export interface EndpointStopperDeps {
  deliveries: Pick<DeliveriesReads, "stoppedWithPending">;
  write: StoreWrite;
  clock: Clock;
  logger: Logger;
  /** Deliveries cancelled, once committed: for metrics. */
  onCancelled: (count: number) => void;
  batchSize?: number;
}

/** What the code that stops an endpoint calls: once inside its write, once after the commit. */
export interface EndpointStop {
  /** Inside the write that stops the endpoint: cancels the first batch; returns how many. */
  inWrite(tx: StoreTx, endpointId: string, stoppedAt: number): Promise<number>;
  /** After that write committed: counts them, and cancels the rest in writes of their own if there may be more. */
  committed(endpointId: string, stoppedAt: number, cancelled: number): void;
}

export function createEndpointStopper(deps: EndpointStopperDeps) {
  const batchSize = deps.batchSize ?? CANCEL_BATCH_SIZE;
  /** Endpoint id -> the id bound of what was pending when it stopped. One loop works through them. */
  const queued = new Map<string, string>();
  let working: Promise<void> | null = null;
  let stopping = false;

  const batch = (tx: StoreTx, endpointId: string, before: string) =>
    tx.deliveries.cancelPendingBatch(endpointId, before, deps.clock(), batchSize);

  async function work(): Promise<void> {
    while (queued.size > 0 && !stopping) {
      const [endpointId, before] = queued.entries().next().value!;
      try {
        for (let n = batchSize; n === batchSize && !stopping; ) {
          // Relaxed: a batch lost to a power cut is done again by resume().
          n = await deps.write((tx) => batch(tx, endpointId, before), "relaxed");
          deps.onCancelled(n);
        }
      } catch (error) {
        deps.logger.error("could not cancel an endpoint's pending deliveries; the next sweep finishes it", { endpointId, error: String(error) });
        queued.delete(endpointId);
      }
      // Stopped again meanwhile (disabled, enabled, disabled): its entry has a later bound, and runs again.
      if (queued.get(endpointId) === before) queued.delete(endpointId);
    }
    working = null;
  }

  function enqueue(endpointId: string, before: string): void {
    if (stopping) return;
    if ((queued.get(endpointId) ?? "") < before) queued.set(endpointId, before);
    working ??= work();
  }

  const stop: EndpointStop = {
    inWrite: (tx, endpointId, stoppedAt) => batch(tx, endpointId, idBound("dlv", stoppedAt)),
    committed(endpointId, stoppedAt, cancelled) {
      deps.onCancelled(cancelled);
      if (cancelled === batchSize) enqueue(endpointId, idBound("dlv", stoppedAt));
    },
  };

  return {
    ...stop,
    /** Finishes cancellations cut short (a crash, a storage fault). */
    async resume(): Promise<void> {
      const before = idBound("dlv", deps.clock());
      for (const endpointId of await deps.deliveries.stoppedWithPending()) enqueue(endpointId, before);
    },
    /** Finishes the batch in progress and starts no other; what is left is resumed at the next start. */
    async stop(): Promise<void> {
      stopping = true;
      await working;
    },
  };
}
export type EndpointStopper = ReturnType<typeof createEndpointStopper>;
