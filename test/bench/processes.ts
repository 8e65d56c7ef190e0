/**
 * Child processes of the bench: every one is registered so `stopAll` ends them whatever
 * happens, children get an environment without proxies (traffic stays on 127.0.0.1), and
 * each speaks JSON lines on stdout.
 */
import type { Subprocess } from "bun";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const live = new Set<Subprocess>();

/** The environment of every child: no proxy variables, loopback never proxied. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/proxy/i.test(k) && !k.startsWith("WEBHOOKD_")) env[k] = v;
  }
  return { ...env, NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost", ...extra };
}

export interface Child {
  proc: Subprocess<"ignore", "pipe", "inherit">;
  /** Resolves with the first stdout JSON line that passes `match`; later lines keep draining. */
  line<T = any>(match?: (v: any) => boolean): Promise<T>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export function spawnChild(cmd: string[], env: Record<string, string> = childEnv()): Child {
  const proc = Bun.spawn(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  const seen: any[] = [];
  let waiters: Array<{ match: (v: any) => boolean; resolve: (v: any) => void; reject: (e: Error) => void }> = [];
  let ended = false;
  const gone = () => new Error(`${cmd.slice(0, 2).join(" ")} exited (${proc.exitCode ?? proc.signalCode}) before the expected line`);
  const failWaiters = () => {
    ended = true;
    for (const w of waiters) w.reject(gone());
    waiters = [];
  };
  void (async () => {
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const text = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!text.startsWith("{")) continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          continue;
        }
        if ((value as { level?: string }).level === "warn" || (value as { level?: string }).level === "error") {
          process.stderr.write(`  [child] ${text.slice(0, 300)}\n`);
        }
        seen.push(value);
        waiters = waiters.filter((w) => (w.match(value) ? (w.resolve(value), false) : true));
      }
    }
    await proc.exited;
    failWaiters();
  })();
  return {
    proc,
    line(match = () => true) {
      const found = seen.find(match);
      if (found !== undefined) return Promise.resolve(found);
      if (ended) return Promise.reject(gone());
      return new Promise((resolve, reject) => waiters.push({ match, resolve, reject }));
    },
    async stop(signal = "SIGTERM", graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

const BENCH_DIR = import.meta.dir;

/** A bench role (receiver.ts, bare-handler.ts, ...) as its own Bun process with JSON args. */
export function spawnRole(script: string, args: unknown = {}): Child {
  return spawnChild([process.execPath, join(BENCH_DIR, script), JSON.stringify(args)]);
}

/** Runs a role to completion and returns its result line. */
export async function runRole<T>(script: string, args: unknown): Promise<T> {
  const child = spawnRole(script, args);
  const result = await child.line<T>();
  await child.proc.exited;
  return result;
}

/** Kills whatever is still running: on the normal path, on errors and on Ctrl-C. */
export function stopAll(): void {
  for (const proc of live) proc.kill("SIGKILL");
  live.clear();
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

/** CPU seconds (user + system) in a /proc stat line. */
function statCpuSeconds(stat: string): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  return statCpuSeconds(await Bun.file(`/proc/${pid}/stat`).text());
}

/** A process tree's CPU seconds so far: `root` and every process it started (PostgreSQL's postmaster, its backends, WAL writer...). */
export async function treeCpuSeconds(root: number): Promise<number> {
  let total = await cpuSecondsOf(root);
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = await Bun.file(`/proc/${pid}/stat`).text();
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === root) total += await cpuSecondsOf(Number(pid));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return total;
}

/**
 * CPU seconds so far per thread of a process: "JS thread" (the main one), then by the names Bun
 * gives the others ("HTTP Client", "JITWorker", "HeapHelper", workers...). Ended threads are gone.
 */
export async function threadCpuOf(pid: number): Promise<Map<string, number>> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? "JS thread" : (await Bun.file(`/proc/${pid}/task/${tid}/comm`).text()).trim();
      const seconds = statCpuSeconds(await Bun.file(`/proc/${pid}/task/${tid}/stat`).text());
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/** Jiffies the whole machine spent busy and in all, from /proc/stat: for "how full were the cores". */
export async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await Bun.file("/proc/stat").text()).split("\n")[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}
