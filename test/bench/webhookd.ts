/**
 * webhookd under test: the compiled binary (or, for profiling, `bun --cpu-prof src/main.ts`)
 * with a fresh data dir, its start-up time (spawn to /readyz 200), a tenant with endpoints on
 * the receiver, and its memory.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, memoryOf, spawnChild, type Child } from "./processes.ts";
import { epochMs } from "./payload.ts";
import { ADMIN_KEY, LOCAL_ENV } from "../helpers/local-env.ts";

export { ADMIN_KEY };
export const REPO = join(import.meta.dir, "../..");
export const BINARY = join(REPO, "webhookd");

export interface Webhookd {
  url: string;
  pid: number;
  dataDir: string;
  /** Spawn to the first /readyz 200. */
  startupMs: number;
  memory(): Promise<{ rssMb: number; peakMb: number }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  env?: Record<string, string>;
  /** Command before `serve`; default the compiled binary. */
  command?: string[];
}

const tempDirs: string[] = [];
export const benchTempDirs = (): readonly string[] => tempDirs;

export function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "webhookd-bench-"));
  tempDirs.push(dir);
  return dir;
}

export async function startWebhookd(opts: StartOptions = {}): Promise<Webhookd> {
  const dataDir = opts.dataDir ?? newDataDir();
  const env = childEnv({
    ...LOCAL_ENV,
    WEBHOOKD_DATA_DIR: dataDir,
    // info, not warn: the "listening" line (the only info line besides retention sweeps) carries the port.
    WEBHOOKD_LOG_LEVEL: "info",
    ...opts.env,
  });
  const spawnedAt = epochMs();
  const child: Child = spawnChild([...(opts.command ?? [BINARY]), "serve"], env);
  const { url } = await child.line<{ url: string }>((l) => l.msg === "webhookd listening");
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`webhookd listens on ${url}, not loopback`);
  while ((await fetch(`${url}/readyz`).catch(() => null))?.status !== 200) await Bun.sleep(2);
  const startupMs = epochMs() - spawnedAt;
  return {
    url,
    pid: child.proc.pid,
    dataDir,
    startupMs,
    memory: () => memoryOf(child.proc.pid),
    stop: () => child.stop("SIGTERM"),
  };
}

async function api<T>(url: string, path: string, key: string, body: unknown): Promise<T> {
  const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json", "x-api-key": key }, body: JSON.stringify(body) });
  const json = (await res.json()) as { data: T };
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

export interface Tenant {
  orgId: string;
  key: string;
  endpointIds: string[];
}

/** An org, a key with the publishing scopes, and one endpoint per target URL. */
export async function createTenant(wd: Webhookd, targets: string[]): Promise<Tenant> {
  const org = await api<{ id: string }>(wd.url, "/api/v1/orgs", ADMIN_KEY, { name: "bench" });
  const { key } = await api<{ key: string }>(wd.url, `/api/v1/orgs/${org.id}/keys`, ADMIN_KEY, {
    scopes: ["webhooks:read", "webhooks:write", "events:write"],
  });
  const endpointIds: string[] = [];
  for (const url of targets) {
    endpointIds.push((await api<{ id: string }>(wd.url, "/api/v1/webhooks", key, { url, events: ["call.ended"] })).id);
  }
  return { orgId: org.id, key, endpointIds };
}
