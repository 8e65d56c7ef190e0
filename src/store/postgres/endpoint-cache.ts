/**
 * Cached reads of endpoints for the hot paths (fan-out and dispatch), kept right across nodes:
 * this node's writes drop their entries in the write and again after the commit, other nodes'
 * writes drop them when their notification arrives (notify.ts), and while that channel is known
 * to be down the cache serves nothing from memory. So it is staler than the channel's delay only
 * between the channel's death and its detection (store.ts states that window).
 */
import { LRUCache } from "lru-cache";
import type { EndpointCache, EndpointRow, EndpointsReads } from "../port.ts";

export interface PgEndpointCache extends EndpointCache {
  invalidate(orgId: string, endpointId: string): void;
  /** Forgets everything; with `hearing` false, reads go to the database until it is set true again. */
  reset(hearing: boolean): void;
}

export function createEndpointCache(reads: EndpointsReads, maxOrgs = 10_000): PgEndpointCache {
  const byOrg = new LRUCache<string, EndpointRow[]>({ max: maxOrgs });
  const byId = new LRUCache<string, EndpointRow>({ max: maxOrgs * 5 });
  // A read that started before an invalidation may finish after it with the row as it was;
  // counting invalidations lets it see that and not store what it read.
  let epoch = 0;
  let hearing = false;

  async function load<T extends {}>(cache: LRUCache<string, T>, key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const started = epoch;
    const value = await read();
    if (value !== undefined && hearing && started === epoch) cache.set(key, value);
    return value;
  }

  return {
    async liveForOrg(orgId) {
      return (await load(byOrg, orgId, () => reads.list(orgId)))!;
    },
    get(id) {
      return load(byId, id, () => reads.getById(id));
    },
    invalidate(orgId, endpointId) {
      epoch++;
      byOrg.delete(orgId);
      byId.delete(endpointId);
    },
    reset(nowHearing) {
      epoch++;
      hearing = nowHearing;
      byOrg.clear();
      byId.clear();
    },
  };
}
