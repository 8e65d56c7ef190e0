/**
 * The ceiling: a raw Bun fetch loop, in its own process, sending the same signed webhook
 * requests webhookd would (one per event and path) to the receiver, at the same concurrency,
 * with no persistence. Reports `{t0, t1, sent, failed, cpuMs}` (epoch ms) when done.
 */
import { benchId, childArgs, epochMs, eventData, newSecret, report, signedWebhook, webhookBody } from "./payload.ts";

interface Args {
  /** Receiver base URL (127.0.0.1). */
  target: string;
  paths: string[];
  /** Events; each goes to every path. */
  events: number;
  concurrency: number;
}

const { target, paths, events, concurrency } = childArgs<Args>();
const secrets = paths.map(() => newSecret());
const total = events * paths.length;
let next = 0;
let failed = 0;
// Like webhookd, the body is made once per event (at publish) and signed once per delivery.
const bodies: string[] = [];
const ids: string[] = [];

async function worker(): Promise<void> {
  for (let i = next++; i < total; i = next++) {
    const e = Math.floor(i / paths.length);
    const p = i % paths.length;
    if (p === 0) {
      ids[e] = benchId("evt", Date.now(), e);
      bodies[e] = webhookBody(eventData(e));
    }
    const res = await fetch(target + paths[p], {
      method: "POST",
      headers: signedWebhook(ids[e]!, bodies[e]!, secrets[p]!),
      body: bodies[e]!,
      redirect: "manual",
    });
    await res.text();
    if (!res.ok) failed++;
  }
}

const cpu0 = process.cpuUsage();
const t0 = epochMs();
await Promise.all(Array.from({ length: concurrency }, worker));
const cpu = process.cpuUsage(cpu0);
report({ t0, t1: epochMs(), sent: total, failed, cpuMs: (cpu.user + cpu.system) / 1000 });
