/**
 * Hierarchical timer wheel (after Kafka's TimingWheel and Netty's HashedWheelTimer), kept pure:
 * no timers and no clock inside. The owner calls `advance(now)` and gets back what is due, and
 * asks `nextWakeMs(now)` how long it may sleep. SQLite stays the source of truth; this only holds
 * the deliveries due within `horizonMs`.
 *
 * Layout: level 0 has `wheelSize` slots of one tick each; level k has slots of wheelSize^k ticks.
 * An entry sits on the lowest level whose current rotation reaches its due tick, and cascades one
 * or more levels down when time enters its slot. Entries fire exactly: `advance(now)` returns every
 * entry with dueMs <= now, never one that is not yet due, so lateness is only how late the owner
 * calls `advance`. A per-level occupancy bitmap lets `advance` jump straight from one non-empty
 * slot to the next, so a long idle gap costs the number of busy slots, not the number of ticks.
 */

export interface TimerWheelOptions {
  /** Width of a level-0 slot in ms. */
  tickMs: number;
  /** Slots per level; a power of two. */
  wheelSize: number;
  /** Number of levels, at least 2 (default 3). Together with the above it sets `horizonMs`. */
  levels?: number;
  /** The wheel's initial time. */
  startMs: number;
}

export interface TimerEntry<T> {
  key: string;
  dueMs: number;
  value: T;
}

interface Node<T> extends TimerEntry<T> {
  dueTick: number;
  /** Insertion sequence: breaks due-time ties in insertion order. */
  seq: number;
  level: number;
  slot: number;
}

const DEFAULT_LEVELS = 3;

export class TimerWheel<T> {
  readonly #tickMs: number;
  readonly #startMs: number;
  readonly #wheelSize: number;
  readonly #levels: number;
  /** Ticks covered by one slot of each level: wheelSize^level. */
  readonly #slotTicks: number[];
  /** One bucket per (level, slot), flattened. Sets keep insertion order and delete in O(1). */
  readonly #buckets: Set<Node<T>>[];
  /** One bit per (level, slot) saying its bucket is non-empty; lets scans skip 32 empty slots at a time. */
  readonly #occupied: Uint32Array;
  readonly #wordsPerLevel: number;
  readonly #nodes = new Map<string, Node<T>>();
  #nowMs: number;
  /** The level-0 tick containing #nowMs. Every slot before it, on every level, has been processed. */
  #cursor = 0;
  #seq = 0;

  constructor(opts: TimerWheelOptions) {
    const { tickMs, wheelSize, startMs, levels = DEFAULT_LEVELS } = opts;
    if (!(Number.isFinite(tickMs) && tickMs > 0)) throw new RangeError(`tickMs must be > 0, got ${tickMs}.`);
    if (!(Number.isInteger(wheelSize) && wheelSize >= 2 && (wheelSize & (wheelSize - 1)) === 0)) {
      throw new RangeError(`wheelSize must be a power of two >= 2, got ${wheelSize}.`);
    }
    // Level 0 alone could not hold entries past its own rotation; the top level parks those.
    if (!(Number.isInteger(levels) && levels >= 2)) throw new RangeError(`levels must be an integer >= 2, got ${levels}.`);
    if (wheelSize ** levels > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`wheelSize ** levels must stay below 2^53 ticks, got ${wheelSize} ** ${levels}.`);
    }
    if (!Number.isFinite(startMs)) throw new RangeError(`startMs must be finite, got ${startMs}.`);
    this.#tickMs = tickMs;
    this.#startMs = startMs;
    this.#wheelSize = wheelSize;
    this.#levels = levels;
    this.#slotTicks = Array.from({ length: levels }, (_, level) => wheelSize ** level);
    this.#buckets = Array.from({ length: levels * wheelSize }, () => new Set<Node<T>>());
    this.#wordsPerLevel = Math.ceil(wheelSize / 32);
    this.#occupied = new Uint32Array(levels * this.#wordsPerLevel);
    this.#nowMs = startMs;
  }

  get size(): number {
    return this.#nodes.size;
  }

  /**
   * Entries due within this long from now fit the wheel without extra work. Later ones are still
   * accepted but parked in the top level's last slot and re-placed each top-level rotation, so
   * the loader should page in only rows due within the horizon.
   */
  get horizonMs(): number {
    return (this.#wheelSize - 1) * this.#topSlotTicks() * this.#tickMs;
  }

  has(key: string): boolean {
    return this.#nodes.has(key);
  }

  /** O(1). Schedules `key` at `dueMs`; re-adding a key moves it. A due time already passed fires on the next advance. */
  add(key: string, dueMs: number, value: T): void {
    if (!Number.isFinite(dueMs)) throw new RangeError(`dueMs must be finite, got ${dueMs}.`);
    this.cancel(key);
    const node: Node<T> = { key, dueMs, value, dueTick: this.#tickOf(dueMs), seq: this.#seq++, level: 0, slot: 0 };
    this.#nodes.set(key, node);
    this.#place(node);
  }

  /** O(1). Returns true if `key` was scheduled. */
  cancel(key: string): boolean {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    this.#nodes.delete(key);
    const bucket = this.#bucket(node.level, node.slot);
    bucket.delete(node);
    if (bucket.size === 0) this.#setOccupied(node.level, node.slot, false);
    return true;
  }

  /**
   * Moves the wheel's time to `nowMs` and returns every entry with dueMs <= nowMs, ordered by due
   * time then insertion. Time never runs backwards: an earlier `nowMs` (a clock step back) is
   * treated as the wheel's current time.
   */
  advance(nowMs: number): TimerEntry<T>[] {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}.`);
    const now = Math.max(nowMs, this.#nowMs);
    this.#nowMs = now;
    const targetTick = this.#tickOf(now);
    const fired: Node<T>[] = [];
    for (;;) {
      this.#fireDue(now, fired);
      if (this.#cursor >= targetTick) break;
      this.#cursor = this.#nextBusyTick(targetTick) ?? targetTick;
      this.#cascade(this.#cursor);
    }
    return sortedEntries(fired);
  }

  /**
   * Ms the owner may sleep before calling `advance` again, or null when empty. Exact for entries in
   * level 0; for higher levels it is the start of their slot (a cascade, then one more call).
   * Never later than the earliest due time, so sleeping this long never makes an entry late.
   */
  nextWakeMs(nowMs: number): number | null {
    if (this.#nodes.size === 0) return null;
    const currentSlot = this.#cursor % this.#wheelSize;
    let wakeAtMs = earliestDueMs(this.#bucket(0, currentSlot));
    const nextLevel0 = this.#nextBusySlot(0);
    if (nextLevel0 !== null) wakeAtMs = Math.min(wakeAtMs, earliestDueMs(this.#bucket(0, nextLevel0.slot)));
    for (let level = 1; level < this.#levels; level++) {
      const next = this.#nextBusySlot(level);
      if (next !== null) wakeAtMs = Math.min(wakeAtMs, this.#startMs + next.tick * this.#tickMs);
    }
    return Math.max(0, wakeAtMs - nowMs);
  }

  /** Empties the wheel and returns what never fired, ordered by due time then insertion. */
  stop(): TimerEntry<T>[] {
    const remaining = [...this.#nodes.values()];
    this.#nodes.clear();
    for (const bucket of this.#buckets) bucket.clear();
    this.#occupied.fill(0);
    return sortedEntries(remaining);
  }

  #tickOf(ms: number): number {
    return Math.floor((ms - this.#startMs) / this.#tickMs);
  }

  #topSlotTicks(): number {
    return this.#wheelSize ** (this.#levels - 1);
  }

  #bucket(level: number, slot: number): Set<Node<T>> {
    return this.#buckets[level * this.#wheelSize + slot]!; // level < #levels and slot < #wheelSize by construction
  }

  /** Puts `node` on the lowest level whose current rotation (relative to the cursor) reaches its due tick. */
  #place(node: Node<T>): void {
    const size = this.#wheelSize;
    if (node.dueTick <= this.#cursor) {
      // Already due (or due later within the current tick): the current level-0 bucket.
      this.#link(node, 0, this.#cursor % size);
      return;
    }
    for (let level = 0; level < this.#levels; level++) {
      const span = this.#slotTicks[level]!;
      const rotationStart = Math.floor(this.#cursor / span) * span;
      if (node.dueTick < rotationStart + size * span) {
        this.#link(node, level, Math.floor(node.dueTick / span) % size);
        return;
      }
    }
    // Beyond the horizon: park in the top level's last slot of this rotation. When time reaches
    // that slot it cascades and the entry is placed again (parked again if still out of reach).
    const topSpan = this.#topSlotTicks();
    this.#link(node, this.#levels - 1, (Math.floor(this.#cursor / topSpan) + size - 1) % size);
  }

  #link(node: Node<T>, level: number, slot: number): void {
    node.level = level;
    node.slot = slot;
    const bucket = this.#bucket(level, slot);
    if (bucket.size === 0) this.#setOccupied(level, slot, true);
    bucket.add(node);
  }

  /**
   * Fires entries in the current level-0 bucket that are due by `nowMs`. When the cursor is behind
   * the target tick that is all of them; at the target tick, later ones in the same tick stay.
   */
  #fireDue(nowMs: number, out: Node<T>[]): void {
    const slot = this.#cursor % this.#wheelSize;
    const bucket = this.#bucket(0, slot);
    for (const node of bucket) {
      if (node.dueMs > nowMs) continue;
      bucket.delete(node);
      this.#nodes.delete(node.key);
      out.push(node);
    }
    if (bucket.size === 0) this.#setOccupied(0, slot, false);
  }

  /** The earliest tick in (cursor, limitTick] where a non-empty slot of any level begins, or null. */
  #nextBusyTick(limitTick: number): number | null {
    let best: number | null = null;
    for (let level = 0; level < this.#levels; level++) {
      const next = this.#nextBusySlot(level);
      if (next !== null && next.tick <= limitTick && (best === null || next.tick < best)) best = next.tick;
    }
    return best;
  }

  /** The first non-empty slot after the cursor's slot on `level` within one rotation, with its start tick. */
  #nextBusySlot(level: number): { slot: number; tick: number } | null {
    const size = this.#wheelSize;
    const span = this.#slotTicks[level]!;
    const slotNumber = Math.floor(this.#cursor / span);
    const currentSlot = slotNumber % size;
    let found = this.#findOccupied(level, currentSlot + 1, size);
    if (found === -1) found = this.#findOccupied(level, 0, currentSlot);
    if (found === -1) return null;
    const offset = (found - currentSlot + size) % size;
    return { slot: found, tick: (slotNumber + offset) * span };
  }

  /** Index of the first occupied slot of `level` in [from, to), or -1. */
  #findOccupied(level: number, from: number, to: number): number {
    const base = level * this.#wordsPerLevel;
    for (let index = from; index < to; index = (index | 31) + 1) {
      const bits = this.#occupied[base + (index >>> 5)]! >>> (index & 31);
      if (bits !== 0) {
        const found = index + countTrailingZeros(bits);
        return found < to ? found : -1;
      }
    }
    return -1;
  }

  #setOccupied(level: number, slot: number, occupied: boolean): void {
    const word = level * this.#wordsPerLevel + (slot >>> 5);
    const bit = 1 << (slot & 31);
    const bits = this.#occupied[word]!;
    this.#occupied[word] = occupied ? bits | bit : bits & ~bit;
  }

  /** Time has entered `tick`: spread every higher-level slot starting there onto lower levels. */
  #cascade(tick: number): void {
    for (let level = this.#levels - 1; level >= 1; level--) {
      const span = this.#slotTicks[level]!;
      if (tick % span !== 0) continue;
      const slot = (tick / span) % this.#wheelSize;
      const bucket = this.#bucket(level, slot);
      if (bucket.size === 0) continue;
      const nodes = [...bucket];
      bucket.clear();
      this.#setOccupied(level, slot, false);
      for (const node of nodes) this.#place(node);
    }
  }
}

function countTrailingZeros(bits: number): number {
  return 31 - Math.clz32(bits & -bits);
}

function earliestDueMs(bucket: Set<TimerEntry<unknown>>): number {
  let earliest = Number.POSITIVE_INFINITY;
  for (const node of bucket) earliest = Math.min(earliest, node.dueMs);
  return earliest;
}

function sortedEntries<T>(nodes: Node<T>[]): TimerEntry<T>[] {
  nodes.sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
  return nodes.map(({ key, dueMs, value }) => ({ key, dueMs, value }));
}
