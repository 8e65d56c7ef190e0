/**
 * Starts webhookd on a free loopback port with its own temporary data dir, and gives tests a small
 * JSON client. Real HTTP, the real SQLite file. From source in this process by default; with
 * `WEBHOOKD_TEST_TARGET=binary` the compiled `./webhookd` is started instead, so the same suite
 * checks what users run. With `WEBHOOKD_TEST_DATABASE=postgres` each server gets a database of
 * its own on one throwaway PostgreSQL server (started once per test process) instead of the file.
 */
import { randomBytes } from "node:crypto";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config.ts";
import { databaseFile, startApp, type AppOptions, type RunningApp } from "../../src/app.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import type { Store } from "../../src/store/port.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { installBinary } from "./binary.ts";
import { startPostgres, type Postgres } from "./postgres.ts";

import { ADMIN_KEY, LOCAL_ENV } from "./local-env.ts";

export { ADMIN_KEY };

/** What the HTTP suites run against: `source` (in-process, the default) or the compiled `binary`. */
export const TEST_TARGET: "source" | "binary" = process.env.WEBHOOKD_TEST_TARGET === "binary" ? "binary" : "source";

export interface TestServer {
  /** The in-process app; a suite that reaches into it runs from source only (it throws against the binary). */
  app: RunningApp;
  url: string;
  dataDir: string;
  config: Config;
  api: ApiClient;
  /** Stops the server and starts it again on the same data (the SQLite file or the PostgreSQL database), at a new URL. */
  restart(options?: AppOptions): Promise<void>;
  /** A new org and a key with every scope (or the ones given). */
  newTenant(scopes?: string[]): Promise<{ orgId: string; key: string; keyId: string }>;
  stop(): Promise<void>;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export type ApiClient = <T = any>(
  method: string,
  path: string,
  opts?: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> },
) => Promise<ApiResponse<T>>;

export function makeClient(baseUrl: string): ApiClient {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers["x-api-key"] = opts.key;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, headers: res.headers, body: parsed };
  };
}

/** Where the suites' servers keep their data: the SQLite file (the default) or PostgreSQL. */
export const TEST_DATABASE: "sqlite" | "postgres" = process.env.WEBHOOKD_TEST_DATABASE === "postgres" ? "postgres" : "sqlite";

/**
 * Tests about the SQLite file itself (its bytes on disk, another process's lock, a full disk) run
 * on SQLite only: `test.skipIf(!ON_SQLITE)`. The PostgreSQL adapter's own faults are tried in
 * test/store/postgres.test.ts.
 */
export const ON_SQLITE = TEST_DATABASE === "sqlite";

let postgres: Promise<Postgres> | null = null;
/** The database settings of each data dir, so a server restarted on the same dir finds its database again. */
const databaseOf = new Map<string, Record<string, string>>();

/** A fresh database for a new data dir (nothing for SQLite: the file lives in the dir). */
async function newDatabase(dataDir: string): Promise<void> {
  if (TEST_DATABASE === "sqlite") return;
  postgres ??= startPostgres().then((pg) => {
    // stop() runs pg_ctl synchronously: it finishes inside the exit handler.
    process.on("exit", () => void pg.stop());
    return pg;
  });
  const url = await (await postgres).createDatabase(`t_${randomBytes(8).toString("hex")}`);
  databaseOf.set(dataDir, { WEBHOOKD_DATABASE_URL: url, WEBHOOKD_MASTER_KEY: randomBytes(32).toString("hex") });
}

/**
 * The store of a stopped server's data dir, to write what a dead process would have left behind.
 * On PostgreSQL the rows it inserts are leased to it only until they are due (a lease of 1 ms):
 * as a node that died leaves them, free for the next node to claim.
 */
export async function openStoreOf(dataDir: string): Promise<Store> {
  const database = databaseOf.get(dataDir);
  if (database) return openPostgresStore(database.WEBHOOKD_DATABASE_URL!, { leaseMs: 1 });
  return openSqliteStore(databaseFile({ dataDir }));
}

/**
 * The bytes the server's data rests in: the SQLite file with its WAL and shared-memory files; on
 * PostgreSQL, the files of the server's database (base/<its oid>/) and the server's WAL.
 */
export async function databaseBytes(config: Config): Promise<Buffer> {
  if (!config.databaseUrl) {
    const files = ["webhookd.db", "webhookd.db-wal", "webhookd.db-shm"].map((f) => join(config.dataDir, f)).filter(existsSync);
    if (!files.includes(join(config.dataDir, "webhookd.db"))) throw new Error(`no database file in ${config.dataDir}`);
    return Buffer.concat(files.map((f) => readFileSync(f)));
  }
  const sql = new Bun.SQL(config.databaseUrl);
  try {
    const [{ oid }] = await sql`SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()`;
    const { dataDir } = await postgres!;
    const dirs = [join(dataDir, "base", oid), join(dataDir, "pg_wal")];
    return Buffer.concat(dirs.flatMap((dir) => readdirSync(dir).map((f) => join(dir, f)).filter((f) => statSync(f).isFile()).map((f) => readFileSync(f))));
  } finally {
    await sql.close();
  }
}

/** Rows of a query run straight on the server's database (the same SQL reads both schemas). */
export async function queryDatabase<T>(config: Config, query: string): Promise<T[]> {
  if (!config.databaseUrl) {
    const db = new Database(databaseFile(config), { readonly: true });
    try {
      return db.query<T, []>(query).all();
    } finally {
      db.close();
    }
  }
  const sql = new Bun.SQL(config.databaseUrl);
  try {
    return [...(await sql.unsafe(query))] as T[];
  } finally {
    await sql.close();
  }
}

/** The tests' settings: loopback, a fixed admin key, no probe, no rate limit, private http targets allowed. */
export function testConfig(dataDir: string, env: Record<string, string> = {}): Config {
  return loadConfig({ ...LOCAL_ENV, WEBHOOKD_DATA_DIR: dataDir, ...databaseOf.get(dataDir), ...env });
}

export async function startTestServer(env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "webhookd-test-"));
  let config: Config;
  let running: { url: string; app: () => RunningApp; stop(): Promise<void> };
  try {
    await newDatabase(dataDir);
    config = testConfig(dataDir, env);
    running = TEST_TARGET === "binary" ? await startBinary(dataDir, { ...databaseOf.get(dataDir), ...env }, options) : await startInProcess(config, options);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true }); // a failed start leaves nothing behind
    throw err;
  }
  let client = makeClient(running.url);
  const api: ApiClient = (...args) => client(...args);
  return {
    get app() {
      return running.app();
    },
    get url() {
      return running.url;
    },
    dataDir,
    config,
    api,
    async restart(restartOptions = options) {
      await running.stop();
      running = TEST_TARGET === "binary" ? await startBinary(dataDir, { ...databaseOf.get(dataDir), ...env }, restartOptions) : await startInProcess(config, restartOptions);
      client = makeClient(running.url);
    },
    async newTenant(scopes = ["webhooks:read", "webhooks:write", "events:write"]) {
      const org = await api("POST", "/api/v1/orgs", { key: ADMIN_KEY, body: { name: "Test org" } });
      const orgId = org.body.data.id as string;
      const key = await api("POST", `/api/v1/orgs/${orgId}/keys`, { key: ADMIN_KEY, body: { scopes } });
      return { orgId, key: key.body.data.key as string, keyId: key.body.data.id as string };
    },
    async stop() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
      databaseOf.delete(dataDir);
    },
  };
}

async function startInProcess(config: Config, options: AppOptions) {
  const app = await startApp(config, { logger: silentLogger, ...options });
  return { url: app.url, app: () => app, stop: () => app.stop() };
}

/** The compiled binary on the same settings; it takes no injected clock or resolver, so a suite passing one is from-source only. */
async function startBinary(dataDir: string, env: Record<string, string>, options: AppOptions) {
  const injected = Object.keys(options);
  if (injected.length > 0) throw new Error(`this suite injects ${injected.join(", ")}: it runs from source only, not with WEBHOOKD_TEST_TARGET=binary`);
  const installed = installBinary();
  try {
    const served = await installed.serve([], { ...LOCAL_ENV, WEBHOOKD_DATA_DIR: dataDir, ...env });
    return {
      url: served.url,
      app: (): RunningApp => {
        throw new Error("this test reaches into the in-process app: it runs from source only, not with WEBHOOKD_TEST_TARGET=binary");
      },
      async stop() {
        await served.stop("SIGTERM");
        // What a 5xx logged is only in the binary's output: show it beside the failing test.
        for (const line of served.stdout().split("\n")) if (line.includes('"level":"error"')) console.error(`webhookd: ${line}`);
        await installed.cleanup();
      },
    };
  } catch (err) {
    await installed.cleanup();
    throw err;
  }
}
