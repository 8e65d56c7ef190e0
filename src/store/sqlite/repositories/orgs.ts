import { asc, eq, gt } from "drizzle-orm";
import type { OrgsRepo } from "../../port.ts";
import type { Db } from "../database.ts";
import { orgs } from "../schema.ts";

export function createOrgsRepo(db: Db): OrgsRepo {
  return {
    async insert(row) {
      db.insert(orgs).values(row).run();
    },
    async get(id) {
      return db.select().from(orgs).where(eq(orgs.id, id)).get();
    },
    async listAfter(after, count) {
      const query = db.select().from(orgs);
      return (after === null ? query : query.where(gt(orgs.id, after))).orderBy(asc(orgs.id)).limit(count).all();
    },
  };
}
