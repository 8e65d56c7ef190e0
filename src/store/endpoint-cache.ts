/**
 * The endpoint cache both adapters serve `EndpointCache` from: an org's live endpoints (fan-out)
 * and one endpoint by id (dispatch). The adapter invalidates an entry in the write that changes
 * it, and clears everything whenever a write rolls back, so nothing read inside an undone change
 * survives.
 */
import { LRUCache } from "lru-cache";
import type { EndpointRow, EndpointsReads } from "./port.ts";

export function createEndpointCache(repo: Pick<EndpointsReads, "list" | "getById">, maxOrgs = 10_000) {
  const byOrg = new LRUCache<string, EndpointRow[]>({ max: maxOrgs });
  const byId = new LRUCache<string, EndpointRow>({ max: maxOrgs * 5 });
  return {
    async liveForOrg(orgId: string): Promise<EndpointRow[]> {
      let rows = byOrg.get(orgId);
      if (!rows) {
        rows = await repo.list(orgId);
        byOrg.set(orgId, rows);
      }
      return rows;
    },
    async get(id: string): Promise<EndpointRow | undefined> {
      let row = byId.get(id);
      if (!row) {
        row = await repo.getById(id);
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
export type LocalEndpointCache = ReturnType<typeof createEndpointCache>;
