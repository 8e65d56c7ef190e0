/**
 * An endpoint's deliveries counted by status over a time range, in equal buckets: the portal's
 * "success rate over the last 24 h" and its chart of deliveries over time.
 */
import { NotFoundError, ValidationError } from "../../lib/errors.ts";
import type { Clock } from "../../lib/clock.ts";
import type { DeliveriesReads, EndpointsReads, StatusCounts } from "../../store/port.ts";

export const MAX_BUCKETS = 96;
/** The longest retention (WEBHOOKD_RETENTION_DAYS caps at 3650): a recover's count may reach back that far. */
export const MAX_RANGE_MS = 3660 * 24 * 3600_000;
export const DEFAULT_RANGE_MS = 24 * 3600_000;

export interface DeliveryStatsDeps {
  deliveries: Pick<DeliveriesReads, "countsByBucket">;
  endpoints: EndpointsReads;
  clock: Clock;
}

const empty = (): StatusCounts => ({ pending: 0, succeeded: 0, failed: 0, cancelled: 0 });

export function createDeliveryStatsService({ deliveries, endpoints, clock }: DeliveryStatsDeps) {
  return {
    async forEndpoint(orgId: string, endpointId: string, query: { since?: number; until?: number; buckets?: number }) {
      // Deleted endpoints included: their log stays readable until retention removes it.
      if (!(await endpoints.getWithDeleted(orgId, endpointId))) throw new NotFoundError("Webhook endpoint");
      const until = query.until ?? clock();
      const since = query.since ?? until - DEFAULT_RANGE_MS;
      if (!(since < until)) throw new ValidationError("since must be before until.", "since");
      if (until - since > MAX_RANGE_MS) throw new ValidationError(`The range may span at most ${MAX_RANGE_MS / 86_400_000} days.`, "since");
      const count = Math.min(query.buckets ?? 24, MAX_BUCKETS);
      const step = Math.ceil((until - since) / count);
      const buckets = await deliveries.countsByBucket(endpointId, since, until, step);
      const total = empty();
      for (const b of buckets) for (const s of Object.keys(total) as (keyof StatusCounts)[]) total[s] += b.counts[s];
      const finished = total.succeeded + total.failed + total.cancelled;
      return {
        since,
        until,
        bucketSeconds: step / 1000,
        total,
        /** Succeeded over finished (pending ones are not counted yet); null when none finished. */
        successRate: finished === 0 ? null : total.succeeded / finished,
        buckets,
      };
    },
  };
}
export type DeliveryStatsService = ReturnType<typeof createDeliveryStatsService>;
