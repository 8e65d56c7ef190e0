/**
 * What a transaction changed that other parts (and other nodes) must hear of. Repositories
 * report each change here as they write it; the transaction runner sends them with pg_notify
 * before COMMIT (PostgreSQL delivers them at commit, and drops them on rollback) and hands them
 * to this process's listeners after the commit.
 */
export type Change = { kind: "endpoint"; orgId: string; endpointId: string } | { kind: "key"; keyHash: string };

export interface TxChanges {
  /** Called by a repository right after its write, inside the transaction. */
  record(change: Change): void;
}
