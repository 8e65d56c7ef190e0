/**
 * Tools for the reliability suites that play the adversary: a scriptable DNS, raw TCP servers
 * and clients (for what fetch refuses to send or receive), and database fingerprints to prove
 * that a refused request wrote nothing.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import type { Resolver } from "../../src/security/resolver.ts";

/**
 * A DNS the test scripts: `set(host, answers)` changes what a name resolves to from now on.
 * Unknown names answer 127.0.0.1 (the most hostile answer there is), never anything public.
 */
export function scriptedDns(initial: Record<string, string[]> = {}) {
  const table = new Map(Object.entries(initial));
  const lookups: Array<{ host: string; answers: string[] }> = [];
  const resolver: Resolver = async (host) => {
    const answers = table.get(host) ?? ["127.0.0.1"];
    lookups.push({ host, answers });
    return [...answers];
  };
  return {
    resolver,
    lookups,
    set(host: string, answers: string[]): void {
      table.set(host, answers);
    },
  };
}

export interface RawServer {
  port: number;
  url: string;
  /** TCP connections accepted so far (a blocked target must stay at 0). */
  connections: number;
  /** Request heads seen (text up to the blank line), in arrival order. */
  heads: string[];
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that hands each request (once its head has arrived) to `behave`,
 * which writes whatever bytes it likes, or resets, or stalls.
 */
export function startRawServer(behave: (socket: Socket, head: string) => void = (s) => s.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, heads: [] as string[] };
  const server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    let handled = false;
    socket.on("data", (chunk) => {
      if (handled) return;
      buffered += chunk.toString("latin1");
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) return;
      handled = true;
      const head = buffered.slice(0, end);
      state.heads.push(head);
      behave(socket, head);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        get connections() {
          return state.connections;
        },
        heads: state.heads,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The value of a header in a raw request head (case-insensitive), or undefined. */
export function headerOf(head: string, name: string): string | undefined {
  const lower = name.toLowerCase() + ":";
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(lower));
  return line?.slice(lower.length).trim();
}

export interface RawResponse {
  /** 0 when the server closed the connection without a status line. */
  status: number;
  head: string;
  body: string;
}

/**
 * Sends exactly these bytes to host:port and reads until the server closes or `timeoutMs`
 * passes (with `connection: close` in the request, servers close after answering).
 */
export function rawRequest(port: number, bytes: string | Uint8Array, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const head = end === -1 ? text : text.slice(0, end);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: end === -1 ? "" : text.slice(end + 4) });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, timeoutMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", (err) => {
      // A reset after a complete answer is still an answer.
      if (chunks.length) finish();
      else {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.write(bytes);
  });
}

/** Decodes a chunked HTTP/1.1 body (enough for the small JSON answers of the API). */
export function dechunk(body: string): string {
  let out = "";
  let rest = body;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    if (nl === -1) return out;
    const size = Number.parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/** The tables whose contents a refused request must leave exactly as they were. */
export const STATE_TABLES = ["orgs", "api_keys", "endpoints", "events", "deliveries", "attempts", "idempotency_records"] as const;

const hashRows = (rows: unknown[][]): string => {
  const hash = createHash("sha256");
  for (const row of rows) hash.update(JSON.stringify(row, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? String(v) : v)));
  return `${rows.length}:${hash.digest("hex").slice(0, 16)}`;
};

/**
 * A read-only view of the server's database, whichever backend it runs on (SQLite's WAL lets a
 * reader sit beside the writer; PostgreSQL is another connection), that fingerprints every
 * table's rows, so "nothing was partially written" is one equality.
 */
export function openFingerprinter(config: { dataDir: string; databaseUrl?: string }) {
  if (config.databaseUrl) {
    const sql = new Bun.SQL(config.databaseUrl, { max: 1 });
    return {
      async counts(): Promise<Record<string, number>> {
        const out: Record<string, number> = {};
        for (const table of STATE_TABLES) out[table] = Number((await sql.unsafe(`SELECT count(*) AS n FROM ${table}`))[0].n);
        return out;
      },
      async fingerprint(): Promise<Record<string, string>> {
        const out: Record<string, string> = {};
        for (const table of STATE_TABLES) out[table] = hashRows(await sql.unsafe(`SELECT * FROM ${table} ORDER BY 1, 2`).values());
        return out;
      },
      close: () => void sql.close(),
    };
  }
  const db = new Database(join(config.dataDir, "webhookd.db"), { readonly: true });
  return {
    async counts(): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      for (const table of STATE_TABLES) out[table] = (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      return out;
    },
    async fingerprint(): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const table of STATE_TABLES) out[table] = hashRows(db.query(`SELECT * FROM ${table} ORDER BY rowid`).values());
      return out;
    },
    close: () => db.close(),
  };
}
