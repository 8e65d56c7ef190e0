import { describe, expect, test } from "bun:test";
import { formatDuration, parseDuration, parseDurationList } from "../../src/lib/duration.ts";

describe("parseDuration", () => {
  test.each([
    ["250ms", 250],
    ["10s", 10_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1.5s", 1_500],
    ["0.25m", 15_000],
    ["0s", 0],
    ["1m30s", 90_000],
    ["1h0m5s", 3_605_000],
    ["  10s  ", 10_000],
  ] as const)("%p -> %p ms", (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  test.each([
    ["", /is empty/],
    ["   ", /is empty/],
    ["-5s", /negative/],
    ["10", /no unit/],
    ["1.5", /no unit/],
    ["10x", /unknown unit "x"/],
    ["10sec", /unknown unit "sec"/],
    ["10S", /unknown unit "S"/],
    ["s", /not a duration/],
    [".5s", /not a duration/],
    ["10 s", /not a duration/],
    ["1e3ms", /unknown unit "e"/],
    ["99999999999999999999d", /too large/],
  ] as const)("rejects %p", (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
  });

  test("error message quotes the input", () => {
    expect(() => parseDuration("10x")).toThrow('Invalid duration "10x"');
  });
});

describe("parseDurationList", () => {
  test.each([
    ["10s,60s,300s", [10_000, 60_000, 300_000]],
    [" 10s , 60s ,300s ", [10_000, 60_000, 300_000]],
    ["250ms", [250]],
    ["", []],
    ["   ", []],
  ] as const)("%p", (text, expected) => {
    expect(parseDurationList(text)).toEqual([...expected]);
  });

  test.each([
    ["10s,,60s", /item 2 \(""\) is empty/],
    ["10s,60", /item 2 \("60"\) has no unit/],
    ["10s,60s,", /item 3/],
  ] as const)("rejects %p naming the bad item", (text, message) => {
    expect(() => parseDurationList(text)).toThrow(message);
  });
});

describe("formatDuration", () => {
  test.each([
    [0, "0ms"],
    [250, "250ms"],
    [1_000, "1s"],
    [10_000, "10s"],
    [90_000, "1m30s"],
    [1_500, "1s500ms"],
    [3_600_000, "1h"],
    [86_400_000 + 61_001, "1d1m1s1ms"],
    [-90_000, "-1m30s"],
    [1_499.6, "1s500ms"],
  ] as const)("%p -> %p", (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  test("its output parses back to the same value", () => {
    for (const ms of [0, 1, 999, 1_000, 61_001, 90_000, 3_599_999, 86_400_000 * 3 + 7]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
