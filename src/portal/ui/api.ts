/**
 * The portal's only way to the server: the same /api/v1 routes and checks as any client. A
 * customer's browser authenticates with its session cookie (and the CSRF token on writes); an
 * operator's with the admin key it pasted (kept in sessionStorage: this tab only, gone when the
 * tab closes, never sent by the browser on its own, so there is nothing to forge).
 */
export type Auth =
  | { kind: "session"; csrfToken: string }
  | { kind: "admin"; key: string; orgId: string | null };

/** Dispatched on window when the server no longer knows the caller (401). */
export const SIGNED_OUT_EVENT = "webhookd:signed-out";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

export interface Page<T> {
  data: T[];
  pagination: Record<string, unknown>;
}

export function createApi(auth: Auth) {
  async function request<T>(method: string, path: string, body?: unknown): Promise<{ data: T; raw: any }> {
    const headers: Record<string, string> = {};
    if (auth.kind === "session") {
      if (method !== "GET") headers["x-csrf-token"] = auth.csrfToken;
    } else {
      headers["x-api-key"] = auth.key;
      if (auth.orgId) headers["x-org-id"] = auth.orgId;
    }
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    // The session ended (expiry, sign-out elsewhere) or the admin key was revoked: the app says so once, not every panel.
    if (res.status === 401) dispatchEvent(new Event(SIGNED_OUT_EVENT));
    if (res.status === 204) return { data: undefined as T, raw: null };
    const raw = await res.json().catch(() => null);
    if (!res.ok || !raw?.success) {
      const e = raw?.error ?? {};
      throw new ApiError(res.status, e.code ?? "HTTP_" + res.status, e.message ?? `The server answered ${res.status}.`, e.path);
    }
    return { data: raw.data as T, raw };
  }
  return {
    auth,
    get: async <T>(path: string) => (await request<T>("GET", path)).data,
    page: async <T>(path: string) => {
      const { data, raw } = await request<T[]>("GET", path);
      return { data, pagination: raw.pagination } as Page<T>;
    },
    post: async <T>(path: string, body?: unknown) => (await request<T>("POST", path, body)).data,
    patch: async <T>(path: string, body: unknown) => (await request<T>("PATCH", path, body)).data,
    del: async (path: string) => {
      await request<void>("DELETE", path);
    },
    /** The same API with the admin key acting in another org (X-Org-Id). */
    inOrg(orgId: string) {
      if (auth.kind !== "admin") throw new Error("only the admin key acts in other orgs");
      return createApi({ ...auth, orgId });
    },
  };
}
export type Api = ReturnType<typeof createApi>;

/** The shapes the portal reads (a subset of what the API answers). */
export interface Endpoint {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  isActive: boolean;
  status: "enabled" | "disabled";
  disabledReason: "manual" | "too_many_failures" | "gone" | null;
  disabledAt: string | null;
  consecutiveFailures: number;
  lastTriggeredAt: string | null;
  secret: string;
  createdAt: string;
}
export interface EventType {
  name: string;
  description: string;
  example: Record<string, unknown>;
}
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
export interface ErrorInfo {
  code: string;
  message: string;
}
export interface Delivery {
  id: string;
  /** In the org-wide log. */
  endpointId?: string;
  endpointUrl?: string;
  /** In the org-wide log: the endpoint was deleted (its log stays until retention). */
  endpointDeleted?: boolean;
  eventId: string;
  event: string;
  status: "pending" | "succeeded" | "failed" | "cancelled";
  success: boolean;
  attempts: number;
  statusCode: number | null;
  durationMs: number | null;
  payload: string;
  payloadTruncated: boolean;
  response: StoredResponse | null;
  error: ErrorInfo | null;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
}
export interface Attempt {
  id: string;
  attempt: number;
  trigger: "scheduled" | "replay" | "test";
  url: string;
  statusCode: number | null;
  durationMs: number;
  error: ErrorInfo | null;
  /** The request headers webhookd sent; null when nothing was sent or for attempts logged before they were kept. */
  request: { headers: Record<string, string> } | null;
  response: StoredResponse | null;
  createdAt: string;
}
export interface Outcome {
  deliveryId: string;
  success: boolean;
  statusCode: number | null;
  durationMs: number;
  error: ErrorInfo | null;
}
export interface StatusCounts {
  pending: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}
export interface Stats {
  since: string;
  until: string;
  bucketSeconds: number;
  total: StatusCounts;
  successRate: number | null;
  buckets: { start: string; counts: StatusCounts }[];
}
export interface SessionInfo {
  id: string;
  orgId: string;
  orgName: string;
  readOnly: boolean;
  expiresAt: string;
  returnUrl: string | null;
  csrfToken: string;
}
export interface Org {
  id: string;
  name: string;
  createdAt: string;
}
export interface ApiKey {
  id: string;
  name: string | null;
  prefix?: string;
  keyPrefix?: string;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
  key?: string;
}
