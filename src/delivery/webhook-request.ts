import { signatureHeaders } from "./signer.ts";

export interface WebhookRequestInput {
  /** The webhook-id: the event id, the same on every attempt and replay. */
  eventId: string;
  eventType: string;
  body: string;
  secrets: string[];
  at: number;
  userAgent: string;
}

/** The headers of every webhook POST: seed 001's and Standard Webhooks' signatures side by side. */
export function webhookHeaders(input: WebhookRequestInput): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": input.userAgent,
    "x-webhook-event": input.eventType,
    "x-webhook-id": input.eventId,
    ...signatureHeaders({ id: input.eventId, timestampSec: Math.floor(input.at / 1000), body: input.body, secrets: input.secrets }),
  };
}
