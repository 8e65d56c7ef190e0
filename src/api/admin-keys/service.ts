/**
 * The admin key's lifecycle. Either WEBHOOKD_ADMIN_KEY is set, and it is the one admin key (the
 * start revokes every stored one, so a generated key never outlives the variable), or admin keys
 * live in the store: one is generated when a start finds none, and rotate/revoke manage them.
 */
import type { Clock } from "../../lib/clock.ts";
import { ConflictError, NotFoundError } from "../../lib/errors.ts";
import { isId } from "../../lib/ids.ts";
import type { ApiKeyRow, ApiKeysReads, StoreWrite } from "../../store/port.ts";
import { ADMIN_SCOPE } from "../auth/scopes.ts";
import { issueApiKey } from "../auth/issue-key.ts";

export interface AdminKeysServiceDeps {
  apiKeys: ApiKeysReads;
  clock: Clock;
  write: StoreWrite;
  /** Whether WEBHOOKD_ADMIN_KEY is set. */
  configured: boolean;
}

export interface StartOutcome {
  /** The admin key made by this start, printed once; null when none was made. */
  generated: string | null;
  /** Stored admin keys this start revoked because WEBHOOKD_ADMIN_KEY is set. */
  revoked: number;
}

export function createAdminKeysService({ apiKeys, clock, write, configured }: AdminKeysServiceDeps) {
  const issueAdminKey = () => issueApiKey("admin", { orgId: null, name: "admin", scopes: [ADMIN_SCOPE] }, clock());

  return {
    /** Before serving. */
    async atStart(): Promise<StartOutcome> {
      if (configured) return { generated: null, revoked: (await write((tx) => tx.apiKeys.revokeAdminKeys(clock()))).length };
      // Checked inside the write: nodes of a cluster starting at once make one admin key, not one each.
      const generated = await write(async (tx) => {
        if (await tx.apiKeys.hasAdminKey()) return null;
        const { row, key } = issueAdminKey();
        await tx.apiKeys.insert(row);
        return key;
      });
      return { generated, revoked: 0 };
    },

    list: (): Promise<ApiKeyRow[]> => apiKeys.listAdmin(),

    /** A new admin key; every other stored admin key is revoked in the same write. */
    async rotate(): Promise<{ row: ApiKeyRow; key: string }> {
      if (configured) {
        throw new ConflictError("ADMIN_KEY_CONFIGURED", "The admin key is set by WEBHOOKD_ADMIN_KEY: change the variable and restart to rotate it.");
      }
      const issued = issueAdminKey();
      await write(async (tx) => {
        await tx.apiKeys.insert(issued.row);
        await tx.apiKeys.revokeAdminKeys(issued.row.createdAt, issued.row.id);
      });
      return issued;
    },

    async revoke(keyId: string): Promise<void> {
      const row = isId("key", keyId) ? await apiKeys.getAdmin(keyId) : undefined;
      if (!row) throw new NotFoundError("Admin key");
      if (row.revokedAt === null) await write((tx) => tx.apiKeys.revoke(keyId, clock()));
    },

    /** Every stored admin key; the next start without WEBHOOKD_ADMIN_KEY generates a new one. */
    async revokeAll(): Promise<number> {
      const revoked = await write((tx) => tx.apiKeys.revokeAdminKeys(clock()));
      return revoked.length;
    },
  };
}
export type AdminKeysService = ReturnType<typeof createAdminKeysService>;
