import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCheckpointer } from "../../src/store/sqlite/checkpointer.ts";
import { silentLogger } from "../../src/lib/logger.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("the worker copies committed WAL frames into the database file, lets the WAL start over, and closes its connection on stop", async () => {
  const dir = mkdtempSync(join(tmpdir(), "webhookd-ckpt-"));
  dirs.push(dir);
  const file = join(dir, "w.db");
  const db = new Database(file, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA wal_autocheckpoint = 0"); // only the worker checkpoints here
  db.run("PRAGMA busy_timeout = 5000"); // as the server's connection: a RESTART holds the writer briefly
  db.run("CREATE TABLE t (x BLOB)");
  const before = statSync(file).size;
  const insert = db.query("INSERT INTO t VALUES (?)");
  for (let i = 0; i < 200; i++) insert.run(Buffer.alloc(4096, i));
  expect(statSync(file).size).toBe(before); // everything is still in the WAL

  const checkpointer = startCheckpointer(file, silentLogger, 20);
  const deadline = Date.now() + 10_000;
  while (checkpointer.checkpointedFrames < 200 && Date.now() < deadline) await Bun.sleep(10);
  expect(checkpointer.checkpointedFrames).toBeGreaterThanOrEqual(200);
  expect(statSync(file).size).toBeGreaterThan(before + 200 * 4096);

  // Once the worker has caught up (past 2,000 frames it also runs a RESTART), the next write
  // starts the WAL over instead of growing it: the WAL then holds only that write's frames.
  for (let i = 0; i < 2_000; i++) insert.run(Buffer.alloc(4096, i));
  while (checkpointer.checkpointedFrames < 2_200 && Date.now() < deadline + 10_000) await Bun.sleep(10);
  await Bun.sleep(100); // one more pass
  insert.run(Buffer.alloc(10, 1));
  const wal = db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!;
  expect(wal.log).toBeLessThan(10);

  const t0 = performance.now();
  await checkpointer.stop();
  expect(performance.now() - t0).toBeLessThan(1_000);
  // SQLite removes the WAL when its last connection closes: the worker's is closed too.
  db.close();
  expect(existsSync(`${file}-wal`)).toBe(false);
  expect(new Database(file, { readonly: true }).query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 2_201 });
});
