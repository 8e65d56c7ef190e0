/**
 * Per-key token buckets for the API rate limit: `ratePerSec` refill, `burst` capacity.
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
    take(key: string): TakeResult {
      const now = clock();
      const b = buckets.get(key) ?? { tokens: burst, at: now };
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
      b.at = now;
      const allowed = b.tokens >= 1;
      if (allowed) b.tokens -= 1;
      buckets.set(key, b);
      const resetSeconds = allowed
        ? Math.ceil((burst - b.tokens) / ratePerSec)
        : Math.max(1, Math.ceil((1 - b.tokens) / ratePerSec));
      return { allowed, limit: burst, remaining: Math.floor(b.tokens), resetSeconds };
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
