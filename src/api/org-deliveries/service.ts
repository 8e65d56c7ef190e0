/**
 * The delivery log across an org's endpoints, newest first (the portal's "all deliveries"). Ids
 * sort by creation time across endpoints, so one cursor pages the merged log: each page reads
 * `limit + 1` rows from each endpoint's own index range below the cursor and keeps the newest.
 * A page costs endpoints × limit index rows, however long the logs are. Deleted endpoints' logs
 * are kept until retention (30 days), so they are in it too, marked, up to MAX_DELETED_ENDPOINTS.
 */
import type { DeliveriesReads, DeliveryFilter, EndpointsReads, EventsReads, AttemptsReads } from "../../store/port.ts";
import { deliveryLogView } from "../deliveries/view.ts";
import { LIST_PAYLOAD_BYTES } from "../deliveries/service.ts";

/**
 * The org's most recently deleted endpoints whose logs the org-wide log also reads: deletes are
 * the tenant's to make, and each endpoint costs a page its own index range. An endpoint deleted
 * before these keeps its log under its own /webhooks/{id}/deliveries.
 */
export const MAX_DELETED_ENDPOINTS = 50;

export interface OrgDeliveriesDeps {
  deliveries: DeliveriesReads;
  endpoints: EndpointsReads;
  events: EventsReads;
  attempts: AttemptsReads;
}

export function createOrgDeliveriesService(deps: OrgDeliveriesDeps) {
  return {
    /** A page of the org's deliveries (its live endpoints' and its recently deleted ones') older than `filter.before` (from the newest without it). */
    async list(orgId: string, limit: number, filter: DeliveryFilter) {
      const [live, deleted] = await Promise.all([deps.endpoints.list(orgId), deps.endpoints.listDeleted(orgId, MAX_DELETED_ENDPOINTS)]);
      const endpoints = [...live, ...deleted];
      const byId = new Map(endpoints.map((e) => [e.id, e]));
      const perEndpoint = await Promise.all(endpoints.map(async (e) => deps.deliveries.page(e.id, filter, 0, limit + 1)));
      const merged = perEndpoint.flat().sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const hasMore = merged.length > limit;
      const rows = merged.slice(0, limit);
      const bodies = await deps.events.bodies(rows.map((r) => r.eventId), LIST_PAYLOAD_BYTES);
      const latest = await deps.attempts.latestFor(rows.map((r) => r.id));
      return {
        items: rows.map((d) => ({
          ...deliveryLogView(d, bodies.get(d.eventId) ?? { text: "", cut: false }, latest.get(d.id), LIST_PAYLOAD_BYTES),
          endpointId: d.endpointId,
          endpointUrl: byId.get(d.endpointId)!.url,
          endpointDeleted: byId.get(d.endpointId)!.deletedAt !== null,
        })),
        pagination: { limit, hasMore, nextBefore: hasMore ? rows.at(-1)!.id : null },
      };
    },
  };
}
export type OrgDeliveriesService = ReturnType<typeof createOrgDeliveriesService>;
