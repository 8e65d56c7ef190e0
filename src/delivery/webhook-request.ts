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
    ...eventHeaders(input.eventId, input.eventType, input.at),
    "user-agent": input.userAgent,
    ...signatureHeaders({ id: input.eventId, timestampSec: Math.floor(input.at / 1000), body: input.body, secrets: input.secrets }),
  };
}

/** The headers that follow from the event and the attempt's time alone. */
function eventHeaders(eventId: string, eventType: string, at: number): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-webhook-event": eventType,
    "x-webhook-id": eventId,
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(at / 1000)),
  };
}

/**
 * What the delivery log keeps of an attempt's request headers: only what its attempt row and its
 * event cannot give back: the user agent (it changes with the version) and the signatures (they
 * took the secrets of that moment). About 150 bytes an attempt, bounded by construction (one
 * signature per secret, at most two), where the full set was about 450 and cost about 4 µs of CPU
 * per delivery to build, encode and write (README, Performance).
 */
const STORED_REQUEST_HEADERS = ["user-agent", "x-webhook-signature", "webhook-signature"] as const;

export function storedRequestHeaders(sent: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of STORED_REQUEST_HEADERS) {
    const value = sent[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

export interface SentAttempt {
  eventId: string;
  eventType: string;
  /** The attempt's time: its row's `createdAt`, the time it was signed with. */
  at: number;
  url: string;
  /** The event's body; null once retention removed it (its length is then not shown). */
  body: string | null;
}

/**
 * An attempt's request headers as the receiver got them (but for the transport's own: accept,
 * accept-encoding, connection), rebuilt from what `storedRequestHeaders` kept and the facts the
 * rest follow from. What was stored wins, so rows that kept every header show them as they were.
 */
export function requestHeadersAsSent(stored: Record<string, string>, sent: SentAttempt): Record<string, string> {
  return {
    ...eventHeaders(sent.eventId, sent.eventType, sent.at),
    host: new URL(sent.url).host,
    ...(sent.body === null ? {} : { "content-length": String(Buffer.byteLength(sent.body)) }),
    ...stored,
  };
}
