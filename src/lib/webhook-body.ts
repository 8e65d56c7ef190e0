/**
 * The wire body of every webhook: `{"event","timestamp","data"}` exactly as JSON.stringify
 * writes it, so seed 001's verification code (which re-serializes the parsed body) matches.
 */
export function webhookBody(event: string, timestamp: string, data: unknown): string {
  return webhookBodyOf(event, timestamp, JSON.stringify(data));
}

/** The same bytes from `data` already serialized (publish measured it): no second stringify. */
export function webhookBodyOf(event: string, timestamp: string, dataJson: string): string {
  return `{"event":${JSON.stringify(event)},"timestamp":${JSON.stringify(timestamp)},"data":${dataJson}}`;
}
