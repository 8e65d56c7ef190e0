/**
 * Cluster-wide "run once": a session advisory lock taken with pg_try_advisory_lock on a connection
 * reserved for the job. A node that finds it held skips the job instead of queueing behind it
 * (the job runs again on its next schedule anyway). The lock is the session's, so a node that
 * dies or loses the connection mid-job frees it at once: the job may then start on another node
 * while the first one's last statement finishes, which jobs run this way must bear (the retention
 * sweep deletes in idempotent batches).
 */
import type { SQL } from "bun";
import { asStorageFault } from "./errors.ts";

/** The first key of the two-key advisory lock space for these jobs; the second is the job name's hash. */
const JOB_LOCK_CLASS = 0x77686a62; // "whjb"

export async function runExclusive<T>(sql: SQL, name: string, job: () => Promise<T>): Promise<T | null> {
  let conn: Awaited<ReturnType<SQL["reserve"]>>;
  try {
    conn = await sql.reserve();
  } catch (error) {
    throw asStorageFault(error);
  }
  try {
    const [lock] = await conn`SELECT pg_try_advisory_lock(${JOB_LOCK_CLASS}::int, hashtext(${name})) AS got`.catch((e: unknown) => {
      throw asStorageFault(e);
    });
    if (!lock.got) return null;
    try {
      return await job();
    } finally {
      // A lost connection has freed the lock already.
      await conn`SELECT pg_advisory_unlock(${JOB_LOCK_CLASS}::int, hashtext(${name}))`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}
