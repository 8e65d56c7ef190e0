/**
 * The server's id bound (src/lib/ids.ts idBound), for the delivery log's time range: ids start
 * with their creation time, so "older than T" is `before=<the id bound of T>`, keyset paging
 * with no new API.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function deliveryIdBound(ms: number): string {
  let t = ms + 1;
  let text = "";
  for (let i = 0; i < 10; i++) {
    text = ALPHABET[t % 32]! + text;
    t = Math.floor(t / 32);
  }
  return `dlv_${text}`;
}
