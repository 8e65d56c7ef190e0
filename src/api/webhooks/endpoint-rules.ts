/** Pure checks on what an endpoint may hold: its URL's shape and its event filters. */
import { ValidationError, refuseNul } from "../../lib/errors.ts";
import type { EventTypeCatalog } from "../../event-catalog.ts";

export const MAX_URL_LENGTH = 2048;
export const MAX_EVENTS_PER_ENDPOINT = 10;
/** Seed 000's "max 500 chars", counted in characters (code points), not UTF-16 units: 500 emoji fit. */
export const MAX_DESCRIPTION_CHARS = 500;

/** An endpoint's description: at most 500 characters. */
export function checkDescription(description: string | null | undefined): void {
  refuseNul(description, "description");
  if (typeof description !== "string" || description.length <= MAX_DESCRIPTION_CHARS) return;
  let chars = 0;
  for (const _ of description) chars++;
  if (chars > MAX_DESCRIPTION_CHARS) {
    throw new ValidationError(`description must be at most ${MAX_DESCRIPTION_CHARS} characters (it has ${chars}).`, "description");
  }
}

export function parseEndpointUrl(raw: string, allowHttp: boolean): URL {
  if (raw.length > MAX_URL_LENGTH) throw new ValidationError(`url must be at most ${MAX_URL_LENGTH} characters.`, "url");
  // The WHATWG parser would silently drop tabs and newlines; refuse them instead.
  if (/[\u0000-\u001f\u007f\s]/.test(raw)) throw new ValidationError("url must not contain whitespace or control characters.", "url");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError("url must be an absolute URL.", "url");
  }
  if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) {
    throw new ValidationError(allowHttp ? "url must use https or http." : "url must use HTTPS.", "url");
  }
  if (url.username || url.password) throw new ValidationError("url must not contain user info.", "url");
  if (!url.hostname) throw new ValidationError("url must name a host.", "url");
  return url;
}

/**
 * An endpoint's `events`: catalog names, `*` for everything, or `prefix.*` for every catalog
 * event under a prefix. Deduplicated; 1 to 10 entries.
 */
export function normalizeEventFilters(events: string[], catalog: EventTypeCatalog): string[] {
  const unique = [...new Set(events)];
  if (unique.length < 1 || unique.length > MAX_EVENTS_PER_ENDPOINT) {
    throw new ValidationError(`events must list 1 to ${MAX_EVENTS_PER_ENDPOINT} event types.`, "events");
  }
  unique.forEach((filter, i) => {
    if (filter === "*") return;
    if (filter.endsWith(".*")) {
      const prefix = filter.slice(0, -1);
      if (catalog.some((t) => t.name.startsWith(prefix))) return;
      throw new ValidationError(`events[${i}]: no event type matches "${filter}".`, `events[${i}]`);
    }
    if (!catalog.some((t) => t.name === filter)) {
      throw new ValidationError(`events[${i}]: unknown event type "${filter}"; see GET /api/v1/event-types.`, `events[${i}]`);
    }
  });
  return unique;
}

/** Whether an endpoint subscribed with `filters` receives an event named `type`. */
export function filtersMatch(filters: readonly string[], type: string): boolean {
  for (const f of filters) {
    if (f === "*" || f === type) return true;
    if (f.endsWith(".*") && type.startsWith(f.slice(0, -1))) return true;
  }
  return false;
}
