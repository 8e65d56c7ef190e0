/**
 * What the SQLite adapter's writes tell the rest of the process: an endpoint's cached copy goes
 * at once (inside the write, so a later op of the same transaction reads the change), and the
 * `StoreChanges` listeners hear of it after the commit. One process owns the file, so this is
 * the whole propagation; CLI commands run from another process change only admin keys, which
 * auth never caches.
 */
import type { LocalEndpointCache } from "../endpoint-cache.ts";
import type { StoreChanges } from "../port.ts";

export interface ChangeNotices {
  endpointChanged(orgId: string, endpointId: string): void;
  keyRevoked(keyHash: string): void;
}

export function createChangeNotices(cache: LocalEndpointCache) {
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
    /**
     * After a commit: tells the listeners. A notice of an op that was rolled back is told too;
     * listeners re-read what changed, so a change that did not happen costs a read, nothing more.
     */
    deliver(): void {
      const now = heard;
      heard = [];
      for (const tell of now) tell();
    },
  };
}
