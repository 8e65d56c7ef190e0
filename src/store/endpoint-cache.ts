/**
 * The endpoint cache both adapters serve `EndpointCache` from: an org's live endpoints (fan-out)
 * and one endpoint by id (dispatch). The adapter drops an entry in the write that changes it
 * (SQLite: inside the group commit, so a later op of the same transaction reads the change;
 * PostgreSQL: in the write, again after the commit, and when another node's notification arrives,
 * postgres/notify.ts), and resets it when a write rolls back or, on PostgreSQL, while the
 * notification channel is known to be down (then nothing is served from memory).
 */
import { LRUCache } from "lru-cache";
import type { EndpointCache, EndpointRow, EndpointsReads } from "./port.ts";

export interface LocalEndpointCache extends EndpointCache {
  invalidate(orgId: string, endpointId: string): void;
  /** Forgets everything; with `hearing` false, reads go to the database until it is set true again. */
  reset(hearing: boolean): void;
}

/** `hearing`: whether changes are heard from the start (SQLite: always; PostgreSQL: once LISTEN is up). */
export function createEndpointCache(reads: Pick<EndpointsReads, "list" | "getById">, { hearing: initiallyHearing = false, maxOrgs = 10_000 } = {}): LocalEndpointCache {
  const byOrg = new LRUCache<string, EndpointRow[]>({ max: maxOrgs });
  const byId = new LRUCache<string, EndpointRow>({ max: maxOrgs * 5 });
  // A read that started before an invalidation may finish after it with the row as it was;
  // counting invalidations lets it see that and not store what it read.
  let epoch = 0;
  let hearing = initiallyHearing;

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
    peek: (id) => byId.get(id),
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
