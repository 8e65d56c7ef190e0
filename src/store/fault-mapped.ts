/**
 * Reads answer storage faults the way writes do (the 503 STORAGE_UNAVAILABLE), so a page of the
 * log asked for while the database is gone says "retry" instead of a 500. Each adapter passes
 * its own translation of its driver's errors.
 */
type AsyncMethods = Record<string, (...args: any[]) => Promise<unknown>>;

export function faultMapped<R extends object>(repo: R, translate: (error: unknown) => unknown): R {
  const mapped: AsyncMethods = {};
  for (const [name, fn] of Object.entries(repo as AsyncMethods)) {
    mapped[name] = (...args) => fn(...args).catch((error) => Promise.reject(translate(error)));
  }
  return mapped as R;
}
