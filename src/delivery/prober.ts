/**
 * Seed 002's probe: before an endpoint URL is stored, a signed POST must get a 2xx within 10 s.
 * Goes through the same client as deliveries, so the same SSRF rules and pinning apply.
 */
import type { Clock } from "../lib/clock.ts";
import { BadRequestError } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { webhookBody } from "../lib/webhook-body.ts";
import type { HttpClient } from "./http-client.ts";
import { webhookHeaders } from "./webhook-request.ts";

export const PROBE_EVENT = "webhook.probe";
export const PROBE_TIMEOUT_MS = 10_000;

export function createProber(client: HttpClient, opts: { clock: Clock; userAgent: string; timeoutMs?: number }) {
  return async (url: string, secret: string): Promise<void> => {
    const at = opts.clock();
    const body = webhookBody(PROBE_EVENT, new Date(at).toISOString(), { probe: true });
    const headers = webhookHeaders({ eventId: newId("msg", at), eventType: PROBE_EVENT, body, secrets: [secret], at, userAgent: opts.userAgent });
    const result = await client.send({ url, headers, body, timeoutMs: opts.timeoutMs ?? PROBE_TIMEOUT_MS });
    if (!result.ok) {
      throw new BadRequestError("URL_PROBE_FAILED", `The URL did not answer a signed probe POST with a 2xx: ${result.error?.message ?? "no 2xx"}.`);
    }
  };
}
