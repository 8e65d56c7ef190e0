/**
 * What the SQLite adapter's writes tell the rest of the process: an endpoint's cached copy goes
 * at once (inside the write, so a later op of the same transaction reads the change), and the
 * `StoreChanges` listeners hear of it after the commit. One process owns the file, so this is
 * the whole propagation; CLI commands run from another process change only admin keys, which
 * auth never caches.
 */
import type { Logger } from "../../lib/logger.ts";
import type { LocalEndpointCache } from "../endpoint-cache.ts";
import type { StoreChanges } from "../port.ts";

export interface ChangeNotices {
  endpointChanged(orgId: string, endpointId: string): void;
  keyRevoked(keyHash: string): void;
}

export function createChangeNotices(cache: LocalEndpointCache, logger: Logger) {
  const endpointListeners: Array<(orgId: string, endpointId: string) => void> = [];
  const keyListeners: Array<(keyHash: string) => void> = [];
  let heard: Array<() => void> = [];

  const notices: ChangeNotices = {
    endpointChanged(orgId, endpointId) {
      cache.invalidate(orgId, endpointId);
      for (const listener of endpointListeners) heard.push(() => listener(orgId, endpointId));
    },
    keyRevoked(keyHash) {
      for (const listener of keyListeners) heard.push(() => listener(keyHash));
    },
  };
  const changes: StoreChanges = {
    onEndpointChanged: (listener) => void endpointListeners.push(listener),
    onKeyRevoked: (listener) => void keyListeners.push(listener),
  };
  return {
    notices,
    changes,
    /** Where the notices of the op starting now begin. */
    mark: (): number => heard.length,
    /** The op (or the batch) was rolled back: what it changed did not happen. */
    dropFrom(mark: number): void {
      heard.length = mark;
    },
    /** After a commit: tells the listeners; one that throws is logged and the others still hear. */
    deliver(): void {
      const now = heard;
      heard = [];
      for (const tell of now) {
        try {
          tell();
        } catch (error) {
          logger.error("a store change listener failed", { error: String(error) });
        }
      }
    },
  };
}
