/** Making an API key: the plaintext for the caller (shown once) and the row that stores its hash. */
import { newId } from "../../lib/ids.ts";
import type { ApiKeyRow } from "../../store/port.ts";
import { apiKeyPrefix, generateApiKey, hashApiKey, type KeyKind } from "../../security/tokens.ts";

export interface KeyOwner {
  /** null for an admin key. */
  orgId: string | null;
  name: string | null;
  scopes: string[];
}

export function issueApiKey(kind: KeyKind, owner: KeyOwner, now: number): { row: ApiKeyRow; key: string } {
  const key = generateApiKey(kind);
  const row: ApiKeyRow = {
    id: newId("key"),
    orgId: owner.orgId,
    name: owner.name,
    keyHash: hashApiKey(key),
    keyPrefix: apiKeyPrefix(key),
    scopes: [...new Set(owner.scopes)],
    createdAt: now,
    revokedAt: null,
  };
  return { row, key };
}
