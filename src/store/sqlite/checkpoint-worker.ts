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

/**
 * A PASSIVE checkpoint never catches up under steady writes (frames keep arriving while it
 * copies), and SQLite reuses the WAL from its start only after a complete one. Past this many
 * frames (about 8 MB), a RESTART finishes the job: little is left to copy by then, so it holds
 * the writer for a few milliseconds, and it gives up at once if the writer is busy.
 */
const RESTART_AT_FRAMES = 2_000;
const RESTART_WAIT_MS = 20;

type CheckpointRow = { busy: number; log: number; checkpointed: number };

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
let busyTimeoutMs = 0;
/** Frames of the current WAL already reported, to report each frame once. */
let reportedOfLog = 0;
const reply = (m: CheckpointerReply) => self.postMessage(m);

function run(mode: "PASSIVE" | "RESTART"): CheckpointRow {
  return db!.query<CheckpointRow, []>(`PRAGMA wal_checkpoint(${mode})`).get()!;
}

function checkpoint(): void {
  try {
    let row = run("PASSIVE");
    if (row.log >= RESTART_AT_FRAMES) {
      db!.run(`PRAGMA busy_timeout = ${RESTART_WAIT_MS}`);
      try {
        row = run("RESTART");
      } finally {
        db!.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      }
    }
    // A count below what was reported means the WAL started over since.
    const fresh = row.checkpointed >= reportedOfLog ? row.checkpointed - reportedOfLog : row.checkpointed;
    reportedOfLog = row.checkpointed;
    if (fresh > 0) reply({ kind: "checkpointed", frames: fresh });
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
  const { file, intervalMs } = event.data;
  busyTimeoutMs = event.data.busyTimeoutMs;
  db = new Database(file);
  db.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  timer = setInterval(checkpoint, intervalMs);
};
