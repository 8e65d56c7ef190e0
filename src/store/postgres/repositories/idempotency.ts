import type { SQL } from "bun";
import type { IdempotencyReads, IdempotencyRepo, IdempotencyRow } from "../../port.ts";
import { toIdempotency } from "../rows.ts";

export function pgIdempotencyReads(db: SQL): IdempotencyReads {
  return {
    async get(scope: string, key: string): Promise<IdempotencyRow | undefined> {
      const [row] = await db`SELECT * FROM idempotency_records WHERE scope = ${scope} AND key = ${key}`;
      return row && toIdempotency(row);
    },
  };
}

export function pgIdempotencyRepo(db: SQL): IdempotencyRepo {
  return {
    ...pgIdempotencyReads(db),
    async claim(scope: string, key: string, requestHash: string, at: number): Promise<boolean> {
      // The primary key (scope, key) makes the claim unique across connections and nodes.
      const rows = await db`
        INSERT INTO idempotency_records (scope, key, request_hash, state, created_at)
        VALUES (${scope}, ${key}, ${requestHash}, 'in_progress', ${at})
        ON CONFLICT DO NOTHING RETURNING key`;
      return rows.length === 1;
    },

    async complete(scope: string, key: string, status: number, body: string): Promise<void> {
      await db`
        UPDATE idempotency_records SET state = 'done', response_status = ${status}, response_body = ${body}
        WHERE scope = ${scope} AND key = ${key}`;
    },

    async release(scope: string, key: string): Promise<void> {
      await db`DELETE FROM idempotency_records WHERE scope = ${scope} AND key = ${key}`;
    },

    async deleteOlderThan(cutoff: number): Promise<number> {
      return (await db`DELETE FROM idempotency_records WHERE created_at < ${cutoff}`).count;
    },
  };
}
