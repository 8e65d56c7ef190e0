/**
 * Summarises a `bun --cpu-prof` .cpuprofile: share of the JS thread's samples per function
 * (self), heaviest first, each with its main callers. Sample counts, not time deltas: the
 * sampler skips idle periods, so a delta can hide idle time behind the last busy sample.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

export function summariseProfile(dir: string, root: string, top = 25): string {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) return `no .cpuprofile in ${dir}`;
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (id: number | undefined): string => {
    const frame = id === undefined ? undefined : byId.get(id)?.callFrame;
    if (!frame) return "(root)";
    const where = frame.url ? ` ${relative(root, frame.url.replace(/^file:\/\//, ""))}:${frame.lineNumber + 1}` : "";
    return `${frame.functionName || "(anonymous)"}${where}`;
  };
  const self = new Map<string, { n: number; callers: Map<string, number> }>();
  for (const id of profile.samples) {
    const key = label(id);
    const entry = self.get(key) ?? { n: 0, callers: new Map() };
    entry.n++;
    const caller = label(parent.get(id)).split(" ")[0]!;
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + 1);
    self.set(key, entry);
  }
  const total = profile.samples.length;
  const pct = (n: number) => `${((100 * n) / total).toFixed(1)}%`;
  const rows = [...self].sort((a, b) => b[1].n - a[1].n).slice(0, top);
  return [
    `${join(dir, file)} (and a .md beside it): ${total} samples of the JS thread; self share, heaviest first:`,
    ...rows.map(([key, { n, callers }]) => {
      const via = [...callers].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([c, k]) => `${c} ${pct(k)}`).join(", ");
      return `  ${pct(n).padStart(6)}  ${key}   <- ${via}`;
    }),
  ].join("\n");
}
