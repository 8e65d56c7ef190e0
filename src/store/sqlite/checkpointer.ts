/**
 * Runs SQLite's WAL checkpoints on a worker thread. Left to itself, SQLite checkpoints inside
 * the COMMIT that crosses wal_autocheckpoint, on the event loop: page copies and an fsync of the
 * database file in the middle of serving (measured: about 15% of delivery throughput). The
 * main connection keeps a high autocheckpoint as a safety net should this thread fall behind.
 */
import type { Logger } from "../../lib/logger.ts";
import { BUSY_TIMEOUT_MS } from "./database.ts";
import type { CheckpointerReply, CheckpointerStart } from "./checkpoint-worker.ts";

export interface Checkpointer {
  /** Frames copied into the database file so far. */
  readonly checkpointedFrames: number;
  /** Closes the worker's connection, then ends the thread. */
  stop(): Promise<void>;
}

const STOP_WAIT_MS = 5_000;

// `bun build --compile` embeds the worker as a second entry point under its path below src/, and
// there every bundled module's import.meta.url is the executable's own (/$bunfs/root/webhookd).
const WORKER_URL = import.meta.url.includes("/$bunfs/")
  ? new URL("./store/sqlite/checkpoint-worker.ts", import.meta.url).href
  : new URL("./checkpoint-worker.ts", import.meta.url).href;

export function startCheckpointer(file: string, logger: Logger, intervalMs = 200): Checkpointer {
  const worker = new Worker(WORKER_URL);
  let frames = 0;
  let warned = false;
  let closed: () => void = () => {};
  const whenClosed = new Promise<void>((resolve) => (closed = resolve));
  worker.onmessage = (event: MessageEvent<CheckpointerReply>) => {
    const m = event.data;
    if (m.kind === "checkpointed") frames += m.frames;
    else if (m.kind === "closed") closed();
    else if (!warned) {
      // Once: a lasting fault would repeat every interval. The safety net keeps the WAL bounded.
      warned = true;
      logger.warn("background checkpoint failed; the main connection will checkpoint itself", { error: m.message });
    }
  };
  worker.onerror = (event) => {
    logger.warn("checkpoint thread stopped; the main connection will checkpoint itself", { error: String(event.message) });
    closed();
  };
  worker.unref();
  worker.postMessage({ file, intervalMs, busyTimeoutMs: BUSY_TIMEOUT_MS } satisfies CheckpointerStart);
  return {
    get checkpointedFrames() {
      return frames;
    },
    async stop() {
      worker.postMessage("stop");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([whenClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
      clearTimeout(timer);
      worker.terminate();
    },
  };
}
