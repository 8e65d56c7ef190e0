/**
 * SSRF guard: decides which address a webhook URL may be connected to. Runs when an endpoint is
 * saved and again before every delivery attempt; the caller connects to exactly the returned
 * address (IP pinning), so DNS rebinding between vetting and connecting cannot happen.
 */
import { LRUCache } from "lru-cache";
import { type AddressClass, type BlockedReason, classifyAddress, isIPv4, unwrapEmbeddedIPv4 } from "./address-classifier.ts";
import type { Resolver } from "./resolver.ts";

export type GuardFailureCode = "blocked_address" | "dns_error";

export type TargetVerdict =
  | { ok: true; address: string; family: 4 | 6; hostIsIp: boolean }
  | {
      ok: false;
      code: GuardFailureCode;
      reason: BlockedReason | "port" | "no_addresses" | "lookup_failed";
      message: string;
      address?: string;
    };

export type VetOptions = { resolver: Resolver; allowPrivate: boolean };

/** RFC 6761: these names are loopback by definition, whatever a resolver might be made to say. */
const LOOPBACK_ANSWER = ["127.0.0.1"];

const REASON_PHRASES: Record<BlockedReason, string> = {
  loopback: "a loopback address",
  private: "a private address",
  link_local: "a link-local address",
  cgnat: "a carrier-grade NAT (shared) address",
  unspecified: "an unspecified address",
  multicast: "a multicast address",
  broadcast: "the broadcast address",
  reserved: "a reserved address",
  documentation: "a documentation-only address",
  benchmarking: "a benchmarking address",
  unique_local: "a unique local (private) address",
  site_local: "a site-local address",
  invalid: "not a valid IP address",
};

/**
 * Synchronous when no lookup is needed (an IP literal or a localhost name), so the per-attempt
 * caller can skip racing a promise against its timeout; a Promise only when DNS must answer.
 */
export function vetTarget(url: URL, { resolver, allowPrivate }: VetOptions): TargetVerdict | Promise<TargetVerdict> {
  // WHATWG has already folded numeric spellings (2130706433, 0x7f.1, ...) into canonical IPs.
  const host = url.hostname;
  if (host.startsWith("[")) return vetAddresses(host, [host.slice(1, -1)], allowPrivate, true);
  if (isIPv4(host)) return vetAddresses(host, [host], allowPrivate, true);
  if (isLocalhostName(host)) return vetAddresses(host, LOOPBACK_ANSWER, allowPrivate, false);
  return vetResolved(host, resolver, allowPrivate);
}

/** Resolves afresh on every call: never cached, since that is what stops rebinding. */
async function vetResolved(host: string, resolver: Resolver, allowPrivate: boolean): Promise<TargetVerdict> {
  let addresses: string[];
  try {
    addresses = await resolver(host);
  } catch (error) {
    return dnsFailure("lookup_failed", `the host ${host} could not be resolved (${describeLookupError(error)})`);
  }
  return vetAddresses(host, addresses, allowPrivate, false);
}

// The classification of an address string never changes, and every attempt asks it again
// (the resolution itself is never cached: that is what stops rebinding).
const classified = new LRUCache<string, AddressClass>({ max: 10_000 });
function classifyCached(address: string): AddressClass {
  let verdict = classified.get(address);
  if (verdict === undefined) {
    verdict = classifyAddress(address);
    classified.set(address, verdict);
  }
  return verdict;
}

/** Every answer must pass: one private answer among public ones is how rebinding attacks get in. */
function vetAddresses(host: string, addresses: string[], allowPrivate: boolean, hostIsIp: boolean): TargetVerdict {
  for (const address of addresses) {
    const verdict = classifyCached(address);
    // allowPrivate opens private networks, but an unparseable answer is never connectable.
    if (verdict.public || (allowPrivate && verdict.reason !== "invalid")) continue;
    return {
      ok: false,
      code: "blocked_address",
      reason: verdict.reason,
      address,
      message: blockedMessage(address, verdict.reason, hostIsIp),
    };
  }
  const preferred = addresses.find(isIPv4) ?? addresses[0];
  if (preferred === undefined) return dnsFailure("no_addresses", `the host ${host} has no addresses`);
  return { ok: true, address: preferred, family: isIPv4(preferred) ? 4 : 6, hostIsIp };
}

function blockedMessage(address: string, reason: BlockedReason, hostIsIp: boolean): string {
  const carried = reason === "invalid" ? null : unwrapEmbeddedIPv4(address);
  const shown = carried === null ? address : `${address} (carrying ${carried})`;
  const phrase = REASON_PHRASES[reason];
  return hostIsIp ? `the host ${shown} is ${phrase}` : `the host resolves to ${shown}, ${phrase}`;
}

function isLocalhostName(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name === "localhost" || name.endsWith(".localhost");
}

function dnsFailure(reason: "no_addresses" | "lookup_failed", message: string): TargetVerdict {
  return { ok: false, code: "dns_error", reason, message };
}

function describeLookupError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.message : String(error);
}
