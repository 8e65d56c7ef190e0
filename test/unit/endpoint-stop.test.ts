/** Stopping an endpoint: the cancellation's batching, with an in-memory table and the group commit faked. */
import { expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { idBound } from "../../src/lib/ids.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { createEndpointStopper } from "../../src/delivery/endpoint-stop.ts";
import type { StoreTx, StoreWrite } from "../../src/store/port.ts";

const T0 = 1_700_000_000_000;

function setup(pendingIds: string[], stopped: string[] = []) {
  const pending = new Set(pendingIds);
  const writes: number[] = [];
  const cancelled: number[] = [];
  const tx = {
    deliveries: {
      cancelPendingBatch: async (_endpointId: string, beforeId: string, _now: number, limit: number) => {
        const batch = [...pending].filter((id) => id < beforeId).slice(0, limit);
        for (const id of batch) pending.delete(id);
        return batch.length;
      },
    },
  } as unknown as StoreTx;
  const canceller = createEndpointStopper({
    deliveries: { stoppedWithPending: async () => (pending.size > 0 ? stopped : []) },
    // Resolves in microtasks: the canceller's whole loop is done by the next macrotask.
    write: (async (op) => {
      const n = (await op(tx)) as number;
      writes.push(n);
      return n;
    }) as StoreWrite,
    clock: manualClock(T0 + 10),
    logger: silentLogger,
    onCancelled: (n) => cancelled.push(n),
    batchSize: 3,
  });
  return { canceller, tx, pending, writes, cancelled };
}

/** Ids made at `at`, in order. */
const ids = (n: number, at = T0) => Array.from({ length: n }, (_, i) => `${idBound("dlv", at - 1)}${String(i).padStart(16, "0")}`);

test("a full first batch hands the rest to writes of their own, until one comes back short", async () => {
  const h = setup(ids(8));
  const first = await h.canceller.inWrite(h.tx, "wh_1", T0);
  expect(first).toBe(3);
  h.canceller.committed("wh_1", T0, first);
  await Bun.sleep(0);
  expect(h.writes).toEqual([3, 2]);
  expect(h.cancelled).toEqual([3, 3, 2]);
});

test("a short first batch is the whole job", async () => {
  const h = setup(ids(2));
  h.canceller.committed("wh_1", T0, await h.canceller.inWrite(h.tx, "wh_1", T0));
  await Bun.sleep(0);
  expect(h.writes).toEqual([]);
  expect(h.cancelled).toEqual([2]);
});

test("only what was pending when the endpoint stopped is cancelled", async () => {
  const before = ids(4, T0);
  const after = ids(2, T0 + 5_000);
  const h = setup([...before, ...after]);
  h.canceller.committed("wh_1", T0, await h.canceller.inWrite(h.tx, "wh_1", T0));
  await Bun.sleep(0);
  expect([...h.pending]).toEqual(after);
});

test("resume() finishes the endpoints left stopped with pending deliveries", async () => {
  const h = setup(ids(7), ["wh_1"]);
  await h.canceller.resume();
  await Bun.sleep(0);
  expect(h.writes).toEqual([3, 3, 1]);
});

test("an endpoint stopped again while its batches run is gone over again up to its later stop", async () => {
  const h = setup([...ids(8, T0), ...ids(2, T0 + 5_000)]);
  h.canceller.committed("wh_1", T0, await h.canceller.inWrite(h.tx, "wh_1", T0));
  // Enabled, published to, and disabled again before the first job is through.
  h.canceller.committed("wh_1", T0 + 6_000, await h.canceller.inWrite(h.tx, "wh_1", T0 + 6_000));
  await Bun.sleep(0);
  expect(h.pending.size).toBe(0);
});
