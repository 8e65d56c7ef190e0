/**
 * Human-written durations ("250ms", "10s", "1.5m", "1m30s") <-> milliseconds, for config
 * values such as the retry schedule and for readable log/error messages.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;

// "ms" is listed before "m" so "5ms" is read as milliseconds, not as minutes followed by junk.
const SEGMENT = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const UNITS_HINT = 'ms, s, m, h or d (e.g. "10s", "1.5m", "1m30s")';

type Parsed = { ok: true; ms: number } | { ok: false; reason: string };

function parse(text: string): Parsed {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) return { ok: false, reason: explainInvalid(trimmed) };
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(SEGMENT)) {
    total += Number(amount) * UNIT_MS[unit as Unit];
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) return { ok: false, reason: "is too large" };
  return { ok: true, ms };
}

/** Only runs on failure, so it can afford to be specific about what is wrong. */
function explainInvalid(trimmed: string): string {
  if (trimmed === "") return `is empty; expected a number followed by ${UNITS_HINT}`;
  if (trimmed.startsWith("-")) return "is negative; durations must be zero or more";
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return `has no unit; use ${UNITS_HINT}`;
  const unknownUnit = /^\d+(?:\.\d+)?([^\d.\s]+)/.exec(trimmed)?.[1];
  if (unknownUnit !== undefined && !(unknownUnit in UNIT_MS)) {
    return `has unknown unit "${unknownUnit}"; use ${UNITS_HINT}`;
  }
  return `is not a duration; expected a number followed by ${UNITS_HINT}`;
}

/**
 * Parses a duration into whole milliseconds. Accepts one or more `<number><unit>` segments
 * (units ms, s, m, h, d; decimals allowed), so "1m30s" — what formatDuration prints — reads back.
 * Throws on anything else.
 */
export function parseDuration(text: string): number {
  const parsed = parse(text);
  if (!parsed.ok) throw new Error(`Invalid duration "${text}": ${parsed.reason}.`);
  return parsed.ms;
}

/** Parses a comma-separated list such as "10s, 60s, 300s". An empty or blank string is []. */
export function parseDurationList(text: string): number[] {
  if (text.trim() === "") return [];
  return text.split(",").map((item, index) => {
    const parsed = parse(item);
    if (!parsed.ok) {
      throw new Error(`Invalid duration list "${text}": item ${index + 1} ("${item.trim()}") ${parsed.reason}.`);
    }
    return parsed.ms;
  });
}

/** Formats milliseconds compactly for messages: 250 -> "250ms", 90000 -> "1m30s", 0 -> "0ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let remaining = Math.round(ms);
  if (remaining === 0) return "0ms";
  let out = "";
  for (const unit of Object.keys(UNIT_MS) as Unit[]) {
    const size = UNIT_MS[unit];
    const count = Math.floor(remaining / size);
    if (count > 0) {
      out += `${count}${unit}`;
      remaining -= count * size;
    }
  }
  return out;
}
