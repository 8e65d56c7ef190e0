/** Assertions and small builders shared by the HTTP suites. */
import { expect } from "bun:test";
import type { ApiClient, ApiResponse } from "./server.ts";

/** The error envelope, exactly: `{success: false, error: {code, message[, path]}}`. */
export function expectError(res: ApiResponse, status: number, code: string, path?: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  const error: Record<string, unknown> = { code, message: expect.any(String) };
  if (path !== undefined) error.path = path;
  expect(res.body).toEqual({ success: false, error });
  expect((res.body.error.message as string).length).toBeGreaterThan(0);
  expect(res.headers.get("content-type")).toStartWith("application/json");
}

/** A 2xx in the success envelope; returns `data`. */
export function expectOk<T = any>(res: ApiResponse, status = 200): T {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { success: true } });
  expect(Object.keys(res.body).sort()).toEqual(["data", "success"]);
  return res.body.data as T;
}

/** A 200 page `{success, data, pagination}`; returns `data` and `pagination`. */
export function expectPage<T = any>(res: ApiResponse): { data: T[]; pagination: any } {
  expect({ status: res.status, success: res.body?.success }).toEqual({ status: 200, success: true });
  expect(Object.keys(res.body).sort()).toEqual(["data", "pagination", "success"]);
  return { data: res.body.data, pagination: res.body.pagination };
}

/** Creates an endpoint (201) and returns its `data`. */
export async function createEndpoint(api: ApiClient, key: string, body: Record<string, unknown> = {}): Promise<any> {
  const res = await api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/hook", ...body } });
  return expectOk(res, 201);
}

/** `whsec_` + base64 of 32 random bytes. */
export const SIGNING_SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

/** Every key of the endpoint object, in the API's canonical shape. */
export const ENDPOINT_KEYS = [
  "consecutiveFailures",
  "createdAt",
  "description",
  "disabledAt",
  "disabledReason",
  "events",
  "failureCount",
  "id",
  "isActive",
  "lastTriggeredAt",
  "secret",
  "status",
  "updatedAt",
  "url",
];
