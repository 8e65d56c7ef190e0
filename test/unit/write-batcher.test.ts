import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWriteBatcher, lockRetryDelayMs, type StorageObserver } from "../../src/store/sqlite/write-batcher.ts";
import { walSync } from "../../src/store/sqlite/wal-sync.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open() {
  const dir = mkdtempSync(join(tmpdir(), "webhookd-batcher-"));
  dirs.push(dir);
  const sqlite = new Database(join(dir, "t.db"), { create: true, strict: true });
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  const batcher = createWriteBatcher(sqlite);
  const insert = (k: string, v: number) => () => {
    sqlite.run("INSERT INTO t (k, v) VALUES (?, ?)", [k, v]);
    return k;
  };
  const rows = () => sqlite.query<{ k: string; v: number }, []>("SELECT k, v FROM t ORDER BY k").all();
  return { sqlite, batcher, insert, rows };
}

/** An observer that keeps every duration it hears. */
function recordingObserver() {
  const heard = { committed: [] as number[], flushed: [] as number[], lockWaited: [] as number[] };
  const observer: StorageObserver = {
    committed: (seconds) => heard.committed.push(seconds),
    flushed: (seconds) => heard.flushed.push(seconds),
    lockWaited: (seconds) => heard.lockWaited.push(seconds),
  };
  return { observer, heard };
}

describe("group commit", () => {
  test("ops submitted in one tick run in one transaction and resolve in order with their own values", async () => {
    const { batcher, insert, rows, sqlite } = open();
    const seenBefore: number[] = [];
    const counting = (k: string, v: number) => () => {
      // Inside one transaction, each op sees the uncommitted rows of the ops before it.
      expect(sqlite.inTransaction).toBe(true);
      seenBefore.push(rows().length);
      return insert(k, v)();
    };
    const results = await Promise.all([batcher.submit(counting("a", 1)), batcher.submit(counting("b", 2)), batcher.submit(counting("c", 3))]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(seenBefore).toEqual([0, 1, 2]);
    expect(rows()).toEqual([{ k: "a", v: 1 }, { k: "b", v: 2 }, { k: "c", v: 3 }]);
    expect(sqlite.inTransaction).toBe(false);
  });

  test("a failing op rejects alone: its own partial writes are undone, the others in its batch are stored", async () => {
    const { batcher, insert, rows, sqlite } = open();
    const failing = () => {
      sqlite.run("INSERT INTO t (k, v) VALUES ('partial', 0)");
      sqlite.run("INSERT INTO t (k, v) VALUES ('a', 9)"); // primary key clash with the first op
    };
    const outcomes = await Promise.allSettled([
      batcher.submit(insert("a", 1)),
      batcher.submit(failing),
      batcher.submit(insert("b", 2)),
      batcher.submit(() => {
        throw new Error("not a storage fault");
      }),
      batcher.submit(insert("c", 3)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain("UNIQUE");
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toContain("not a storage fault");
    expect(rows()).toEqual([{ k: "a", v: 1 }, { k: "b", v: 2 }, { k: "c", v: 3 }]);
  });

  test("each op of a batch that needed the fallback runs its writes once", async () => {
    const { batcher, insert, rows } = open();
    const outcomes = await Promise.allSettled([batcher.submit(insert("x", 1)), batcher.submit(insert("x", 2)), batcher.submit(insert("y", 3))]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(rows()).toEqual([{ k: "x", v: 1 }, { k: "y", v: 3 }]);
  });

  test("a loop of writes, each queued when the one before resolves, lets the event loop turn between them", async () => {
    const { batcher, insert, rows } = open();
    let turns = 0;
    let looping = true;
    const counter = () => {
      if (!looping) return;
      turns++;
      setImmediate(counter);
    };
    setImmediate(counter);
    for (let i = 0; i < 20; i++) await batcher.submit(insert(`k${String(i).padStart(2, "0")}`, i), "relaxed");
    looping = false;
    expect(rows()).toHaveLength(20);
    // Each write is a batch of its own on a turn of its own: other work ran between them.
    expect(turns).toBeGreaterThanOrEqual(19);
  });

  test("every batch commits with synchronous=NORMAL and puts FULL back for the connection's other writes", async () => {
    const { batcher, sqlite } = open();
    sqlite.run("PRAGMA synchronous = FULL");
    const sync = () => sqlite.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous;
    const seen: number[] = [];
    await Promise.all([batcher.submit(() => seen.push(sync()), "relaxed"), batcher.submit(() => seen.push(sync()))]);
    expect(seen).toEqual([1, 1]);
    expect(sync()).toBe(2);
  });
});

describe("durable ops wait for the log flush", () => {
  function manualSync() {
    const calls: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
    return {
      calls,
      logSync: { sync: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })), close() {} },
    };
  }

  test("a durable op resolves only after the flush that follows its commit; a relaxed op at commit", async () => {
    const { sqlite, insert, rows } = open();
    const { calls, logSync } = manualSync();
    const batcher = createWriteBatcher(sqlite, { logSync });
    const order: string[] = [];
    const durable = batcher.submit(insert("d", 1)).then(() => order.push("durable"));
    const relaxed = batcher.submit(insert("r", 2), "relaxed").then(() => order.push("relaxed"));
    await relaxed;
    await Bun.sleep(5);
    expect(order).toEqual(["relaxed"]);
    expect(calls).toHaveLength(1);
    expect(rows()).toHaveLength(2); // committed before the flush was asked for
    calls[0]!.resolve();
    await durable;
    expect(order).toEqual(["relaxed", "durable"]);
  });

  test("a failed flush rejects the durable ops with STORAGE_UNAVAILABLE; flush() waits for flushes in flight", async () => {
    const { sqlite, insert } = open();
    const { calls, logSync } = manualSync();
    const batcher = createWriteBatcher(sqlite, { logSync });
    const durable = batcher.submit(insert("d", 1));
    const relaxed = batcher.submit(insert("r", 2), "relaxed");
    let flushed = false;
    const flushing = batcher.flush().then(() => (flushed = true));
    await relaxed;
    expect(flushed).toBe(false);
    calls[0]!.reject(Object.assign(new Error("I/O error"), { code: "EIO" }));
    await expect(durable).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE", status: 503 });
    await flushing;
    expect(flushed).toBe(true);
  });

  test("the observer hears how long each commit and each flush took, failed flushes too", async () => {
    const { sqlite, insert } = open();
    const { calls, logSync } = manualSync();
    const { observer, heard } = recordingObserver();
    const batcher = createWriteBatcher(sqlite, { logSync, observer });
    const first = batcher.submit(insert("a", 1));
    await batcher.submit(insert("r", 2), "relaxed");
    expect(heard.committed).toHaveLength(1); // one batch: one commit
    expect(heard.flushed).toHaveLength(0);
    await Bun.sleep(30);
    calls[0]!.resolve();
    await first;
    expect(heard.flushed).toHaveLength(1);
    expect(heard.flushed[0]!).toBeGreaterThanOrEqual(0.025);
    const second = batcher.submit(insert("b", 3));
    await Bun.sleep(5);
    calls[1]!.reject(Object.assign(new Error("I/O error"), { code: "EIO" }));
    await expect(second).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE" });
    expect(heard.committed).toHaveLength(2);
    expect(heard.flushed).toHaveLength(2);
    expect(heard.lockWaited).toHaveLength(0);
  });

  test("the default flush is an fdatasync of the database's WAL file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "webhookd-batcher-"));
    dirs.push(dir);
    const file = join(dir, "w.db");
    // Before the database exists there is no WAL file to flush: proof of which file it targets.
    await expect(walSync(file).sync()).rejects.toMatchObject({ code: "ENOENT" });
    const sqlite = new Database(file, { create: true, strict: true });
    sqlite.run("PRAGMA journal_mode = WAL");
    sqlite.run("CREATE TABLE t (k TEXT PRIMARY KEY)");
    const batcher = createWriteBatcher(sqlite);
    await batcher.submit(() => sqlite.run("INSERT INTO t VALUES ('a')"));
    const own = walSync(file);
    await own.sync();
    own.close();
    await batcher.flush();
    batcher.close();
    sqlite.close();
  });
});

describe("coalesced writes", () => {
  /** A counter row that records every UPDATE it gets, to count the writes. */
  function counterTable() {
    const o = open();
    o.sqlite.run("CREATE TABLE c (id TEXT PRIMARY KEY, hits INTEGER NOT NULL, last INTEGER NOT NULL, writes INTEGER NOT NULL)");
    o.sqlite.run("INSERT INTO c VALUES ('e', 0, 0, 0)");
    const touch = (at: number) =>
      o.batcher.coalesce<{ n: number; at: number }>(
        "e",
        (prev) => ({ n: (prev?.n ?? 0) + 1, at }),
        (s) => o.sqlite.run("UPDATE c SET hits = hits + ?, last = ?, writes = writes + 1 WHERE id = 'e'", [s.n, s.at]),
      );
    const row = () => o.sqlite.query<{ hits: number; last: number; writes: number }, []>("SELECT hits, last, writes FROM c").get()!;
    return { ...o, touch, row };
  }

  test("the ops of one batch merge their states under a key into one write, at the end of the batch", async () => {
    const { batcher, touch, row } = counterTable();
    await Promise.all([1, 2, 3, 4].map((at) => batcher.submit(() => touch(at), "relaxed")));
    expect(row()).toEqual({ hits: 4, last: 4, writes: 1 });
    touch(9); // outside any batch: written at once
    expect(row()).toEqual({ hits: 5, last: 9, writes: 2 });
  });

  test("flushCoalesced writes the merged state now, so a dependent write sees it", async () => {
    const { batcher, touch, row, sqlite } = counterTable();
    const seen: number[] = [];
    await Promise.all([
      batcher.submit(() => touch(1)),
      batcher.submit(() => touch(2)),
      batcher.submit(() => {
        batcher.flushCoalesced("e");
        seen.push(row().hits);
        sqlite.run("UPDATE c SET hits = hits * 10");
      }),
      batcher.submit(() => touch(3)),
    ]);
    expect(seen).toEqual([2]);
    expect(row()).toEqual({ hits: 21, last: 3, writes: 2 });
  });

  test("when an op fails, the merged writes of the optimistic pass are dropped and each surviving op writes its own", async () => {
    const { batcher, touch, row, insert } = counterTable();
    const outcomes = await Promise.allSettled([
      batcher.submit(() => touch(1)),
      batcher.submit(() => {
        touch(2);
        insert("dup", 1)();
        insert("dup", 2)(); // fails: its touch is rolled back with it
      }),
      batcher.submit(() => touch(3)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(row()).toEqual({ hits: 2, last: 3, writes: 2 });
  });
});

describe("rollbacks", () => {
  test("onRollback hears every rollback (so caches filled inside the transaction can forget), and nothing when all commit", async () => {
    const { sqlite, insert, rows } = open();
    let rollbacks = 0;
    const batcher = createWriteBatcher(sqlite, { onRollback: () => rollbacks++ });
    await Promise.all([batcher.submit(insert("a", 1)), batcher.submit(insert("b", 2))]);
    expect(rollbacks).toBe(0);
    const outcomes = await Promise.allSettled([batcher.submit(insert("c", 3)), batcher.submit(insert("a", 9)), batcher.submit(insert("d", 4))]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // The optimistic pass rolled back, then the failing op's own savepoint did.
    expect(rollbacks).toBe(2);
    expect(rows().map((r) => r.k)).toEqual(["a", "b", "c", "d"]);
  });
});

describe("another connection holds the write lock", () => {
  function lockedPair(lockWaitMs: number, observer?: StorageObserver) {
    const o = open();
    const batcher = createWriteBatcher(o.sqlite, { lockWaitMs, observer });
    const other = new Database(o.sqlite.filename);
    other.run("BEGIN IMMEDIATE");
    return { ...o, batcher, release: () => other.run("COMMIT"), close: () => other.close() };
  }

  test("ops wait for it without blocking the event loop, and commit once it is released", async () => {
    const { batcher, insert, rows, release, close } = lockedPair(5_000);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    let done = false;
    const op = batcher.submit(insert("a", 1)).then((v) => ((done = true), v));
    await Bun.sleep(200);
    clearInterval(ticker);
    expect(done).toBe(false);
    expect(ticks).toBeGreaterThan(10); // timers kept running: nothing slept on this thread
    release();
    expect(await op).toBe("a");
    expect(rows()).toEqual([{ k: "a", v: 1 }]);
    close();
  });

  test("past lockWaitMs the queued ops are refused with STORAGE_UNAVAILABLE and nothing of them is stored; later ops work once it is free", async () => {
    const { batcher, insert, rows, release, close } = lockedPair(100);
    const t0 = performance.now();
    const refused = await Promise.allSettled([batcher.submit(insert("a", 1)), batcher.submit(insert("b", 2), "relaxed")]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "STORAGE_UNAVAILABLE", status: 503 });
    release();
    expect(await batcher.submit(insert("c", 3))).toBe("c");
    expect(rows()).toEqual([{ k: "c", v: 3 }]);
    close();
  });

  test("looks again after 1, 2, 4, 8 ms, then every 10 ms: a checkpoint's brief hold costs little, a long one no busy loop", () => {
    expect([0, 1, 2, 3, 4, 5, 50].map(lockRetryDelayMs)).toEqual([1, 2, 4, 8, 10, 10, 10]);
  });

  test("the observer hears each wait for the lock once it ends, committed or refused", async () => {
    const { observer, heard } = recordingObserver();
    const { batcher, insert, release, close } = lockedPair(100, observer);
    await expect(batcher.submit(insert("a", 1))).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE" });
    expect(heard.lockWaited).toHaveLength(1);
    expect(heard.lockWaited[0]!).toBeGreaterThanOrEqual(0.095);
    const op = batcher.submit(insert("b", 2));
    setTimeout(release, 50);
    await op;
    expect(heard.lockWaited).toHaveLength(2);
    expect(heard.lockWaited[1]!).toBeGreaterThanOrEqual(0.045);
    expect(heard.lockWaited[1]!).toBeLessThan(0.1);
    expect(heard.committed).toHaveLength(1); // the refused batch never committed
    close();
  });

  test("flush waits out the lock too", async () => {
    const { batcher, insert, rows, release, close } = lockedPair(5_000);
    const op = batcher.submit(insert("a", 1));
    setTimeout(release, 50);
    await batcher.flush();
    expect(await op).toBe("a");
    expect(rows()).toEqual([{ k: "a", v: 1 }]);
    close();
  });
});
