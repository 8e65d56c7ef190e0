import type { SQL } from "bun";
import type { ApiKeyRow, ApiKeysReads, ApiKeysRepo } from "../../port.ts";
import type { TxChanges } from "../changes.ts";
import { jsonText, toApiKey } from "../rows.ts";

export function pgApiKeysReads(db: SQL): ApiKeysReads {
  return {
    async findByHash(hash: string): Promise<ApiKeyRow | undefined> {
      const [row] = await db`SELECT * FROM api_keys WHERE key_hash = ${hash}`;
      return row && toApiKey(row);
    },

    async get(orgId: string, id: string): Promise<ApiKeyRow | undefined> {
      const [row] = await db`SELECT * FROM api_keys WHERE id = ${id} AND org_id = ${orgId}`;
      return row && toApiKey(row);
    },

    async listForOrgAfter(orgId: string, after: string | null, count: number): Promise<ApiKeyRow[]> {
      const rows =
        after === null
          ? await db`SELECT * FROM api_keys WHERE org_id = ${orgId} ORDER BY id LIMIT ${count}`
          : await db`SELECT * FROM api_keys WHERE org_id = ${orgId} AND id > ${after} ORDER BY id LIMIT ${count}`;
      return rows.map(toApiKey);
    },

    async hasAdminKey(): Promise<boolean> {
      const rows = await db`SELECT 1 FROM api_keys WHERE org_id IS NULL AND revoked_at IS NULL LIMIT 1`;
      return rows.length > 0;
    },

    async listAdmin(): Promise<ApiKeyRow[]> {
      return (await db`SELECT * FROM api_keys WHERE org_id IS NULL ORDER BY id`).map(toApiKey);
    },

    async getAdmin(id: string): Promise<ApiKeyRow | undefined> {
      const [row] = await db`SELECT * FROM api_keys WHERE id = ${id} AND org_id IS NULL`;
      return row && toApiKey(row);
    },
  };
}

export function pgApiKeysRepo(db: SQL, changes: TxChanges): ApiKeysRepo {
  return {
    ...pgApiKeysReads(db),
    async insert(row: ApiKeyRow): Promise<void> {
      await db`INSERT INTO api_keys (id, org_id, name, key_hash, key_prefix, scopes, created_at, revoked_at)
        VALUES (${row.id}, ${row.orgId}, ${row.name}, ${row.keyHash}, ${row.keyPrefix}, ${jsonText(row.scopes)}::text::jsonb,
                ${row.createdAt}, ${row.revokedAt})`;
    },

    async revokeAdminKeys(at: number, keepId?: string): Promise<string[]> {
      const rows =
        keepId === undefined
          ? await db`UPDATE api_keys SET revoked_at = ${at} WHERE org_id IS NULL AND revoked_at IS NULL RETURNING key_hash`
          : await db`UPDATE api_keys SET revoked_at = ${at} WHERE org_id IS NULL AND revoked_at IS NULL AND id <> ${keepId}
              RETURNING key_hash`;
      const hashes = rows.map((r: { key_hash: string }) => r.key_hash);
      for (const keyHash of hashes) changes.record({ kind: "key", keyHash });
      return hashes;
    },

    async revoke(id: string, at: number): Promise<void> {
      const [row] = await db`UPDATE api_keys SET revoked_at = ${at} WHERE id = ${id} RETURNING key_hash`;
      if (row) changes.record({ kind: "key", keyHash: row.key_hash });
    },
  };
}
