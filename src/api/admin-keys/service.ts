/**
 * The admin key's lifecycle. Either WEBHOOKD_ADMIN_KEY is set, and it is the one admin key (the
 * start revokes every stored one, so a generated key never outlives the variable), or admin keys
 * live in the store: one is generated when a start finds none, and rotate/revoke manage them.
 */
import type { Clock } from "../../lib/clock.ts";
import { ConflictError, NotFoundError } from "../../lib/errors.ts";
import { isId } from "../../lib/ids.ts";
import type { ApiKeyRow, ApiKeysRepo } from "../../store/repositories/api-keys.ts";
import type { StoreWrite } from "../../store/write-batcher.ts";
import { ADMIN_SCOPE } from "../auth/scopes.ts";
import { issueApiKey } from "../auth/issue-key.ts";

export interface AdminKeysServiceDeps {
  apiKeys: ApiKeysRepo;
  clock: Clock;
  write: StoreWrite;
  /** Whether WEBHOOKD_ADMIN_KEY is set. */
  configured: boolean;
  /** Called with the hash of each revoked key so auth caches drop it at once. */
  onKeyRevoked: (keyHash: string) => void;
}

export interface StartOutcome {
  /** The admin key made by this start, printed once; null when none was made. */
  generated: string | null;
  /** Stored admin keys this start revoked because WEBHOOKD_ADMIN_KEY is set. */
  revoked: number;
}

export function createAdminKeysService({ apiKeys, clock, write, configured, onKeyRevoked }: AdminKeysServiceDeps) {
  const issueAdminKey = () => issueApiKey("admin", { orgId: null, name: "admin", scopes: [ADMIN_SCOPE] }, clock());

  return {
    /** Before serving (outside the group commit, which is not running yet). */
    atStart(): StartOutcome {
      if (configured) return { generated: null, revoked: apiKeys.revokeAdminKeys(clock()).length };
      if (apiKeys.hasAdminKey()) return { generated: null, revoked: 0 };
      const { row, key } = issueAdminKey();
      apiKeys.insert(row);
      return { generated: key, revoked: 0 };
    },

    list: (): ApiKeyRow[] => apiKeys.listAdmin(),

    /** A new admin key; every other stored admin key is revoked in the same write. */
    async rotate(): Promise<{ row: ApiKeyRow; key: string }> {
      if (configured) {
        throw new ConflictError("ADMIN_KEY_CONFIGURED", "The admin key is set by WEBHOOKD_ADMIN_KEY: change the variable and restart to rotate it.");
      }
      const issued = issueAdminKey();
      const revoked = await write(() => {
        apiKeys.insert(issued.row);
        return apiKeys.revokeAdminKeys(issued.row.createdAt, issued.row.id);
      });
      revoked.forEach(onKeyRevoked);
      return issued;
    },

    async revoke(keyId: string): Promise<void> {
      const row = isId("key", keyId) ? apiKeys.getAdmin(keyId) : undefined;
      if (!row) throw new NotFoundError("Admin key");
      if (row.revokedAt === null) await write(() => apiKeys.revoke(keyId, clock()));
      onKeyRevoked(row.keyHash);
    },

    /** Every stored admin key; the next start without WEBHOOKD_ADMIN_KEY generates a new one. */
    async revokeAll(): Promise<number> {
      const revoked = await write(() => apiKeys.revokeAdminKeys(clock()));
      revoked.forEach(onKeyRevoked);
      return revoked.length;
    },
  };
}
export type AdminKeysService = ReturnType<typeof createAdminKeysService>;
