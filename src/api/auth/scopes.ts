export const SCOPES = ["webhooks:read", "webhooks:write", "events:write"] as const;
export type Scope = (typeof SCOPES)[number];
/** What the admin key made at first start lists as its scope (admin keys belong to no org). */
export const ADMIN_SCOPE = "admin";
