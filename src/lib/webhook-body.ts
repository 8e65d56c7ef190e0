/**
 * The wire body of every webhook: `{"event","timestamp","data"}` exactly as JSON.stringify
 * writes it, so seed 001's verification code (which re-serializes the parsed body) matches.
 */
export function webhookBody(event: string, timestamp: string, data: unknown): string {
  return JSON.stringify({ event, timestamp, data });
}
