/**
 * Decides what happens after a delivery attempt: done, retry after some delay, give up, or (410)
 * give up on the endpoint itself.
 * Pure: time and randomness are passed in, so the same inputs always give the same decision.
 */

export interface RetryPolicyOptions {
  /** Delays in ms before retry 1..n, e.g. [10000, 60000, 300000]: n retries, n + 1 attempts. */
  schedule: number[];
  /** Fraction of each scheduled delay to randomise by: 0.1 means ±10%. Spreads retry storms. */
  jitter: number;
  /** Upper bound for a receiver's Retry-After, so one response can't park a delivery for days. */
  retryAfterMaxMs: number;
  /** Uniform in [0, 1); injected so tests are deterministic. Defaults to Math.random. */
  random?: () => number;
}

export type AttemptOutcome = { ok: true } | { ok: false; statusCode?: number; retryAfter?: string | null };

export type RetryDecision =
  | { kind: "succeeded" }
  | { kind: "retry"; delayMs: number; reason: "schedule" | "retry_after" }
  | { kind: "exhausted" }
  /** 410 Gone: the receiver says the endpoint no longer exists (Standard Webhooks: disable it). */
  | { kind: "gone" };

export interface RetryPolicy {
  /** `attemptNumber` is 1-based: the attempt that just finished. */
  decide(attemptNumber: number, outcome: AttemptOutcome, nowMs: number): RetryDecision;
  /** The first attempt plus one retry per schedule entry. */
  readonly maxAttempts: number;
}

/** Statuses whose Retry-After means "back off"; elsewhere (e.g. 3xx) the header means something else. */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export function createRetryPolicy(opts: RetryPolicyOptions): RetryPolicy {
  const { schedule, jitter, retryAfterMaxMs } = opts;
  const random = opts.random ?? Math.random;
  if (!schedule.every((ms) => Number.isFinite(ms) && ms >= 0)) {
    throw new RangeError(`Retry schedule delays must be finite and >= 0, got [${schedule.join(", ")}].`);
  }
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`Retry jitter must be between 0 and 1, got ${jitter}.`);
  if (!(Number.isFinite(retryAfterMaxMs) && retryAfterMaxMs >= 0)) {
    throw new RangeError(`retryAfterMaxMs must be finite and >= 0, got ${retryAfterMaxMs}.`);
  }

  const withJitter = (ms: number): number => Math.round(ms * (1 + jitter * (2 * random() - 1)));

  return {
    maxAttempts: schedule.length + 1,
    decide(attemptNumber, outcome, nowMs) {
      if (!Number.isInteger(attemptNumber) || attemptNumber < 1) {
        throw new RangeError(`attemptNumber is 1-based, got ${attemptNumber}.`);
      }
      if (outcome.ok) return { kind: "succeeded" };
      if (outcome.statusCode === 410) return { kind: "gone" };
      const scheduledMs = schedule[attemptNumber - 1];
      if (scheduledMs === undefined) return { kind: "exhausted" };

      const delayMs = withJitter(scheduledMs);
      const requestedMs =
        outcome.statusCode !== undefined && RETRY_AFTER_STATUSES.has(outcome.statusCode)
          ? parseRetryAfter(outcome.retryAfter, nowMs)
          : null;
      // A receiver may slow us down (up to the clamp) but never speed us up.
      if (requestedMs !== null && Math.min(requestedMs, retryAfterMaxMs) > delayMs) {
        return { kind: "retry", delayMs: Math.min(requestedMs, retryAfterMaxMs), reason: "retry_after" };
      }
      return { kind: "retry", delayMs, reason: "schedule" };
    },
  };
}

/**
 * Reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * Returns ms from `nowMs`, or null when absent, malformed, or in the past.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isSafeInteger(ms) ? ms : null;
  }
  const dateMs = parseHttpDate(text, nowMs);
  if (dateMs === null || dateMs < nowMs) return null;
  return dateMs - nowMs;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const TIME = String.raw`(?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2})`;
const MONTH = String.raw`(?<month>[A-Z][a-z]{2})`;
// The three forms RFC 9110 §5.6.7 requires recipients to accept. Date.parse alone is too lenient
// (it reads "10.5" as a date) and reads asctime as local time.
const HTTP_DATE_FORMATS = [
  new RegExp(String.raw`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\d{2}) ${MONTH} (?<year>\d{4}) ${TIME} GMT$`),
  new RegExp(
    String.raw`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?<day>\d{2})-${MONTH}-(?<year>\d{2}) ${TIME} GMT$`,
  ),
  new RegExp(String.raw`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} (?<day>[ \d]\d) ${TIME} (?<year>\d{4})$`),
];

function parseHttpDate(text: string, nowMs: number): number | null {
  const groups = HTTP_DATE_FORMATS.map((format) => format.exec(text)?.groups).find((g) => g !== undefined);
  if (groups === undefined) return null;
  const yearText = groups.year ?? "";
  const year = yearText.length === 2 ? expandTwoDigitYear(Number(yearText), nowMs) : Number(yearText);
  const month = MONTHS.indexOf(groups.month ?? "");
  const day = Number(groups.day);
  const hour = Number(groups.hour);
  const minute = Number(groups.minute);
  const second = Number(groups.second);
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC rolls impossible dates over ("31 Feb" becomes 3 Mar); a real date round-trips unchanged.
  const date = new Date(ms);
  const roundTrips =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return roundTrips ? ms : null;
}

/** RFC 9110: a two-digit year more than 50 years ahead means the most recent such year in the past. */
function expandTwoDigitYear(twoDigits: number, nowMs: number): number {
  const currentYear = new Date(nowMs).getUTCFullYear();
  const year = currentYear - (currentYear % 100) + twoDigits;
  return year > currentYear + 50 ? year - 100 : year;
}
