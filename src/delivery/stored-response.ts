/**
 * What is kept of a receiver's response. A third party writes it and every tenant shares the
 * disk, so each stored response has a fixed size limit, whatever the receiver sends (README,
 * Guarantees).
 */
export const MAX_RESPONSE_BODY_BYTES = 4096;
export const MAX_RESPONSE_HEADERS = 50;
/** Names and values together, UTF-8; the same bound as the body. */
export const MAX_RESPONSE_HEADER_BYTES = 4096;
/** A redirect's Location is quoted in the stored error message, up to this many characters. */
export const MAX_LOCATION_CHARS = 1024;
/** Says what was left out. Parentheses are not allowed in a header name, so no real header is ever taken for it. */
export const HEADERS_TRUNCATED = "(truncated)";

/**
 * The response headers to store (lower-cased, in name order as Headers iterates): each one that
 * still fits the count and byte limits is kept (so one huge header does not push out the small ones
 * after it), and the marker says how many were not.
 */
export function storedHeaders(headers: Iterable<[string, string]>): Record<string, string> {
  const kept: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  let dropped = 0;
  let droppedBytes = 0;
  for (const [name, value] of headers) {
    const size = Buffer.byteLength(name) + Buffer.byteLength(value);
    if (count < MAX_RESPONSE_HEADERS && bytes + size <= MAX_RESPONSE_HEADER_BYTES) {
      kept[name] = value;
      count++;
      bytes += size;
    } else {
      dropped++;
      droppedBytes += size;
    }
  }
  if (dropped > 0) kept[HEADERS_TRUNCATED] = `${dropped} more headers (${droppedBytes} bytes) not stored`;
  return kept;
}
