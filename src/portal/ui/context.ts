import type { Api, EventType } from "./api.ts";

/** What every customer screen needs: the API (in the right org), where its links start, and what the session may do. */
export interface Ctx {
  api: Api;
  /** "" for a customer; "/orgs/<id>" for an operator looking into an org. */
  base: string;
  readOnly: boolean;
  catalog: EventType[];
}
