/**
 * Counts of an endpoint's deliveries by status over time, for the portal's success rate and
 * chart. A delivery id starts with its creation time, so a time range is an id range: each count
 * is one range of the deliveries_endpoint_status index (endpoint, status, id), read without
 * touching a table row, however large the log. Async like every repository the store is moving to.
 */
import type { Database } from "bun:sqlite";
import { idBound } from "../../lib/ids.ts";
import { deliveryStatuses, type DeliveryStatus } from "../schema.ts";

export type StatusCounts = Record<DeliveryStatus, number>;

export function createDeliveryStatsRepo(sqlite: Database) {
  const countStmt = sqlite.query<{ n: number }, [string, DeliveryStatus, string, string]>(
    `SELECT count(*) AS n FROM deliveries WHERE endpoint_id = ? AND status = ? AND id > ? AND id < ?`,
  );
  /** Ids made in [from, to): above every id made before `from`, below every one made at `to` or later. */
  const range = (from: number, to: number): [string, string] => [idBound("dlv", from - 1), idBound("dlv", to - 1)];

  return {
    /** For each [start, start + step) from `from` up to `to`, the endpoint's deliveries made then, by status. */
    async countsByBucket(endpointId: string, from: number, to: number, step: number): Promise<{ start: number; counts: StatusCounts }[]> {
      const buckets: { start: number; counts: StatusCounts }[] = [];
      for (let start = from; start < to; start += step) {
        const [low, high] = range(start, Math.min(start + step, to));
        const counts = Object.fromEntries(deliveryStatuses.map((s) => [s, countStmt.get(endpointId, s, low, high)?.n ?? 0])) as StatusCounts;
        buckets.push({ start, counts });
      }
      return buckets;
    },
  };
}
export type DeliveryStatsRepo = ReturnType<typeof createDeliveryStatsRepo>;
