import type { SQL } from "bun";
import type { OrgRow, OrgsReads, OrgsRepo } from "../../port.ts";
import { toOrg } from "../rows.ts";

export function pgOrgsReads(db: SQL): OrgsReads {
  return {
    async get(id: string): Promise<OrgRow | undefined> {
      const [row] = await db`SELECT * FROM orgs WHERE id = ${id}`;
      return row && toOrg(row);
    },

    async listAfter(after: string | null, count: number): Promise<OrgRow[]> {
      const rows =
        after === null
          ? await db`SELECT * FROM orgs ORDER BY id LIMIT ${count}`
          : await db`SELECT * FROM orgs WHERE id > ${after} ORDER BY id LIMIT ${count}`;
      return rows.map(toOrg);
    },
  };
}

export function pgOrgsRepo(db: SQL): OrgsRepo {
  return {
    ...pgOrgsReads(db),
    async insert(row: OrgRow): Promise<void> {
      await db`INSERT INTO orgs (id, name, created_at) VALUES (${row.id}, ${row.name}, ${row.createdAt})`;
    },
  };
}
