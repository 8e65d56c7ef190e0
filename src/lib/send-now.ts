/**
 * The contract between the API's sends outside the schedule (replay, recover, test) and the
 * dispatcher that queues and runs them; types only.
 */
export interface AttemptSummary {
  deliveryId: string;
  success: boolean;
  statusCode: number | null;
  durationMs: number;
  error: { code: string; message: string } | null;
}

/** Refused when the delivery is gone or the endpoint was disabled or deleted before it was sent. */
export type SendNowResult = { sent: AttemptSummary } | { refused: "delivery_gone" | "endpoint_stopped" };

/** A replay or test someone waits for goes ahead of its endpoint's queue; a recover's replays do not. */
export type SendUrgency = "interactive" | "background";

export type SendNow = (deliveryId: string, trigger: "replay" | "test", urgency?: SendUrgency) => Promise<SendNowResult>;
