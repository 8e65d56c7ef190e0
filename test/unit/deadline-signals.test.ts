import { expect, test } from "bun:test";
import { manualClock } from "../../src/lib/clock.ts";
import { createDeadlineSignals } from "../../src/delivery/deadline-signals.ts";

/** Timers fired by hand: each remembers when it was set to fire. */
function fakeTimers(clock: ReturnType<typeof manualClock>) {
  const set: Array<{ at: number; fire: () => void }> = [];
  return {
    timers: { set: (fire: () => void, ms: number) => void set.push({ at: clock() + ms, fire }) },
    set,
    /** Fires every timer due by now. */
    run() {
      for (const t of set.splice(0).filter((t) => (t.at <= clock() ? (t.fire(), false) : true))) set.push(t);
    },
  };
}

test("attempts whose deadlines fall in one slot share one signal and one timer", () => {
  const clock = manualClock(1_001);
  const t = fakeTimers(clock);
  const deadlines = createDeadlineSignals({ clock, granularityMs: 10, timers: t.timers });
  const a = deadlines.after(100);
  clock.advance(5);
  const b = deadlines.after(100);
  expect(b).toBe(a);
  expect(t.set).toHaveLength(1);
  clock.advance(10);
  expect(deadlines.after(100)).not.toBe(a);
  expect(deadlines.pending).toBe(2);
});

test("a signal aborts at the end of its slot: never before an attempt's own deadline, at most one slot after", () => {
  const clock = manualClock(1_003);
  const t = fakeTimers(clock);
  const deadlines = createDeadlineSignals({ clock, granularityMs: 10, timers: t.timers });
  const signal = deadlines.after(100);
  clock.set(1_103);
  t.run();
  expect(signal.aborted).toBe(false);
  clock.set(1_110);
  t.run();
  expect(signal.aborted).toBe(true);
  expect(deadlines.pending).toBe(0);
  // An attempt started after the abort gets a fresh signal.
  expect(deadlines.after(100).aborted).toBe(false);
});
