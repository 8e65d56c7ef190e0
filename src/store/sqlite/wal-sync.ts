/**
 * The flush that makes a committed transaction survive power loss, done off the event loop:
 * an fdatasync of the WAL file, which is what synchronous=FULL does inside COMMIT.
 */
import { closeSync, fdatasync, openSync } from "node:fs";

/** Flushes the committed log to stable storage, off the event loop. */
export interface LogSync {
  sync(): Promise<void>;
  close(): void;
}

export function walSync(databaseFile: string): LogSync {
  let fd: number | null = null;
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        // Opened on first use: the WAL file exists once the first transaction has committed, and
        // stays the same file (reset in place, never replaced) while this connection is open.
        fd ??= openSync(`${databaseFile}-wal`, "r");
        fdatasync(fd, (err) => (err ? reject(err) : resolve()));
      }),
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
