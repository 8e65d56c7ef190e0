// temporary: per-thread CPU of webhookd during one throughput run
import { readdirSync, readFileSync } from "node:fs";
import { runRole, spawnRole, stopAll } from "./processes.ts";
import { createTenant, startWebhookd } from "./webhookd.ts";
const paths = (process.argv[2] ?? "1") === "5" ? ["/h/1", "/h/2", "/h/3", "/h/4", "/h/5"] : ["/h/1"];
const events = paths.length === 5 ? 10000 : 30000;
function threads(pid: number) {
  const m = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim();
    const f = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8").split(") ")[1]!.split(" ");
    m.set(comm, (m.get(comm) ?? 0) + Number(f[11]) + Number(f[12]));
  }
  return m;
}
const rec = spawnRole("receiver.ts");
const recUrl = (await rec.line<{ url: string }>()).url;
const wd = await startWebhookd(process.argv[3] ? { command: process.argv.slice(3) } : {});
try {
  const tenant = await createTenant(wd, paths.map((p) => recUrl + p));
  for (const [n, label] of [[3000, "warm"], [events, "run"]] as const) {
    await fetch(recUrl + "/_bench/reset", { method: "POST", body: "{}" });
    const before = threads(wd.pid);
    const t0 = performance.now();
    await runRole("load-client.ts", { mode: "batch", url: wd.url, key: tenant.key, events: n, concurrency: 2 });
    const total = n * paths.length;
    await fetch(`${recUrl}/_bench/wait?n=${total}&timeoutMs=60000`);
    const secs = (performance.now() - t0) / 1000;
    await Bun.sleep(300);
    const after = threads(wd.pid);
    if (label === "warm") continue;
    console.log(`${total} deliveries in ${secs.toFixed(2)} s = ${(total / secs).toFixed(0)}/s`);
    const rows = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(20)} ${(v * 10 / 1000).toFixed(2)} s  ${((v * 10000) / total).toFixed(0)} us/delivery`);
  }
} finally {
  await wd.stop();
  stopAll();
}
