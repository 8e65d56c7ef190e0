/**
 * The single-file executable under test: built once per test process (`bun run build` ->
 * ./webhookd), rebuilt when any source is newer, then copied alone into an empty temp dir and
 * run from there, so nothing beside it (node_modules, src, migrations) can be what makes it work.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
const BUILT = join(REPO, "webhookd");

function newestSourceMtime(dir = join(REPO, "src")): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let built = false;

/** Path of an up-to-date ./webhookd, building it if missing or stale (at most once per process). */
export function ensureBinary(): string {
  if (built) return BUILT;
  const inputs = Math.max(newestSourceMtime(), statSync(join(REPO, "package.json")).mtimeMs, statSync(join(REPO, "bun.lock")).mtimeMs);
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < inputs) {
    const result = Bun.spawnSync([process.execPath, "run", "build"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    if (!result.success) throw new Error(`bun run build failed:\n${result.stdout.toString()}\n${result.stderr.toString()}`);
  }
  built = true;
  return BUILT;
}

export interface Installed {
  /** The empty temp dir holding only the binary (and what it writes there). */
  dir: string;
  bin: string;
  run(args: string[], env?: Record<string, string>): RunResult;
  serve(args?: string[], env?: Record<string, string>): Promise<Served>;
  cleanup(): Promise<void>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Served {
  url: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves with the match once stdout matches; rejects if the process exits first. */
  waitForStdout(pattern: RegExp): Promise<RegExpExecArray>;
  stderr(): string;
  /** Sends the signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Only what a process needs: no WEBHOOKD_* leaking in from the test runner's environment. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env };
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }, onData: () => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    sink.text += decoder.decode(chunk, { stream: true });
    onData();
  }
}

/** A fresh temp dir holding a copy of the binary, and helpers to run it there. */
export function installBinary(): Installed {
  const source = ensureBinary(); // first: a failed build leaves no temp dir behind
  const dir = mkdtempSync(join(tmpdir(), "webhookd-bin-"));
  const bin = join(dir, "webhookd");
  copyFileSync(source, bin);
  chmodSync(bin, 0o755);
  const running = new Set<Served>();

  const run = (args: string[], env: Record<string, string> = {}): RunResult => {
    const r = Bun.spawnSync([bin, ...args], { cwd: dir, env: cleanEnv(env), stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };

  const serve = async (args: string[] = [], env: Record<string, string> = {}): Promise<Served> => {
    const proc = Bun.spawn([bin, "serve", ...args], {
      cwd: dir,
      env: cleanEnv({ WEBHOOKD_HOST: "127.0.0.1", WEBHOOKD_PORT: "0", ...env }),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = { text: "" };
    const err = { text: "" };
    let url: string | null = null;
    let notify = () => {};
    const waiters = new Set<() => void>();
    const listening = new Promise<string>((resolveUrl, reject) => {
      notify = () => {
        for (const line of out.text.split("\n")) {
          if (!line.startsWith("{")) continue;
          try {
            const entry = JSON.parse(line);
            if (entry.msg === "webhookd listening" && !url) resolveUrl((url = entry.url));
          } catch {}
        }
      };
      proc.exited.then((code) => reject(new Error(`webhookd serve exited (${code}) before listening:\n${out.text}\n${err.text}`)));
    });
    void collect(proc.stdout, out, () => {
      notify();
      for (const check of waiters) check();
    });
    void collect(proc.stderr, err, () => {});
    const served: Served = {
      url: await listening,
      proc,
      stdout: () => out.text,
      stderr: () => err.text,
      waitForStdout: (pattern) =>
        new Promise((resolveMatch, reject) => {
          const check = () => {
            const match = pattern.exec(out.text);
            if (!match) return;
            waiters.delete(check);
            resolveMatch(match);
          };
          waiters.add(check);
          check();
          proc.exited.then(() => {
            check();
            if (waiters.delete(check)) reject(new Error(`webhookd exited without printing ${pattern}:\n${out.text}`));
          });
        }),
      async stop(signal: NodeJS.Signals = "SIGTERM") {
        running.delete(served);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        return await proc.exited;
      },
    };
    running.add(served);
    return served;
  };

  return {
    dir,
    bin,
    run,
    serve,
    async cleanup() {
      await Promise.all([...running].map((s) => s.stop("SIGKILL")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
