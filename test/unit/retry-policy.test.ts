import { describe, expect, test } from "bun:test";
import {
  type AttemptOutcome,
  createRetryPolicy,
  parseRetryAfter,
  type RetryPolicyOptions,
} from "../../src/delivery/retry-policy.ts";

const SECOND = 1_000;
const HOUR = 3_600_000;
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0); // Tue, 01 Jan 2030 12:00:00 GMT
const FAILED: AttemptOutcome = { ok: false, statusCode: 500 };

/** A "random" source that always returns `r`: 0 is the low jitter edge, 0.5 no jitter, ~1 the high edge. */
const always = (r: number) => () => r;

/** Deterministic uniform [0, 1) source (mulberry32). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function policy(overrides: Partial<RetryPolicyOptions> = {}) {
  return createRetryPolicy({
    schedule: [10 * SECOND, 60 * SECOND, 300 * SECOND],
    jitter: 0.1,
    retryAfterMaxMs: HOUR,
    random: always(0.5),
    ...overrides,
  });
}

describe("createRetryPolicy: schedule", () => {
  test("the default 10s,60s,300s schedule allows 4 attempts", () => {
    expect(policy().maxAttempts).toBe(4);
  });

  test.each([
    // attempt that failed, random, expected delay
    [1, 0.5, 10_000],
    [1, 0, 9_000],
    [1, 0.999999999, 11_000],
    [2, 0.5, 60_000],
    [2, 0, 54_000],
    [2, 0.999999999, 66_000],
    [3, 0.5, 300_000],
    [3, 0, 270_000],
    [3, 0.999999999, 330_000],
    [3, 0.75, 315_000],
  ] as const)("after attempt %p fails with random()=%p, retry in %p ms", (attempt, r, delayMs) => {
    expect(policy({ random: always(r) }).decide(attempt, FAILED, NOW)).toEqual({
      kind: "retry",
      delayMs,
      reason: "schedule",
    });
  });

  test.each([
    [[10 * SECOND, 60 * SECOND, 300 * SECOND], 4],
    [[10 * SECOND], 2],
    [[], 1],
  ] as const)("schedule %p is exhausted when attempt %p fails", (schedule, lastAttempt) => {
    const p = policy({ schedule: [...schedule] });
    expect(p.maxAttempts).toBe(lastAttempt);
    for (let attempt = 1; attempt < lastAttempt; attempt++) {
      expect(p.decide(attempt, FAILED, NOW).kind).toBe("retry");
    }
    expect(p.decide(lastAttempt, FAILED, NOW)).toEqual({ kind: "exhausted" });
    expect(p.decide(lastAttempt + 1, FAILED, NOW)).toEqual({ kind: "exhausted" });
  });

  test.each([1, 3, 4, 9])("success after attempt %p is final", (attempt) => {
    expect(policy().decide(attempt, { ok: true }, NOW)).toEqual({ kind: "succeeded" });
  });

  test("a network failure with no status code follows the schedule", () => {
    expect(policy().decide(1, { ok: false }, NOW)).toEqual({ kind: "retry", delayMs: 10_000, reason: "schedule" });
  });

  test("jitter stays within ±jitter of the scheduled delay across many draws", () => {
    const p = policy({ random: seededRandom(42), jitter: 0.2 });
    const delays: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const decision = p.decide(2, FAILED, NOW);
      if (decision.kind !== "retry") throw new Error(`expected retry, got ${decision.kind}`);
      delays.push(decision.delayMs);
    }
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(48_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(72_000);
    // Both sides of the scheduled delay are used, not just one edge.
    expect(delays.some((d) => d < 50_000)).toBe(true);
    expect(delays.some((d) => d > 70_000)).toBe(true);
  });

  test("zero jitter gives exact delays whatever random() returns", () => {
    const p = policy({ jitter: 0, random: seededRandom(7) });
    for (let i = 0; i < 100; i++) expect(p.decide(1, FAILED, NOW)).toMatchObject({ delayMs: 10_000 });
  });

  test.each([
    ["negative delay", { schedule: [10, -1] }, /schedule/],
    ["NaN delay", { schedule: [Number.NaN] }, /schedule/],
    ["negative jitter", { jitter: -0.1 }, /jitter/],
    ["jitter above 1", { jitter: 1.5 }, /jitter/],
    ["negative Retry-After clamp", { retryAfterMaxMs: -1 }, /retryAfterMaxMs/],
  ] as const)("rejects %s", (_label, overrides, message) => {
    expect(() => policy(overrides as Partial<RetryPolicyOptions>)).toThrow(message);
  });

  test.each([0, -1, 1.5])("rejects attemptNumber %p", (attempt) => {
    expect(() => policy().decide(attempt, FAILED, NOW)).toThrow(/1-based/);
  });
});

describe("createRetryPolicy: Retry-After", () => {
  const inFiveMinutes = new Date(NOW + 300 * SECOND).toUTCString();
  const anHourAgo = new Date(NOW - HOUR).toUTCString();

  test.each([
    // status, Retry-After, expected delay, expected reason
    [429, "120", 120_000, "retry_after"],
    [503, "120", 120_000, "retry_after"],
    [429, inFiveMinutes, 300_000, "retry_after"],
    [429, "5", 10_000, "schedule"], // asking for faster than the schedule is ignored
    [429, "10", 10_000, "schedule"], // equal: nothing to honour
    [429, "999999", HOUR, "retry_after"], // clamped to retryAfterMaxMs
    [503, "soon", 10_000, "schedule"],
    [503, "-30", 10_000, "schedule"],
    [503, "1.5", 10_000, "schedule"],
    [503, anHourAgo, 10_000, "schedule"],
    [429, null, 10_000, "schedule"],
    [500, "120", 10_000, "schedule"], // only 429 and 503 carry back-off meaning
    [502, "120", 10_000, "schedule"],
    [301, "120", 10_000, "schedule"],
  ] as const)("%p with Retry-After %p -> %p ms (%s)", (statusCode, retryAfter, delayMs, reason) => {
    expect(policy().decide(1, { ok: false, statusCode, retryAfter }, NOW)).toEqual({ kind: "retry", delayMs, reason });
  });

  test("Retry-After never shortens a long scheduled delay, even when the clamp is below it", () => {
    const p = policy({ retryAfterMaxMs: 60 * SECOND });
    expect(p.decide(3, { ok: false, statusCode: 429, retryAfter: "999" }, NOW)).toEqual({
      kind: "retry",
      delayMs: 300_000,
      reason: "schedule",
    });
  });

  test("410 Gone is no retry but a verdict on the endpoint, on any attempt, whatever Retry-After says", () => {
    for (const attempt of [1, 2, 4, 9]) {
      expect(policy().decide(attempt, { ok: false, statusCode: 410, retryAfter: "5" }, NOW)).toEqual({ kind: "gone" });
    }
    expect(policy().decide(1, { ok: false, statusCode: 404 }, NOW).kind).toBe("retry");
  });

  test("Retry-After does not extend the number of attempts", () => {
    expect(policy().decide(4, { ok: false, statusCode: 429, retryAfter: "60" }, NOW)).toEqual({ kind: "exhausted" });
  });
});

describe("parseRetryAfter", () => {
  test.each([
    ["120", 120_000],
    [" 120 ", 120_000],
    ["0", 0],
    ["86400", 86_400_000],
    ["Tue, 01 Jan 2030 12:01:30 GMT", 90_000], // IMF-fixdate
    ["Tue, 01 Jan 2030 12:00:00 GMT", 0], // exactly now
    ["Tuesday, 01-Jan-30 12:01:30 GMT", 90_000], // obsolete RFC 850
    ["Tue Jan  1 12:01:30 2030", 90_000], // obsolete asctime, read as GMT
    ["Sat Jan  5 12:00:00 2030", 4 * 24 * HOUR],
    ["Thursday, 01-Jan-31 12:00:00 GMT", 365 * 24 * HOUR], // two-digit year within 50 years: ahead
  ] as const)("%p -> %p ms", (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  test.each([
    [null],
    [undefined],
    [""],
    ["   "],
    ["soon"],
    ["-1"],
    ["1.5"],
    ["10.5"], // Date.parse would read this as a date in 2001
    ["1e3"],
    ["9".repeat(30)], // too large to be meaningful
    ["Tue, 01 Jan 2030 11:59:59 GMT"], // in the past
    ["Monday, 01-Jan-99 12:00:00 GMT"], // two-digit year 99 is 1999, not 2099: past
    ["Fri, 31 Feb 2030 12:00:00 GMT"], // no such day
    ["Tue, 01 Jan 2030 25:00:00 GMT"],
    ["tue, 01 jan 2030 12:01:30 gmt"], // HTTP-date is case-sensitive
    ["Tue, 01 Jan 2030 12:01:30 +0000"],
    ["2030-01-01T12:01:30Z"],
  ] as const)("%p -> null", (value) => {
    expect(parseRetryAfter(value, NOW)).toBeNull();
  });
});
