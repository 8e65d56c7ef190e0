/**
 * Changes between the nodes of a cluster, over PostgreSQL's LISTEN/NOTIFY: a transaction sends
 * what it changed with pg_notify (delivered at its commit, dropped on rollback), and every node
 * listens on one dedicated connection. A notification is lost while that connection is down, so
 * the listener says when it goes deaf and when it hears again, and the store makes up for the gap.
 *
 * A connection can also die without closing (a half-open TCP connection after a network fault,
 * a stuck backend): the listener sends itself a ping through the database every heartbeat, and
 * one not heard back by the next heartbeat makes it deaf and replaces the connection. So a
 * listener never stays deaf unnoticed for longer than two heartbeats.
 */
import { SQL } from "bun";
import type { Change } from "./changes.ts";

const CHANGES_CHANNEL = "webhookd_changes";

/** On the wire, in short keys (a payload is at most 8000 bytes): the sending node, and a change or a ping. */
type Wire = { n: string; e: [orgId: string, endpointId: string] } | { n: string; k: string } | { n: string; p: string };

function encode(node: string, c: Change): string {
  return JSON.stringify(c.kind === "endpoint" ? { n: node, e: [c.orgId, c.endpointId] } : { n: node, k: c.keyHash });
}

function decode(payload: string): Wire | null {
  try {
    return JSON.parse(payload) as Wire;
  } catch {
    return null;
  }
}

/** Inside a transaction, before COMMIT: one statement for all of its changes. */
export async function sendChanges(tx: SQL, node: string, changes: Change[]): Promise<void> {
  const payloads = changes.map((c) => encode(node, c));
  await tx`SELECT pg_notify(${CHANGES_CHANNEL}, p) FROM unnest(${tx.array(payloads, "TEXT")}::text[]) AS p`;
}

export interface ChangeListenerEvents {
  /** Another node's change. */
  changed(change: Change): void;
  /** The connection is down: notifications sent from now on are lost until `hearing`. */
  deaf(): void;
  /** Subscribed (again): notifications are heard from now on. */
  hearing(): void;
}

export interface ChangeListenerOptions {
  url: string;
  /** The pool the pings are sent through (never the listening connection itself). */
  pool: SQL;
  node: string;
  heartbeatMs: number;
}

/**
 * Listens on a client of its own: its one connection is the LISTEN connection, so its `onclose`
 * says exactly when notifications stop being heard. Bun.SQL reconnects it with backoff and
 * subscribes again, which `onlisten` reports; the heartbeat replaces a client that went silent.
 */
export async function listenForChanges(options: ChangeListenerOptions, events: ChangeListenerEvents): Promise<{ close(): Promise<void> }> {
  const { url, pool, node, heartbeatMs } = options;
  let client: SQL | null = null;
  let closing = false;
  /** The ping sent and not heard back yet; `pingSent` once the server has taken it (a slow send is not a deaf listener). */
  let unheardPing: string | null = null;
  let pingSent = false;
  let replacing = false;

  function onPayload(payload: string): void {
    const w = decode(payload);
    if (w === null) return;
    if ("p" in w) {
      if (w.p === unheardPing) unheardPing = null;
    } else if (w.n !== node) {
      events.changed("e" in w ? { kind: "endpoint", orgId: w.e[0], endpointId: w.e[1] } : { kind: "key", keyHash: w.k });
    }
  }

  async function subscribe(): Promise<void> {
    const own: SQL = new SQL(url, {
      max: 1,
      // Only the current client's loss counts: a replaced one closing is expected.
      onclose: () => !closing && client === own && events.deaf(),
    });
    client = own;
    try {
      await own.listen(CHANGES_CHANNEL, onPayload, () => events.hearing());
    } catch (error) {
      // No client at all, so the next heartbeat tries a new one.
      client = null;
      await own.close({ timeout: 0 });
      throw error;
    }
    // Closed while subscribing (a heartbeat's replacement racing close()): nothing may outlive it.
    if (closing) await own.close({ timeout: 0 });
  }

  async function replace(): Promise<void> {
    replacing = true;
    events.deaf();
    const old = client;
    client = null;
    try {
      await old?.close({ timeout: 0 });
      await subscribe();
    } catch {
      // The database is unreachable: the next heartbeat tries again.
    } finally {
      replacing = false;
    }
  }

  async function heartbeat(): Promise<void> {
    if (closing || replacing || (unheardPing !== null && !pingSent)) return;
    if (unheardPing !== null || client === null) {
      unheardPing = null;
      return replace();
    }
    // Set before sending: the ping can be heard before the send resolves.
    const ping = crypto.randomUUID();
    unheardPing = ping;
    pingSent = false;
    try {
      await pool`SELECT pg_notify(${CHANGES_CHANNEL}, ${JSON.stringify({ n: node, p: ping })})`;
      pingSent = true;
    } catch {
      // The database is unreachable through the pool too: nothing to learn about the listener.
      if (unheardPing === ping) unheardPing = null;
    }
  }

  await subscribe();
  const timer = setInterval(heartbeat, heartbeatMs);
  return {
    async close() {
      closing = true;
      clearInterval(timer);
      await client?.close({ timeout: 0 });
    },
  };
}
