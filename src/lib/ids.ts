/**
 * Resource ids: a type prefix, then a ULID-style body (48-bit ms timestamp + 80 random bits,
 * Crockford base32). Time-sortable, so "newest first" is an index scan on the primary key.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "org" | "key" | "wh" | "evt" | "dlv" | "att" | "msg" | "ps";

let lastMs = -1;
let lastRandom = new Uint8Array(10);

let timeMs = -1;
let timeText = "";

/** The 10-character time part; ids are made in bursts within one millisecond, so it is cached. */
function encodeTime(ms: number): string {
  if (ms !== timeMs) {
    let t = ms;
    let text = "";
    for (let i = 0; i < 10; i++) {
      text = ALPHABET[t % 32]! + text;
      t = Math.floor(t / 32);
    }
    timeMs = ms;
    timeText = text;
  }
  return timeText;
}

function encode(ms: number, random: Uint8Array): string {
  let out = encodeTime(ms);
  // 80 bits -> 16 base32 chars: each 5 bytes are 8 characters. Indexed, not iterated: three ids
  // are made per delivery, and the iterator protocol was most of their cost.
  for (let i = 0; i < 10; i += 5) {
    const hi = (random[i]! << 12) | (random[i + 1]! << 4) | (random[i + 2]! >>> 4);
    const lo = ((random[i + 2]! & 15) << 16) | (random[i + 3]! << 8) | random[i + 4]!;
    out +=
      ALPHABET[hi >>> 15]! + ALPHABET[(hi >>> 10) & 31]! + ALPHABET[(hi >>> 5) & 31]! + ALPHABET[hi & 31]! +
      ALPHABET[lo >>> 15]! + ALPHABET[(lo >>> 10) & 31]! + ALPHABET[(lo >>> 5) & 31]! + ALPHABET[lo & 31]!;
  }
  return out;
}

/** Monotonic within one process: ids made in the same millisecond still sort in creation order. */
export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  if (now <= lastMs) {
    const next = new Uint8Array(lastRandom);
    for (let i = next.length - 1; i >= 0; i--) {
      if (next[i]! < 255) {
        next[i]!++;
        break;
      }
      next[i] = 0;
    }
    lastRandom = next;
    now = lastMs;
  } else {
    lastRandom = crypto.getRandomValues(new Uint8Array(10));
    lastMs = now;
  }
  return `${prefix}_${encode(now, lastRandom)}`;
}

/** Sorts after every id of this prefix made at or before `ms`, and before every one made later. */
export function idBound(prefix: IdPrefix, ms: number): string {
  return `${prefix}_${encodeTime(ms + 1)}`;
}

const ID_BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Cheap shape check so hostile path parameters never reach the database. */
export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_BODY.test(value.slice(prefix.length + 1));
}
