/**
 * The /v1/ dialects name some endpoint fields differently (`enabled_events`, `event_types` for
 * `events`). The services speak the canonical names; a validation error they raise is reworded
 * here so that it names the field the caller actually sent.
 */
import { ValidationError } from "../lib/errors.ts";

export type FieldNames = Readonly<Record<string, string>>;

function rename(text: string, names: FieldNames): string {
  for (const [canonical, dialect] of Object.entries(names)) {
    if (text === canonical || text.startsWith(`${canonical}[`) || text.startsWith(`${canonical} `) || text.startsWith(`${canonical}:`)) {
      return dialect + text.slice(canonical.length);
    }
  }
  return text;
}

/** Runs `action`; a ValidationError about a renamed field comes out in the dialect's words. */
export async function inDialectTerms<T>(names: FieldNames, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ValidationError) || err.path === undefined) throw err;
    const path = rename(err.path, names);
    if (path === err.path) throw err;
    throw new ValidationError(rename(err.message, names), path);
  }
}
