/**
 * The dispatch queue: round-robin across orgs with work queued, and within an org across its
 * endpoints, under a per-org and a per-endpoint cap on items in flight. Pure (no I/O, no time):
 * the dispatcher asks `take()` whenever it has a free global slot and reports slots freed.
 *
 * One turn of the ring hands out one item per org, so an org with a million items queued delays
 * another org's next item by at most one item per org ahead of it in the ring; and an org at its
 * cap is out of the ring until one of its slots frees, so it cannot hold more than its share.
 */

interface EndpointLane<T> {
  id: string;
  org: OrgLane<T>;
  /** Sent before `normal`: a replay or test someone is waiting for. */
  urgent: Fifo<T>;
  normal: Fifo<T>;
  inflight: number;
  inRing: boolean;
}

interface OrgLane<T> {
  id: string;
  endpoints: Map<string, EndpointLane<T>>;
  /** Endpoints with work queued and a free slot (entries may be stale; checked when taken). */
  ready: Fifo<EndpointLane<T>>;
  queued: number;
  inflight: number;
  inRing: boolean;
}

/** An array used as a queue: O(1) amortized at both ends, compacted as its head advances. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }
  pop(): T | undefined {
    return this.length > 0 ? this.#items.pop() : undefined;
  }
  peekLast(): T | undefined {
    return this.length > 0 ? this.#items[this.#items.length - 1] : undefined;
  }
  drain(): T[] {
    const all = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return all;
  }
}

export interface FairQueueOptions<T> {
  orgOf(item: T): string;
  endpointOf(item: T): string;
  /** Items of one org in flight at once. */
  orgCap: number;
  /** Items of one endpoint in flight at once. */
  endpointCap: number;
}

export class FairQueue<T> {
  readonly #opts: FairQueueOptions<T>;
  readonly #orgs = new Map<string, OrgLane<T>>();
  readonly #endpoints = new Map<string, EndpointLane<T>>();
  /** Orgs with work queued and a free slot (entries may be stale; checked when taken). */
  readonly #ready = new Fifo<OrgLane<T>>();
  #queued = 0;

  constructor(opts: FairQueueOptions<T>) {
    this.#opts = opts;
  }

  /** Items queued, not yet taken. */
  get size(): number {
    return this.#queued;
  }

  push(item: T, urgent = false): void {
    const lane = this.#lane(this.#opts.orgOf(item), this.#opts.endpointOf(item));
    (urgent ? lane.urgent : lane.normal).push(item);
    lane.org.queued++;
    this.#queued++;
    this.#wake(lane);
  }

  /** The next item in turn whose org and endpoint have a free slot, counted in flight on both. */
  take(): T | undefined {
    for (let org = this.#ready.shift(); org; org = this.#ready.shift()) {
      org.inRing = false;
      if (org.inflight >= this.#opts.orgCap || this.#orgs.get(org.id) !== org) continue;
      const item = this.#takeFrom(org);
      if (item === undefined) continue;
      org.inflight++;
      this.#requeue(org);
      return item;
    }
    return undefined;
  }

  /** An endpoint's slot is free again (its response is in). */
  releaseEndpoint(endpointId: string): void {
    const lane = this.#endpoints.get(endpointId);
    if (!lane) return;
    lane.inflight--;
    this.#wake(lane);
    this.#forgetIfIdle(lane);
  }

  /** An org's slot is free again (its response is in). */
  releaseOrg(orgId: string): void {
    const org = this.#orgs.get(orgId);
    if (!org) return;
    org.inflight--;
    this.#requeue(org);
    if (org.endpoints.size === 0 && org.inflight === 0) this.#orgs.delete(orgId);
  }

  /** Removes and returns everything queued for an endpoint (it was disabled or deleted). */
  removeEndpoint(endpointId: string): T[] {
    const lane = this.#endpoints.get(endpointId);
    if (!lane) return [];
    const removed = [...lane.urgent.drain(), ...lane.normal.drain()];
    lane.org.queued -= removed.length;
    this.#queued -= removed.length;
    this.#forgetIfIdle(lane);
    return removed;
  }

  /**
   * Removes and returns the newest item an org has queued at its longest endpoint lane, if
   * `evictable` allows it: gives memory back to another org (urgent items are never evicted).
   */
  evictNewest(orgId: string, evictable: (item: T) => boolean): T | undefined {
    const org = this.#orgs.get(orgId);
    let longest: EndpointLane<T> | undefined;
    for (const lane of org?.endpoints.values() ?? []) if (!longest || lane.normal.length > longest.normal.length) longest = lane;
    const newest = longest?.normal.peekLast();
    if (!longest || newest === undefined || !evictable(newest)) return undefined;
    longest.normal.pop();
    longest.org.queued--;
    this.#queued--;
    this.#forgetIfIdle(longest);
    return newest;
  }

  #lane(orgId: string, endpointId: string): EndpointLane<T> {
    let lane = this.#endpoints.get(endpointId);
    if (lane) return lane;
    let org = this.#orgs.get(orgId);
    if (!org) {
      org = { id: orgId, endpoints: new Map(), ready: new Fifo(), queued: 0, inflight: 0, inRing: false };
      this.#orgs.set(orgId, org);
    }
    lane = { id: endpointId, org, urgent: new Fifo(), normal: new Fifo(), inflight: 0, inRing: false };
    org.endpoints.set(endpointId, lane);
    this.#endpoints.set(endpointId, lane);
    return lane;
  }

  #takeFrom(org: OrgLane<T>): T | undefined {
    for (let lane = org.ready.shift(); lane; lane = org.ready.shift()) {
      lane.inRing = false;
      if (lane.inflight >= this.#opts.endpointCap || this.#endpoints.get(lane.id) !== lane) continue;
      const item = lane.urgent.shift() ?? lane.normal.shift();
      if (item === undefined) continue;
      lane.inflight++;
      org.queued--;
      this.#queued--;
      if (lane.urgent.length + lane.normal.length > 0 && lane.inflight < this.#opts.endpointCap) {
        lane.inRing = true;
        org.ready.push(lane);
      }
      return item;
    }
    return undefined;
  }

  /** Puts an endpoint that can send again into its org's ring, and the org into the global one. */
  #wake(lane: EndpointLane<T>): void {
    if (!lane.inRing && lane.inflight < this.#opts.endpointCap && lane.urgent.length + lane.normal.length > 0) {
      lane.inRing = true;
      lane.org.ready.push(lane);
    }
    this.#requeue(lane.org);
  }

  #requeue(org: OrgLane<T>): void {
    if (!org.inRing && org.inflight < this.#opts.orgCap && org.ready.length > 0) {
      org.inRing = true;
      this.#ready.push(org);
    }
  }

  #forgetIfIdle(lane: EndpointLane<T>): void {
    if (lane.inflight > 0 || lane.urgent.length + lane.normal.length > 0) return;
    this.#endpoints.delete(lane.id);
    lane.org.endpoints.delete(lane.id);
    if (lane.org.endpoints.size === 0 && lane.org.inflight === 0) this.#orgs.delete(lane.org.id);
  }
}
