import { Elysia, t } from "elysia";
import type { EventTypeCatalog } from "../../event-catalog.ts";
import { envelope, ok } from "../common.ts";

const EventType = t.Object({
  name: t.String({ examples: ["call.ended"] }),
  description: t.String({ examples: ["A call completed"] }),
  example: t.Record(t.String(), t.Unknown(), { description: "The data of a typical event of this type; test sends carry it" }),
});

/** The catalog is public knowledge (it is in the docs), so no key is needed. */
export function eventTypesRoutes(catalog: EventTypeCatalog) {
  const body = ok(catalog.map((e) => ({ name: e.name, description: e.description, example: e.example })));
  return new Elysia().get("/api/v1/event-types", () => body, {
    response: { 200: envelope(t.Array(EventType)) },
    detail: { tags: ["event-types"], summary: "List the event types endpoints can subscribe to", security: [] },
  });
}
