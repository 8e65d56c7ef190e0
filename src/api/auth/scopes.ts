export const SCOPES = ["webhooks:read", "webhooks:write", "events:write"] as const;
export type Scope = (typeof SCOPES)[number];
export const ADMIN_SCOPE = "admin";
