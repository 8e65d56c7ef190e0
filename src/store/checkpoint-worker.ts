/**
 * The checkpointer's thread: copies committed WAL pages into the database file on its own
 * connection, so that work (and its fsync of the database file) never runs on the event loop.
 * PASSIVE: it never waits for, nor blocks, the writer or the readers.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

export interface CheckpointerStart {
  file: string;
  intervalMs: number;
  busyTimeoutMs: number;
}
export type CheckpointerReply = { kind: "checkpointed"; frames: number } | { kind: "failed"; message: string } | { kind: "closed" };

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
const reply = (m: CheckpointerReply) => self.postMessage(m);

function checkpoint(): void {
  try {
    const row = db!.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get();
    if (row && row.checkpointed > 0) reply({ kind: "checkpointed", frames: row.checkpointed });
  } catch (error) {
    reply({ kind: "failed", message: String(error) });
  }
}

self.onmessage = (event: MessageEvent<CheckpointerStart | "stop">) => {
  if (event.data === "stop") {
    if (timer) clearInterval(timer);
    db?.close();
    db = null;
    reply({ kind: "closed" });
    return;
  }
  const { file, intervalMs, busyTimeoutMs } = event.data;
  db = new Database(file);
  db.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  timer = setInterval(checkpoint, intervalMs);
};
