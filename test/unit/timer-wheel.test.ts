import { describe, expect, test } from "bun:test";
import { type TimerEntry, TimerWheel, type TimerWheelOptions } from "../../src/scheduler/timer-wheel.ts";

const HOUR = 3_600_000;

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

/** Obviously-correct model: a flat map, scanned and sorted on every advance. */
class ReferenceTimers<T> {
  readonly #entries = new Map<string, TimerEntry<T> & { seq: number }>();
  #now: number;
  #seq = 0;
  constructor(startMs: number) {
    this.#now = startMs;
  }
  get size(): number {
    return this.#entries.size;
  }
  has(key: string): boolean {
    return this.#entries.has(key);
  }
  add(key: string, dueMs: number, value: T): void {
    this.#entries.set(key, { key, dueMs, value, seq: this.#seq++ });
  }
  cancel(key: string): boolean {
    return this.#entries.delete(key);
  }
  advance(nowMs: number): TimerEntry<T>[] {
    this.#now = Math.max(this.#now, nowMs);
    const due = [...this.#entries.values()].filter((e) => e.dueMs <= this.#now);
    due.sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
    for (const e of due) this.#entries.delete(e.key);
    return due.map(({ key, dueMs, value }) => ({ key, dueMs, value }));
  }
  earliestDueMs(): number | null {
    let earliest: number | null = null;
    for (const e of this.#entries.values()) if (earliest === null || e.dueMs < earliest) earliest = e.dueMs;
    return earliest;
  }
}

const keys = (entries: TimerEntry<unknown>[]) => entries.map((e) => e.key);

/** Advances 1 ms at a time from `from` to `to` and records the time each key fired. */
function fireTimes(wheel: TimerWheel<unknown>, from: number, to: number): Map<string, number> {
  const firedAt = new Map<string, number>();
  for (let now = from; now <= to; now++) for (const e of wheel.advance(now)) firedAt.set(e.key, now);
  return firedAt;
}

describe("TimerWheel", () => {
  describe("fires exactly when due, never before", () => {
    // tickMs 10, wheelSize 8, 3 levels: level 0 reaches 80 ms, level 1 640 ms, horizon 4480 ms.
    const options = { tickMs: 10, wheelSize: 8, levels: 3, startMs: 1_000 };
    test.each([
      ["due at start", 1_000],
      ["inside the first tick", 1_003],
      ["on a tick boundary", 1_010],
      ["last tick of level 0", 1_079],
      ["level 1", 1_080],
      ["level 1, mid-slot", 1_333],
      ["level 2", 1_640],
      ["level 2, far end", 5_479],
      ["beyond the horizon (parked)", 9_999],
      ["fractional due time", 1_234.5],
    ] as const)("%s (due %p)", (_label, dueMs) => {
      const wheel = new TimerWheel<string>(options);
      wheel.add("a", dueMs, "payload");
      const firedAt = fireTimes(wheel, 1_000, 12_000);
      expect(firedAt.get("a")).toBe(Math.ceil(dueMs));
      expect(wheel.size).toBe(0);
    });
  });

  test("returns entries in due-time order, ties in insertion order", () => {
    const wheel = new TimerWheel<number>({ tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 });
    const adds: [string, number][] = [
      ["late", 900],
      ["tie-1", 55],
      ["early", 3],
      ["tie-2", 55],
      ["mid", 300],
      ["same-tick-later", 58],
      ["tie-3", 55],
    ];
    adds.forEach(([key, due], i) => wheel.add(key, due, i));
    expect(keys(wheel.advance(1_000))).toEqual(["early", "tie-1", "tie-2", "tie-3", "same-tick-later", "mid", "late"]);
  });

  test("an advance inside a tick fires only what is due, the rest of the tick waits", () => {
    const wheel = new TimerWheel<null>({ tickMs: 100, wheelSize: 8, startMs: 0 });
    wheel.add("at-120", 120, null);
    wheel.add("at-150", 150, null);
    wheel.add("at-199", 199, null);
    expect(keys(wheel.advance(149))).toEqual(["at-120"]);
    expect(keys(wheel.advance(150))).toEqual(["at-150"]);
    expect(keys(wheel.advance(198))).toEqual([]);
    expect(keys(wheel.advance(200))).toEqual(["at-199"]);
  });

  test("cancel removes an entry and reports whether it was scheduled", () => {
    const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 });
    wheel.add("level-0", 30, null);
    wheel.add("level-1", 300, null);
    wheel.add("level-2", 3_000, null);
    wheel.add("kept", 3_000, null);
    expect(wheel.cancel("level-0")).toBe(true);
    expect(wheel.cancel("level-1")).toBe(true);
    expect(wheel.cancel("level-2")).toBe(true);
    expect(wheel.cancel("level-2")).toBe(false);
    expect(wheel.cancel("never-added")).toBe(false);
    expect(wheel.has("level-0")).toBe(false);
    expect(wheel.size).toBe(1);
    expect(keys(wheel.advance(10_000))).toEqual(["kept"]);
  });

  test("re-adding a key moves it (later, earlier) and replaces its value", () => {
    const wheel = new TimerWheel<string>({ tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 });
    wheel.add("moved-later", 50, "v1");
    wheel.add("moved-earlier", 2_000, "v1");
    wheel.add("other", 100, "v1");
    wheel.add("moved-later", 1_500, "v2");
    wheel.add("moved-earlier", 100, "v2"); // ties with "other" and was re-added after it
    expect(wheel.size).toBe(3);
    expect(wheel.advance(60)).toEqual([]);
    expect(wheel.advance(100)).toEqual([
      { key: "other", dueMs: 100, value: "v1" },
      { key: "moved-earlier", dueMs: 100, value: "v2" },
    ]);
    expect(wheel.advance(1_499)).toEqual([]);
    expect(wheel.advance(1_500)).toEqual([{ key: "moved-later", dueMs: 1_500, value: "v2" }]);
  });

  test("entries cascade from levels 1 and 2 down to level 0 and fire on their tick", () => {
    // tickMs 1, wheelSize 4: level 0 reaches 4 ticks, level 1 16, level 2 64 (horizon 48).
    const wheel = new TimerWheel<null>({ tickMs: 1, wheelSize: 4, levels: 3, startMs: 0 });
    const dues = { l1Start: 4, l1: 7, l1End: 15, l2Start: 16, l2: 21, l2End: 47, l2SlotEdge: 32 };
    for (const [key, due] of Object.entries(dues)) wheel.add(key, due, null);
    const firedAt = fireTimes(wheel, 0, 64);
    expect(Object.fromEntries(firedAt)).toEqual(dues);
  });

  test("cascades correctly when advances land exactly on and between slot starts", () => {
    const wheel = new TimerWheel<null>({ tickMs: 1, wheelSize: 4, levels: 3, startMs: 0 });
    wheel.add("a", 21, null);
    wheel.add("b", 22, null);
    wheel.add("c", 40, null);
    expect(keys(wheel.advance(16))).toEqual([]);
    expect(keys(wheel.advance(20))).toEqual([]);
    expect(keys(wheel.advance(21))).toEqual(["a"]);
    expect(keys(wheel.advance(39))).toEqual(["b"]);
    expect(keys(wheel.advance(40))).toEqual(["c"]);
  });

  describe("past-due entries fire on the next advance", () => {
    test.each([
      ["in the past", 400],
      ["exactly now", 1_000],
      ["before startMs", -5_000],
    ] as const)("due %s", (_label, dueMs) => {
      const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, startMs: 0 });
      wheel.advance(1_000);
      wheel.add("late", dueMs, null);
      expect(keys(wheel.advance(1_000))).toEqual(["late"]);
    });

    test("even when the owner's clock steps back, since the wheel's time never does", () => {
      const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, startMs: 0 });
      wheel.advance(1_000);
      wheel.add("late", 900, null);
      wheel.add("future", 1_005, null);
      expect(keys(wheel.advance(500))).toEqual(["late"]);
      expect(keys(wheel.advance(1_005))).toEqual(["future"]);
    });
  });

  describe("long idle gaps jump straight to busy slots", () => {
    test("entries an hour apart all fire, in order, from one advance", () => {
      const wheel = new TimerWheel<number>({ tickMs: 10, wheelSize: 512, levels: 3, startMs: 0 });
      for (let h = 24; h >= 1; h--) wheel.add(`h${h}`, h * HOUR, h);
      const fired = wheel.advance(25 * HOUR);
      expect(fired.map((e) => e.value)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      expect(wheel.size).toBe(0);
    });

    test("100k one-hour jumps complete (360k ticks each: would not finish if ticks were walked)", () => {
      const wheel = new TimerWheel<number>({ tickMs: 10, wheelSize: 512, levels: 3, startMs: 0 });
      let now = 0;
      let firedOnTime = 0;
      for (let i = 0; i < 100_000; i++) {
        wheel.add(`k${i}`, now + HOUR, i);
        now += HOUR;
        const fired = wheel.advance(now);
        if (fired.length === 1 && fired[0]?.value === i) firedOnTime++;
      }
      expect(firedOnTime).toBe(100_000);
      expect(wheel.size).toBe(0);
    });

    test("entries beyond the horizon still fire on time after a long jump", () => {
      const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 64, levels: 2, startMs: 0 });
      expect(wheel.horizonMs).toBeLessThan(HOUR);
      wheel.add("far", 5 * HOUR, null);
      expect(keys(wheel.advance(5 * HOUR - 1))).toEqual([]);
      expect(keys(wheel.advance(5 * HOUR))).toEqual(["far"]);
    });
  });

  describe("nextWakeMs", () => {
    test("is null when empty", () => {
      expect(new TimerWheel({ tickMs: 10, wheelSize: 8, startMs: 0 }).nextWakeMs(0)).toBeNull();
    });

    test.each([
      // label, dueMs, nowMs, expected: exact within level 0, the slot start for higher levels
      ["level 0: exact", 37, 0, 37],
      ["level 0: queried later than the wheel's time", 37, 30, 7],
      ["level 1: the slot start (cascade first)", 333, 0, 320],
      ["level 2: the slot start", 1_333, 0, 1_280],
      ["overdue", 500, 1_000, 0],
    ] as const)("%s", (_label, dueMs, nowMs, expected) => {
      const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 });
      wheel.add("a", dueMs, null);
      expect(wheel.nextWakeMs(nowMs)).toBe(expected);
    });

    test("picks the earliest across levels and the current bucket", () => {
      const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 });
      wheel.add("level-2", 700, null);
      wheel.add("level-1", 95, null);
      expect(wheel.nextWakeMs(0)).toBe(80);
      wheel.add("current-tick", 4, null);
      expect(wheel.nextWakeMs(0)).toBe(4);
    });

    test("an owner that sleeps exactly nextWakeMs fires every entry on its due time", () => {
      const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 16, levels: 3, startMs: 0 });
      const random = seededRandom(99);
      for (let i = 0; i < 500; i++) wheel.add(`k${i}`, Math.floor(random() * 60_000), null);
      let now = 0;
      let late = 0;
      for (let wakes = 0; wheel.size > 0 && wakes < 10_000; wakes++) {
        now += wheel.nextWakeMs(now) ?? 0;
        for (const e of wheel.advance(now)) if (e.dueMs !== now) late++;
      }
      expect(wheel.size).toBe(0);
      expect(late).toBe(0);
    });
  });

  test("an owner advancing every tickMs sees lateness below one tick", () => {
    const tickMs = 10;
    const wheel = new TimerWheel<null>({ tickMs, wheelSize: 8, levels: 3, startMs: 0 });
    const random = seededRandom(5);
    for (let i = 0; i < 1_000; i++) wheel.add(`k${i}`, random() * 5_000, null);
    let worst = 0;
    for (let now = 0; now <= 5_000 + tickMs; now += tickMs) {
      for (const e of wheel.advance(now)) {
        expect(e.dueMs).toBeLessThanOrEqual(now);
        worst = Math.max(worst, now - e.dueMs);
      }
    }
    expect(wheel.size).toBe(0);
    expect(worst).toBeLessThan(tickMs);
  });

  test("stop returns what never fired, in due order, and leaves an empty, usable wheel", () => {
    const wheel = new TimerWheel<number>({ tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 });
    wheel.add("fired", 5, 0);
    wheel.add("later", 3_000, 1);
    wheel.add("far", 99_000, 2);
    wheel.add("soon", 50, 3);
    wheel.advance(10);
    expect(wheel.stop()).toEqual([
      { key: "soon", dueMs: 50, value: 3 },
      { key: "later", dueMs: 3_000, value: 1 },
      { key: "far", dueMs: 99_000, value: 2 },
    ]);
    expect(wheel.size).toBe(0);
    expect(wheel.nextWakeMs(10)).toBeNull();
    expect(wheel.advance(200_000)).toEqual([]);
    wheel.add("again", 200_050, 4);
    expect(keys(wheel.advance(200_050))).toEqual(["again"]);
  });

  test("size and has track adds, re-adds, cancels, fires and stop", () => {
    const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, startMs: 0 });
    const steps: [string, () => unknown, number][] = [
      ["add a", () => wheel.add("a", 10, null), 1],
      ["add b", () => wheel.add("b", 500, null), 2],
      ["re-add a", () => wheel.add("a", 20, null), 2],
      ["cancel missing", () => wheel.cancel("zzz"), 2],
      ["fire a", () => wheel.advance(20), 1],
      ["add c", () => wheel.add("c", 1_000, null), 2],
      ["cancel b", () => wheel.cancel("b"), 1],
      ["stop", () => wheel.stop(), 0],
    ];
    for (const [label, step, expectedSize] of steps) {
      step();
      expect({ label, size: wheel.size }).toEqual({ label, size: expectedSize });
    }
    expect(wheel.has("a")).toBe(false);
  });

  test.each([
    [{ tickMs: 10, wheelSize: 512, levels: 2 }, 511 * 512 * 10],
    [{ tickMs: 10, wheelSize: 64, levels: 3 }, 63 * 64 * 64 * 10],
    [{ tickMs: 1, wheelSize: 4, levels: 3 }, 48],
  ] as const)("horizonMs for %o is %p", (options, expected) => {
    expect(new TimerWheel({ ...options, startMs: 0 }).horizonMs).toBe(expected);
  });

  test("an entry due exactly at the horizon fits without parking and fires on time", () => {
    const wheel = new TimerWheel<null>({ tickMs: 10, wheelSize: 8, levels: 2, startMs: 3 });
    wheel.advance(1_237);
    const due = 1_237 + wheel.horizonMs;
    wheel.add("edge", due, null);
    expect(wheel.nextWakeMs(1_237)).toBeLessThanOrEqual(due - 1_237);
    expect(keys(wheel.advance(due - 1))).toEqual([]);
    expect(keys(wheel.advance(due))).toEqual(["edge"]);
  });

  test.each([
    ["tickMs 0", { tickMs: 0 }, /tickMs/],
    ["wheelSize not a power of two", { wheelSize: 12 }, /power of two/],
    ["wheelSize 1", { wheelSize: 1 }, /power of two/],
    ["one level", { levels: 1 }, /levels/],
    ["fractional levels", { levels: 2.5 }, /levels/],
    ["too many ticks", { wheelSize: 1 << 20, levels: 3 }, /2\^53/],
    ["NaN start", { startMs: Number.NaN }, /startMs/],
  ] as const)("rejects %s", (_label, overrides, message) => {
    const options: TimerWheelOptions = { tickMs: 10, wheelSize: 8, startMs: 0, ...overrides };
    expect(() => new TimerWheel(options)).toThrow(message);
  });

  test.each([
    ["add", (w: TimerWheel<null>) => w.add("a", Number.NaN, null)],
    ["advance", (w: TimerWheel<null>) => w.advance(Number.POSITIVE_INFINITY)],
  ] as const)("%s rejects non-finite times", (_label, call) => {
    expect(() => call(new TimerWheel<null>({ tickMs: 10, wheelSize: 8, startMs: 0 }))).toThrow(/finite/);
  });

  describe("matches a naive reference model under random operations", () => {
    test.each([
      // seed, options, largest due offset (beyond the horizon, to exercise parking), fractional dues
      [1, { tickMs: 10, wheelSize: 8, levels: 3, startMs: 0 }, 20_000, false],
      [2, { tickMs: 10, wheelSize: 8, levels: 2, startMs: 123 }, 5_000, true],
      [3, { tickMs: 1, wheelSize: 4, levels: 3, startMs: -50 }, 300, false],
      [4, { tickMs: 7, wheelSize: 32, levels: 2, startMs: 1_700_000_000_000 }, 30_000, true],
      [5, { tickMs: 10, wheelSize: 64, levels: 4, startMs: 0 }, 2 * HOUR, false],
    ] as const)("seed %p, %o", (seed, options, maxDueOffset, fractional) => {
      const random = seededRandom(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
      const wheel = new TimerWheel<number>(options);
      const model = new ReferenceTimers<number>(options.startMs);
      let now: number = options.startMs; // the wheel's time, which never steps back
      let clock = now; // the owner's clock, which may step back
      let checkedFires = 0;

      for (let op = 0; op < 5_000; op++) {
        const key = `k${int(0, 150)}`;
        const roll = random();
        if (roll < 0.45) {
          const offset = random() < 0.9 ? int(-3 * options.tickMs, maxDueOffset / 10) : int(0, maxDueOffset);
          const due = now + offset + (fractional ? random() : 0);
          wheel.add(key, due, op);
          model.add(key, due, op);
        } else if (roll < 0.6) {
          expect(wheel.cancel(key)).toBe(model.cancel(key));
        } else {
          const step =
            random() < 0.8 ? int(0, 2 * options.tickMs) : random() < 0.9 ? int(0, maxDueOffset / 4) : -int(1, 50);
          clock += step;
          now = Math.max(now, clock);
          const fired = wheel.advance(clock);
          expect(fired).toEqual(model.advance(clock));
          for (const e of fired) {
            expect(e.dueMs).toBeLessThanOrEqual(now); // never early
            checkedFires++;
          }
        }
        expect(wheel.size).toBe(model.size);
        expect(wheel.has(key)).toBe(model.has(key));
        // Sleeping nextWakeMs must never carry the owner past the earliest due time.
        const earliest = model.earliestDueMs();
        const wake = wheel.nextWakeMs(now);
        if (earliest === null) expect(wake).toBeNull();
        else expect(wake).toBeLessThanOrEqual(Math.max(0, earliest - now));
      }

      expect(checkedFires).toBeGreaterThan(500);
      expect(wheel.stop()).toEqual(model.advance(Number.MAX_SAFE_INTEGER));
    });
  });
});
