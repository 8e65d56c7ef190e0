/** Orgs and their API keys: the admin's side of the API and of the CLI. */
import type { Clock } from "../../lib/clock.ts";
import { NotFoundError, ValidationError } from "../../lib/errors.ts";
import { isId, newId } from "../../lib/ids.ts";
import type { ApiKeysRepo, ApiKeyRow } from "../../store/repositories/api-keys.ts";
import type { OrgRow, OrgsRepo } from "../../store/repositories/orgs.ts";
import { SCOPES } from "../auth/scopes.ts";
import { issueApiKey } from "../auth/issue-key.ts";
import type { StoreWrite } from "../../store/write-batcher.ts";
import { keysetPage, type KeysetRequest } from "../paging.ts";

export interface OrgsServiceDeps {
  orgs: OrgsRepo;
  apiKeys: ApiKeysRepo;
  clock: Clock;
  write: StoreWrite;
  /** Called with the hash of a revoked key so auth caches drop it at once. */
  onKeyRevoked: (keyHash: string) => void;
}

export interface NewKeyInput {
  name?: string | null;
  scopes: string[];
  mode?: "live" | "test";
}

export function createOrgsService({ orgs, apiKeys, clock, write, onKeyRevoked }: OrgsServiceDeps) {
  function requireOrg(orgId: string): OrgRow {
    const org = isId("org", orgId) ? orgs.get(orgId) : undefined;
    if (!org) throw new NotFoundError("Organization");
    return org;
  }

  return {
    async createOrg(name: string): Promise<OrgRow> {
      const row = { id: newId("org"), name, createdAt: clock() };
      await write(() => orgs.insert(row));
      return row;
    },
    listOrgs: ({ after, limit }: KeysetRequest) => keysetPage(orgs.listAfter(after, limit + 1), limit),
    getOrg: requireOrg,

    /** Returns the row and the plaintext key, which exists only in this return value. */
    async createKey(orgId: string, input: NewKeyInput): Promise<{ row: ApiKeyRow; key: string }> {
      requireOrg(orgId);
      const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown.length) throw new ValidationError(`Unknown scope "${unknown[0]}"; scopes are ${SCOPES.join(", ")}.`, "scopes");
      const issued = issueApiKey(input.mode ?? "live", { orgId, name: input.name ?? null, scopes: input.scopes }, clock());
      await write(() => apiKeys.insert(issued.row));
      return issued;
    },

    listKeys(orgId: string, { after, limit }: KeysetRequest) {
      requireOrg(orgId);
      return keysetPage(apiKeys.listForOrgAfter(orgId, after, limit + 1), limit);
    },

    async revokeKey(orgId: string, keyId: string): Promise<void> {
      const row = isId("org", orgId) && isId("key", keyId) ? apiKeys.get(orgId, keyId) : undefined;
      if (!row) throw new NotFoundError("API key");
      if (row.revokedAt === null) await write(() => apiKeys.revoke(keyId, clock()));
      onKeyRevoked(row.keyHash);
    },
  };
}
export type OrgsService = ReturnType<typeof createOrgsService>;
