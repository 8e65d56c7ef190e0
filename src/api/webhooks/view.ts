import type { EndpointRow } from "../../store/port.ts";
import { iso } from "../common.ts";
import type { Endpoint } from "./schemas.ts";

/** The API's endpoint object; `secret` is whatever the caller may see (full once, else masked). */
export function endpointView(row: EndpointRow, secret: string): Endpoint {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    isActive: row.enabled,
    status: row.enabled ? "enabled" : "disabled",
    disabledReason: row.disabledReason,
    disabledAt: iso(row.disabledAt),
    consecutiveFailures: row.consecutiveFailures,
    failureCount: row.failureCount,
    lastTriggeredAt: iso(row.lastTriggeredAt),
    secret,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}
