import type { AttemptRow, DeliveryRow, EventBody } from "../../store/port.ts";
import { utf8Prefix } from "../../lib/utf8.ts";
import { iso } from "../common.ts";
import { requestHeadersAsSent } from "../../delivery/webhook-request.ts";

export function deliveryStatusView(d: DeliveryRow) {
  return {
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastAttemptAt: iso(d.lastAttemptAt),
    statusCode: d.lastStatusCode,
  };
}

/** One attempt of delivery `d`; `body` is its event's (null once retention removed it). */
export function attemptView(a: AttemptRow, d: Pick<DeliveryRow, "eventId" | "eventType">, body: string | null) {
  return {
    id: a.id,
    attempt: a.attemptNumber,
    trigger: a.trigger,
    url: a.url,
    statusCode: a.statusCode,
    durationMs: a.durationMs,
    error: a.errorCode ? { code: a.errorCode, message: a.errorMessage ?? "" } : null,
    // Null when nothing was sent (blocked, no address) and for attempts logged before headers were kept.
    request:
      a.requestHeaders === null
        ? null
        : { headers: requestHeadersAsSent(a.requestHeaders, { eventId: d.eventId, eventType: d.eventType, at: a.createdAt, url: a.url, body }) },
    response: a.statusCode === null ? null : { status: a.statusCode, headers: a.responseHeaders ?? {}, body: a.responseBody ?? "" },
    createdAt: iso(a.createdAt),
  };
}

/**
 * One delivery log entry (seed 002): the payload sent, the response received, status, timing.
 * `maxPayloadBytes` cuts the payload (a list shows a preview; GET of the one delivery has it all).
 */
export function deliveryLogView(d: DeliveryRow, payload: EventBody, latest: AttemptRow | undefined, maxPayloadBytes = Infinity) {
  const shown = utf8Prefix(payload.text, maxPayloadBytes);
  return {
    id: d.id,
    eventId: d.eventId,
    event: d.eventType,
    ...deliveryStatusView(d),
    success: d.status === "succeeded",
    durationMs: d.lastDurationMs,
    payload: shown,
    payloadTruncated: payload.cut || shown.length < payload.text.length,
    response: latest && latest.statusCode !== null ? { status: latest.statusCode, headers: latest.responseHeaders ?? {}, body: latest.responseBody ?? "" } : null,
    error: d.lastErrorCode ? { code: d.lastErrorCode, message: d.lastErrorMessage ?? "" } : null,
    createdAt: iso(d.createdAt),
  };
}
