/**
 * Token buckets, one per key (an API key, an org): `ratePerSec` refill, `burst` capacity.
 * Pure apart from the injected clock; idle buckets are forgotten by the LRU bound.
 */
import { LRUCache } from "lru-cache";
import type { Clock } from "./clock.ts";

export interface TakeResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until a token is available (allowed=false) or until the bucket is full again. */
  resetSeconds: number;
}

export function createRateLimiter(ratePerSec: number, burst: number, clock: Clock, maxKeys = 100_000) {
  const buckets = new LRUCache<string, { tokens: number; at: number }>({ max: maxKeys });
  return {
    /**
     * Admits a request costing `cost` tokens when at least one is left. A cost over what is
     * left (a batch) leaves the bucket in debt, so no request larger than the burst is refused
     * forever, and the next waits until the debt is paid: the long-run rate still holds.
     */
    take(key: string, cost = 1): TakeResult {
      const now = clock();
      const b = buckets.get(key) ?? { tokens: burst, at: now };
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
      b.at = now;
      const allowed = b.tokens >= 1;
      if (allowed) b.tokens -= cost;
      buckets.set(key, b);
      const resetSeconds = allowed
        ? Math.ceil((burst - b.tokens) / ratePerSec)
        : Math.max(1, Math.ceil((1 - b.tokens) / ratePerSec));
      return { allowed, limit: burst, remaining: Math.max(0, Math.floor(b.tokens)), resetSeconds };
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
