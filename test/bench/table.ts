/** The bench's output: the machine, then one table of figures against their targets. */
import { cpus } from "node:os";
import { readFileSync } from "node:fs";

export interface Row {
  figure: string;
  value: string;
  baseline?: string;
  ratio?: number;
  target?: string;
  /** undefined: informational, no target. */
  pass?: boolean;
  /** The receiver's CPU per request during the runs behind `value`: what it took of the shared cores. */
  receiver?: string;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const rate = (n: number): string => `${Math.round(n).toLocaleString("en-US")} /s`;
export const ms = (n: number): string => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms` : "n/a");
export const mb = (n: number): string => `${n.toFixed(1)} MB`;

export function machine(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  return [
    `date:    ${new Date().toISOString()}`,
    `machine: nproc=${navigator.hardwareConcurrency}, cpu="${model}", bun ${Bun.version} (${process.platform}-${process.arch})`,
    `load:    ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} (1/5/15 min, at the end of the run: the machine is shared)`,
  ].join("\n");
}

export function renderTable(rows: Row[]): string {
  const header = ["figure", "value", "ceiling/baseline", "ratio", "target", "pass?", "receiver CPU/req"];
  const cells = rows.map((r) => [
    r.figure,
    r.value,
    r.baseline ?? "",
    r.ratio === undefined ? "" : r.ratio.toFixed(2),
    r.target ?? "",
    r.pass === undefined ? "" : r.pass ? "PASS" : "FAIL",
    r.receiver ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => "| " + c.map((v, i) => v.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(header), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...cells.map(line)].join("\n");
}
