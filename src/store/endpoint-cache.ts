/**
 * Cached reads of endpoints for the hot paths: fan-out (an org's live endpoints) and dispatch
 * (one endpoint by id). Every change to an endpoint invalidates it inside the write that makes
 * it, so a publish later in the same transaction already reads the change; and the store clears
 * the cache whenever a write rolls back, so nothing read inside an undone change survives.
 */
import { LRUCache } from "lru-cache";
import type { EndpointRow, EndpointsRepo } from "./repositories/endpoints.ts";

export function createEndpointCache(repo: EndpointsRepo, maxOrgs = 10_000) {
  const byOrg = new LRUCache<string, EndpointRow[]>({ max: maxOrgs });
  const byId = new LRUCache<string, EndpointRow>({ max: maxOrgs * 5 });
  return {
    liveForOrg(orgId: string): EndpointRow[] {
      let rows = byOrg.get(orgId);
      if (!rows) {
        rows = repo.list(orgId);
        byOrg.set(orgId, rows);
      }
      return rows;
    },
    /** Deleted endpoints included (their deliveries must see they are gone). */
    get(id: string): EndpointRow | undefined {
      let row = byId.get(id);
      if (!row) {
        row = repo.getById(id);
        if (row) byId.set(id, row);
      }
      return row;
    },
    clear(): void {
      byOrg.clear();
      byId.clear();
    },
    invalidate(orgId: string, endpointId?: string): void {
      byOrg.delete(orgId);
      if (endpointId) byId.delete(endpointId);
      else for (const [id, row] of byId.entries()) if (row.orgId === orgId) byId.delete(id);
    },
  };
}
export type EndpointCache = ReturnType<typeof createEndpointCache>;
