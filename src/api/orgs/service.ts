/** Orgs and their API keys: the admin's side of the API and of the CLI. */
import type { Clock } from "../../lib/clock.ts";
import { NotFoundError, refuseNul, ValidationError } from "../../lib/errors.ts";
import { isId, newId } from "../../lib/ids.ts";
import type { ApiKeysReads, ApiKeyRow, OrgRow, OrgsReads, StoreWrite } from "../../store/port.ts";
import { SCOPES } from "../auth/scopes.ts";
import { issueApiKey } from "../auth/issue-key.ts";
import { keysetPage, type KeysetRequest } from "../paging.ts";

export interface OrgsServiceDeps {
  orgs: OrgsReads;
  apiKeys: ApiKeysReads;
  clock: Clock;
  write: StoreWrite;
}

export interface NewKeyInput {
  name?: string | null;
  scopes: string[];
  mode?: "live" | "test";
}

export function createOrgsService({ orgs, apiKeys, clock, write }: OrgsServiceDeps) {
  async function requireOrg(orgId: string): Promise<OrgRow> {
    const org = isId("org", orgId) ? await orgs.get(orgId) : undefined;
    if (!org) throw new NotFoundError("Organization");
    return org;
  }

  return {
    async createOrg(name: string): Promise<OrgRow> {
      refuseNul(name, "name");
      const row = { id: newId("org"), name, createdAt: clock() };
      await write((tx) => tx.orgs.insert(row));
      return row;
    },
    listOrgs: async ({ after, limit }: KeysetRequest) => keysetPage(await orgs.listAfter(after, limit + 1), limit),
    getOrg: requireOrg,

    /** Returns the row and the plaintext key, which exists only in this return value. */
    async createKey(orgId: string, input: NewKeyInput): Promise<{ row: ApiKeyRow; key: string }> {
      await requireOrg(orgId);
      refuseNul(input.name, "name");
      const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown.length) throw new ValidationError(`Unknown scope "${unknown[0]}"; scopes are ${SCOPES.join(", ")}.`, "scopes");
      const issued = issueApiKey(input.mode ?? "live", { orgId, name: input.name ?? null, scopes: input.scopes }, clock());
      await write((tx) => tx.apiKeys.insert(issued.row));
      return issued;
    },

    async listKeys(orgId: string, { after, limit }: KeysetRequest) {
      await requireOrg(orgId);
      return keysetPage(await apiKeys.listForOrgAfter(orgId, after, limit + 1), limit);
    },

    async revokeKey(orgId: string, keyId: string): Promise<void> {
      const row = isId("org", orgId) && isId("key", keyId) ? await apiKeys.get(orgId, keyId) : undefined;
      if (!row) throw new NotFoundError("API key");
      if (row.revokedAt === null) await write((tx) => tx.apiKeys.revoke(keyId, clock()));
    },
  };
}
export type OrgsService = ReturnType<typeof createOrgsService>;
