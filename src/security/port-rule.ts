/**
 * Which ports endpoint URLs may name (WEBHOOKD_ALLOWED_PORTS). The SSRF guard's address rule is
 * what keeps private networks out; this rule is for operators who also want public hosts reached
 * only on web ports. Checked wherever the guard is: on save and before every attempt.
 */
import type { TargetVerdict } from "./target-guard.ts";

/** Inclusive [from, to] ranges; null allows every port. */
export type AllowedPorts = ReadonlyArray<readonly [number, number]> | null;

const RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** `any`, or a comma list of ports and ranges such as `443,8443,8000-8999`. */
export function parseAllowedPorts(raw: string): AllowedPorts {
  if (raw.trim() === "any") return null;
  return raw.split(",").map((item) => {
    const match = RANGE.exec(item.trim());
    const from = Number(match?.[1]);
    const to = match?.[2] === undefined ? from : Number(match[2]);
    if (!match || from < 1 || to > 65535 || from > to) throw new Error(`expected "any" or ports and ranges like 443,8000-8999, got "${item.trim()}"`);
    return [from, to] as const;
  });
}

/** The refusal for a URL on a port outside the list; null when the port is allowed. */
export function vetPort(url: URL, allowed: AllowedPorts): TargetVerdict | null {
  if (allowed === null) return null;
  // The URL parser leaves `port` empty for the scheme's default.
  const port = url.port === "" ? (url.protocol === "http:" ? 80 : 443) : Number(url.port);
  if (allowed.some(([from, to]) => port >= from && port <= to)) return null;
  return { ok: false, code: "blocked_address", reason: "port", message: `port ${port} is not in WEBHOOKD_ALLOWED_PORTS` };
}
