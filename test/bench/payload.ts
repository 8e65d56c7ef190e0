/**
 * What every bench process sends: the event data published to webhookd, and the webhook request
 * webhookd makes of it (body + signed headers), rebuilt here so the ceiling sends the same bytes.
 */
import { createHmac, randomBytes } from "node:crypto";

export const EVENT_TYPE = "call.ended";

/** Epoch milliseconds with sub-ms resolution, comparable across processes on this machine. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export function eventData(seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: `call_${seq}`, status: "ended", to: "+14155551234", from: "+14155559999", duration: 45, seq, ...extra };
}

export const newSecret = (): string => `whsec_${randomBytes(32).toString("base64")}`;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID-shaped id (`prefix_` + 26 Crockford chars): time-sortable by `ms`, unique by `seq`. */
export function benchId(prefix: string, ms: number, seq: number): string {
  let out = "";
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) out = ALPHABET[t % 32] + out;
  let tail = "";
  for (let i = 0, n = seq; i < 16; i++, n = Math.floor(n / 32)) tail = ALPHABET[n % 32] + tail;
  return `${prefix}_${out}${tail}`;
}

/** The body and headers webhookd puts on the wire for one attempt (see src/delivery/webhook-request.ts). */
export function signedWebhook(eventId: string, body: string, secret: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return {
    "content-type": "application/json",
    "user-agent": "webhookd/0.1.0",
    "x-webhook-event": EVENT_TYPE,
    "x-webhook-id": eventId,
    "x-webhook-signature": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    "webhook-id": eventId,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${createHmac("sha256", key).update(`${eventId}.${timestamp}.${body}`).digest("base64")}`,
  };
}

export function webhookBody(data: unknown): string {
  return JSON.stringify({ event: EVENT_TYPE, timestamp: new Date().toISOString(), data });
}

/** argv[2] of a child process: its JSON parameters. */
export function childArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? "{}") as T;
}

/** A child's one result line on stdout. */
export function report(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

/** A long-lived role ends itself when the bench dies without cleaning up (e.g. SIGKILL). */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500).unref();
}
