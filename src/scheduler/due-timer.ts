/**
 * The timing both schedulers share (the single-process scheduler and the cluster's claimer): a
 * timer wheel of the rows due later, and one timer that wakes for the wheel's next slot, or after
 * `idleMs` at the latest, hands what is due to `onDue` and then runs `load` (which finds more).
 */
import type { Clock } from "../lib/clock.ts";
import type { DueDelivery } from "../store/port.ts";
import { TimerWheel } from "./timer-wheel.ts";

export interface DueTimerDeps {
  clock: Clock;
  idleMs: number;
  onDue(due: DueDelivery[]): void;
  /** Runs after each wake; the timer is set again once it settles. */
  load(now: number): Promise<void>;
  /** `load` failed (the store is unavailable); the next wake tries again. */
  onLoadFailed?(error: unknown): void;
}

export function createDueTimer(deps: DueTimerDeps) {
  const { clock, idleMs } = deps;
  // 10 ms slots, 512 per level, 2 levels: a ~43 min horizon, far beyond any paging window.
  const wheel = new TimerWheel<DueDelivery>({ tickMs: 10, wheelSize: 512, levels: 2, startMs: clock() });
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerAt = Infinity;
  let running = false;

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    if (!running) return;
    const now = clock();
    const fired = wheel.advance(now);
    if (fired.length) deps.onDue(fired.map((e) => e.value));
    void deps
      .load(now)
      .catch((error) => deps.onLoadFailed?.(error))
      .finally(() => arm(clock()));
  }

  /** Sets the timer for the wheel's next slot, or `maxDelayMs` from now if that comes first. */
  function arm(now: number, maxDelayMs = idleMs): void {
    if (!running) return;
    const wake = wheel.nextWakeMs(now);
    const delay = Math.max(0, Math.min(wake ?? maxDelayMs, maxDelayMs));
    if (timer && timerAt <= now + delay) return;
    if (timer) clearTimeout(timer);
    timerAt = now + delay;
    timer = setTimeout(tick, delay);
  }

  return {
    wheel,
    arm,
    get running(): boolean {
      return running;
    },
    /** A wake is set. */
    get armed(): boolean {
      return timer !== null;
    },
    start(): void {
      running = true;
    },
    /** Stops waking; returns the rows the wheel held, never handed over. */
    stop(): DueDelivery[] {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      return wheel.stop().map((e) => e.value);
    },
  };
}
