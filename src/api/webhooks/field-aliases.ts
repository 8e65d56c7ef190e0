/**
 * What a client moving from another seed product sends to `/api/v1/webhooks` under its own field
 * names, accepted where the meaning is the same: `enabled_events` (seed 003) and `event_types`
 * (seed 004) for `events`; `enabled` (seed 004) and `status` (seed 003) for `isActive`;
 * `grace_period_seconds` for `gracePeriodSeconds`. Sent beside the canonical field with another
 * value, the request is refused with an error naming the canonical field.
 */
import { ValidationError } from "../../lib/errors.ts";

/** The one value the canonical field and its aliases agree on (undefined when none was sent). */
function agreed<T>(canonical: string, sent: ReadonlyArray<readonly [name: string, value: T | undefined]>): T | undefined {
  const given = sent.filter(([, value]) => value !== undefined) as Array<readonly [string, T]>;
  const [first] = given;
  if (!first) return undefined;
  const conflicting = given.find(([, value]) => JSON.stringify(value) !== JSON.stringify(first[1]));
  if (conflicting) {
    throw new ValidationError(
      `${canonical}: ${given.map(([name]) => name).join(" and ")} say different things; send ${canonical} alone.`,
      canonical,
    );
  }
  return first[1];
}

export interface EventFields {
  events?: string[];
  enabled_events?: string[];
  event_types?: string[];
}

export interface ActiveFields {
  isActive?: boolean;
  enabled?: boolean;
  status?: "enabled" | "disabled";
}

export function canonicalEvents(body: EventFields): string[] | undefined {
  return agreed("events", [
    ["events", body.events],
    ["enabled_events", body.enabled_events],
    ["event_types", body.event_types],
  ]);
}

export function canonicalIsActive(body: ActiveFields): boolean | undefined {
  return agreed("isActive", [
    ["isActive", body.isActive],
    ["enabled", body.enabled],
    ["status", body.status === undefined ? undefined : body.status === "enabled"],
  ]);
}

export function canonicalGracePeriod(body: { gracePeriodSeconds?: number; grace_period_seconds?: number } | null | undefined): number | undefined {
  return agreed("gracePeriodSeconds", [
    ["gracePeriodSeconds", body?.gracePeriodSeconds],
    ["grace_period_seconds", body?.grace_period_seconds],
  ]);
}
