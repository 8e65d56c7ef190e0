/**
 * A data dir the binary cannot create or write (a root-owned bind mount under a container's
 * non-root user, say) is one line on stderr naming the dir, the uid and the fix, and exit 2:
 * never a SQLite stack trace. The binary runs as nobody (setpriv), so this needs root.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installBinary, type Installed } from "../helpers/binary.ts";

setDefaultTimeout(60_000); // the first test may build the binary

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let w: Installed;
beforeAll(() => {
  if (!isRoot) return;
  w = installBinary();
  chmodSync(w.dir, 0o755); // nobody must reach the binary in the (0700) temp dir
});
afterAll(() => w?.cleanup());

function runAsNobody(args: string[]) {
  const r = Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", w.bin, ...args], {
    cwd: w.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", WEBHOOKD_HOST: "127.0.0.1", WEBHOOKD_PORT: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A dir owned by root that others may enter but not write, as a bind mount made by root is. */
function rootOwnedDir(name: string): string {
  const dir = join(w.dir, name);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

describe.skipIf(!isRoot)("a data dir the process cannot write", () => {
  test("serve: one line naming the dir, the uid and the fix; exit 2", () => {
    const dir = rootOwnedDir("root-owned");
    const r = runAsNobody(["serve", "--data-dir", dir]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr:
        `webhookd: invalid configuration: data dir ${dir} is not writable by uid ${NOBODY} (permission denied): ` +
        `give uid ${NOBODY} write access (chown -R ${NOBODY} ${dir}) or set WEBHOOKD_DATA_DIR / --data-dir to a dir it can write\n`,
    });
  });

  test("a CLI command on a data dir it cannot create: the same, for the dir it tried to make", () => {
    const dir = join(rootOwnedDir("parent"), "data");
    const r = runAsNobody(["orgs", "list", "--data-dir", dir]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr:
        `webhookd: invalid configuration: data dir ${dir} cannot be created by uid ${NOBODY} (permission denied): ` +
        `create it, give uid ${NOBODY} write access (chown -R ${NOBODY} ${dir}) or set WEBHOOKD_DATA_DIR / --data-dir to a dir it can write\n`,
    });
  });

  test("a writable dir holding a database file another user owns: the same, naming the file", () => {
    const dir = rootOwnedDir("root-files");
    chmodSync(dir, 0o777);
    writeFileSync(join(dir, "webhookd.db"), "");
    chmodSync(join(dir, "webhookd.db"), 0o644);
    const r = runAsNobody(["migrate", "--data-dir", dir]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr:
        `webhookd: invalid configuration: ${join(dir, "webhookd.db")} in the data dir is not writable by uid ${NOBODY} (permission denied): ` +
        `give uid ${NOBODY} write access (chown -R ${NOBODY} ${dir}) or set WEBHOOKD_DATA_DIR / --data-dir to a dir it can write\n`,
    });
  });
});
