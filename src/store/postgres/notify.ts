/**
 * Changes between the nodes of a cluster, over PostgreSQL's LISTEN/NOTIFY: a transaction sends
 * what it changed with pg_notify (delivered at its commit, dropped on rollback), and every node
 * listens on one dedicated connection. A notification is lost while that connection is down, so
 * the listener says when it goes deaf and when it hears again, and the store makes up for the gap.
 */
import { SQL } from "bun";
import type { Change } from "./changes.ts";

export const CHANGES_CHANNEL = "webhookd_changes";

/** On the wire: the sending node (so it can skip its own) and the change, in short keys (a payload is at most 8000 bytes). */
type Wire = { n: string; e: [orgId: string, endpointId: string] } | { n: string; k: string };

function encode(node: string, c: Change): string {
  return JSON.stringify(c.kind === "endpoint" ? { n: node, e: [c.orgId, c.endpointId] } : { n: node, k: c.keyHash });
}

function decode(payload: string): { node: string; change: Change } | null {
  try {
    const w = JSON.parse(payload) as Wire;
    if ("e" in w) return { node: w.n, change: { kind: "endpoint", orgId: w.e[0], endpointId: w.e[1] } };
    if ("k" in w) return { node: w.n, change: { kind: "key", keyHash: w.k } };
  } catch {}
  return null;
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

/**
 * Listens on a client of its own: its one connection is the LISTEN connection, so its `onclose`
 * says exactly when notifications stop being heard. Bun.SQL reconnects it with backoff and
 * subscribes again, which `onlisten` reports.
 */
export async function listenForChanges(url: string, node: string, events: ChangeListenerEvents): Promise<{ close(): Promise<void> }> {
  let closing = false;
  const client = new SQL(url, {
    max: 1,
    onclose: () => {
      if (!closing) events.deaf();
    },
  });
  const subscription = await client.listen(
    CHANGES_CHANNEL,
    (payload) => {
      const heard = decode(payload);
      if (heard && heard.node !== node) events.changed(heard.change);
    },
    () => events.hearing(),
  );
  return {
    async close() {
      closing = true;
      await subscription.unlisten();
      await client.close();
    },
  };
}
