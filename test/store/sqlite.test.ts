/** The storage port's contract against the SQLite adapter, on a real file; its fault is a full disk (max_page_count). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { describeStoreContract } from "./contract.ts";

describeStoreContract("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "webhookd-contract-"));
  const file = join(dir, "webhookd.db");
  const store = openSqliteStore(file);
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
    // Another connection holding the write lock past the wait: writes and readiness answer the 503.
    faultSparesReads: true,
    async fault() {
      const other = new Database(file);
      other.run("BEGIN IMMEDIATE");
      return async () => {
        other.run("ROLLBACK");
        other.close();
      };
    },
  };
});
