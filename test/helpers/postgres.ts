/**
 * A throwaway PostgreSQL server on loopback for tests and the bench: initdb into a temp dir (as
 * the `postgres` user when run as root, which initdb refuses to be), a free port, trust auth on
 * 127.0.0.1 only. The server binaries come from Debian's postgresql package (.ci/run installs it).
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export interface Postgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** The postmaster's process id (its CPU, with its children's, is the server's). */
  readonly pid: number;
  /** The server's data directory (its files are what "at rest" means here). */
  dataDir: string;
  /** A new, empty database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server, keeping its data, as an outage would (open connections are cut). */
  pause(): Promise<void>;
  /** Starts it again on the same port and data after `pause`. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** The newest installed server's bin dir, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "postgres"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

function run(cmd: string[], asPostgres: boolean): void {
  const argv = asPostgres ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`${cmd.join(" ")} failed:\n${r.stdout.toString()}\n${r.stderr.toString()}`);
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install -y postgresql); .ci/run installs it");
  const asPostgres = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), "webhookd-pg-"));
  const data = join(dir, "data");
  if (asPostgres) {
    const id = (flag: string) => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString());
    chownSync(dir, id("-u"), id("-g"));
  }
  const port = await freePort();
  try {
    run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"], asPostgres);
    appendFileSync(
      join(data, "postgresql.conf"),
      `\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nfsync = on\nmax_connections = 1000\n`,
    );
    writeFileSync(join(data, "pg_hba.conf"), "host all all 127.0.0.1/32 trust\nlocal all all trust\n");
    run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "server.log"), "-w", "-t", "30", "start"], asPostgres);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = true;
  const postmasterPid = () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  return {
    url,
    port,
    dataDir: data,
    get pid() {
      return postmasterPid();
    },
    async createDatabase(name) {
      const sql = new Bun.SQL(url);
      try {
        await sql.unsafe(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
      } finally {
        await sql.close();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async pause() {
      running = false;
      run([join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"], asPostgres);
    },
    async resume() {
      run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "server.log"), "-w", "-t", "30", "start"], asPostgres);
      running = true;
    },
    async stop() {
      try {
        if (running) run([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], asPostgres);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
