/**
 * The event-type catalog: which event names may be published and subscribed to. The default is
 * every event the seed documents name; WEBHOOKD_EVENT_TYPES replaces it.
 */
export interface EventType {
  name: string;
  description: string;
  /** The `data` of a typical event of this type: shown in the catalog and sent by test sends. */
  example: Record<string, unknown>;
}
export type EventTypeCatalog = ReadonlyArray<EventType>;

const CALL = { id: "call_abc123", to: "+14155551234", from: "+14155559999" };
const CONTACT = { id: "con_abc123", name: "Ada Lovelace", phone: "+14155551234", email: "ada@example.com" };

export const DEFAULT_EVENT_TYPES: EventTypeCatalog = [
  { name: "call.started", description: "An outbound call was initiated", example: { ...CALL, status: "started" } },
  { name: "call.ended", description: "A call completed", example: { ...CALL, status: "ended", duration: 45 } },
  { name: "call.failed", description: "A call encountered an error", example: { ...CALL, status: "failed", error: "no_answer" } },
  { name: "call.scheduled", description: "A call was scheduled for later", example: { ...CALL, status: "scheduled", scheduledAt: "2025-01-15T10:30:00.000Z" } },
  { name: "call.cancelled", description: "A scheduled call was cancelled", example: { ...CALL, status: "cancelled" } },
  { name: "call.transferred", description: "A call was transferred", example: { ...CALL, status: "transferred", transferredTo: "+14155550000" } },
  { name: "contact.created", description: "A new contact was created", example: CONTACT },
  { name: "contact.updated", description: "A contact was modified", example: { ...CONTACT, name: "Ada King" } },
  { name: "contact.deleted", description: "A contact was deleted", example: { id: CONTACT.id } },
  {
    name: "appointment.scheduled",
    description: "An appointment was scheduled",
    example: { id: "apt_abc123", contactId: CONTACT.id, startsAt: "2025-01-16T15:00:00.000Z", durationMinutes: 30 },
  },
  {
    name: "conversation.completed",
    description: "A conversation completed",
    example: { id: "conv_abc123", contactId: CONTACT.id, channel: "voice", summary: "Booked an appointment for Thursday." },
  },
];

/** What a test send carries for a type whose example is not known (the generic test event). */
export const GENERIC_TEST_DATA: Readonly<Record<string, unknown>> = { test: true, message: "This is a test event from webhookd." };

/** The `data` a test send of this type carries: its catalog example. */
export function exampleData(catalog: EventTypeCatalog, type: string): Record<string, unknown> {
  return catalog.find((e) => e.name === type)?.example ?? { ...GENERIC_TEST_DATA };
}

/** Event names: dot-separated segments of letters, digits, `_` and `-`. */
export const EVENT_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Parses WEBHOOKD_EVENT_TYPES: a path to a JSON file (array of names or of {name, description,
 * example}) when `readFile` finds one, else a comma-separated list of names. A type with no
 * example gets `{}` as its example.
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
    if (typeof item === "string") return { name: item, description: "", example: {} };
    if (item && typeof item === "object" && typeof (item as EventType).name === "string") {
      const { name, description, example } = item as Partial<EventType> & { name: string };
      if (example !== undefined && (example === null || typeof example !== "object" || Array.isArray(example))) {
        throw new Error(`the example of "${name}" must be a JSON object`);
      }
      return { name, description: typeof description === "string" ? description : "", example: example ?? {} };
    }
    throw new Error(`each event type must be a name or {name, description, example}`);
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
