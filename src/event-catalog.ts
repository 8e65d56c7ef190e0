/**
 * The event-type catalog: which event names may be published and subscribed to. The default is
 * every event the seed documents name; WEBHOOKD_EVENT_TYPES replaces it.
 */
export interface EventType {
  name: string;
  description: string;
}
export type EventTypeCatalog = ReadonlyArray<EventType>;

export const DEFAULT_EVENT_TYPES: EventTypeCatalog = [
  { name: "call.started", description: "An outbound call was initiated" },
  { name: "call.ended", description: "A call completed" },
  { name: "call.failed", description: "A call encountered an error" },
  { name: "call.scheduled", description: "A call was scheduled for later" },
  { name: "call.cancelled", description: "A scheduled call was cancelled" },
  { name: "call.transferred", description: "A call was transferred" },
  { name: "contact.created", description: "A new contact was created" },
  { name: "contact.updated", description: "A contact was modified" },
  { name: "contact.deleted", description: "A contact was deleted" },
  { name: "appointment.scheduled", description: "An appointment was scheduled" },
  { name: "conversation.completed", description: "A conversation completed" },
];

/** Event names: dot-separated segments of letters, digits, `_` and `-`. */
export const EVENT_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Parses WEBHOOKD_EVENT_TYPES: a path to a JSON file (array of names or of {name, description})
 * when `readFile` finds one, else a comma-separated list of names.
 */
export function parseEventTypeCatalog(raw: string, readFile: (path: string) => string | null): EventTypeCatalog {
  const trimmed = raw.trim();
  let items: unknown[];
  if (trimmed.endsWith(".json") || trimmed.includes("/")) {
    const fileText = readFile(trimmed);
    if (fileText === null) throw new Error(`file not found: ${trimmed}`);
    try {
      items = JSON.parse(fileText);
    } catch {
      throw new Error(`${trimmed} is not valid JSON`);
    }
    if (!Array.isArray(items)) throw new Error(`${trimmed} must hold a JSON array`);
  } else {
    items = trimmed.split(",").map((s) => s.trim()).filter(Boolean);
  }
  const catalog = items.map((item): EventType => {
    if (typeof item === "string") return { name: item, description: "" };
    if (item && typeof item === "object" && typeof (item as EventType).name === "string") {
      const { name, description } = item as EventType;
      return { name, description: typeof description === "string" ? description : "" };
    }
    throw new Error(`each event type must be a name or {name, description}`);
  });
  if (catalog.length === 0) throw new Error("the catalog is empty");
  const seen = new Set<string>();
  for (const { name } of catalog) {
    if (!EVENT_NAME.test(name) || name.length > 128) throw new Error(`invalid event type name "${name}"`);
    if (seen.has(name)) throw new Error(`duplicate event type "${name}"`);
    seen.add(name);
  }
  return catalog;
}
