import type { WebhooksService } from "./service.ts";

/** DELETE of an endpoint, the same on every dialect: 204 with no body. */
export function deleteEndpointHandler(service: WebhooksService) {
  return async ({ orgId, params, set }: { orgId: string; params: { id: string }; set: { status?: number | string } }) => {
    await service.delete(orgId, params.id);
    set.status = 204;
    return null;
  };
}
