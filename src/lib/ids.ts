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

const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

function encode(ms: number, random: Uint8Array): string {
  // 80 bits -> 16 base32 characters, each 5 bytes 8 of them, made as one flat string: appended one
  // by one they made a rope that every statement binding the id flattened again (three ids are
  // made per delivery).
  const r = random;
  const hi0 = (r[0]! << 12) | (r[1]! << 4) | (r[2]! >>> 4);
  const lo0 = ((r[2]! & 15) << 16) | (r[3]! << 8) | r[4]!;
  const hi1 = (r[5]! << 12) | (r[6]! << 4) | (r[7]! >>> 4);
  const lo1 = ((r[7]! & 15) << 16) | (r[8]! << 8) | r[9]!;
  return (
    encodeTime(ms) +
    String.fromCharCode(
      CODES[hi0 >>> 15]!, CODES[(hi0 >>> 10) & 31]!, CODES[(hi0 >>> 5) & 31]!, CODES[hi0 & 31]!,
      CODES[lo0 >>> 15]!, CODES[(lo0 >>> 10) & 31]!, CODES[(lo0 >>> 5) & 31]!, CODES[lo0 & 31]!,
      CODES[hi1 >>> 15]!, CODES[(hi1 >>> 10) & 31]!, CODES[(hi1 >>> 5) & 31]!, CODES[hi1 & 31]!,
      CODES[lo1 >>> 15]!, CODES[(lo1 >>> 10) & 31]!, CODES[(lo1 >>> 5) & 31]!, CODES[lo1 & 31]!,
    )
  );
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
