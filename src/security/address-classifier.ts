/**
 * Decides whether an IP literal is a public, globally reachable address, following the IANA
 * IPv4/IPv6 special-purpose registries. Pure: no DNS, no sockets. The SSRF guard builds on it.
 *
 * Addresses are handled as bigints (32 or 128 bits) so every range check is one prefix compare.
 */

export type BlockedReason =
  | "loopback"
  | "private"
  | "link_local"
  | "cgnat"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "documentation"
  | "benchmarking"
  | "unique_local"
  | "site_local"
  | "invalid";

export type AddressClass = { public: true } | { public: false; reason: BlockedReason };

type Cidr = { network: bigint; hostBits: bigint };
type BlockedRange = { cidr: Cidr; reason: BlockedReason };

const PUBLIC: AddressClass = { public: true };
const blocked = (reason: BlockedReason): AddressClass => ({ public: false, reason });

export function isIPv4(text: string): boolean {
  // The same rules as parseIPv4 (no leading zeros, each octet <= 255), without building the
  // number: this is asked on every delivery attempt.
  return DOTTED_QUAD.test(text);
}
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** Bare IPv6 text: no brackets, no zone id. */
export function isIPv6(text: string): boolean {
  return parseIPv6(text) !== null;
}

/**
 * Accepts dotted IPv4 or IPv6 (optionally bracketed, optionally with a zone id), as produced by
 * the WHATWG URL parser or a DNS lookup. Anything unparseable is blocked as "invalid".
 */
export function classifyAddress(ip: string): AddressClass {
  const bracketed = ip.startsWith("[") && ip.endsWith("]");
  if (!bracketed) {
    const ipv4 = parseIPv4(ip);
    if (ipv4 !== null) return classifyIPv4(ipv4);
  }
  const literal = bracketed ? ip.slice(1, -1) : ip;
  const zoneAt = literal.indexOf("%");
  const hasZone = zoneAt !== -1;
  const ipv6 = parseIPv6(hasZone ? literal.slice(0, zoneAt) : literal);
  if (ipv6 === null || zoneAt === literal.length - 1) return blocked("invalid");
  const verdict = classifyIPv6(ipv6);
  // A zone id only means something for a scoped address, so a zoned "global" one is link-scoped.
  return hasZone && verdict.public ? blocked("link_local") : verdict;
}

/** The IPv4 address a (bare) IPv6 address carries, as dotted text; null when it carries none. */
export function unwrapEmbeddedIPv4(ipv6: string): string | null {
  const bits = parseIPv6(ipv6);
  const ipv4 = bits === null ? null : embeddedIPv4(bits);
  return ipv4 === null ? null : formatIPv4(ipv4);
}

function classifyIPv4(bits: bigint): AddressClass {
  const range = IPV4_BLOCKED.find(({ cidr }) => inCidr(bits, cidr));
  return range ? blocked(range.reason) : PUBLIC;
}

function classifyIPv6(bits: bigint): AddressClass {
  // Judge an address that tunnels or translates to IPv4 by where it really lands.
  const ipv4 = embeddedIPv4(bits);
  if (ipv4 !== null) return classifyIPv4(ipv4);
  const range = IPV6_BLOCKED.find(({ cidr }) => inCidr(bits, cidr));
  return range ? blocked(range.reason) : PUBLIC;
}

function embeddedIPv4(ipv6: bigint): bigint | null {
  const embedding = IPV4_EMBEDDINGS.find(({ cidr }) => inCidr(ipv6, cidr));
  return embedding ? (ipv6 >> embedding.shift) & 0xffff_ffffn : null;
}

/** Strict dotted quad. Leading zeros are refused: inet_aton would read them as octal. */
function parseIPv4(text: string): bigint | null {
  const octets = text.split(".");
  if (octets.length !== 4) return null;
  let bits = 0n;
  for (const octet of octets) {
    if (!/^(0|[1-9]\d{0,2})$/.test(octet) || Number(octet) > 255) return null;
    bits = (bits << 8n) | BigInt(octet);
  }
  return bits;
}

function parseIPv6(text: string): bigint | null {
  const expanded = expandDottedTail(text);
  if (expanded === null) return null;
  const halves = expanded.split("::");
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  const head = groupsOf(halves[0] ?? "");
  const tail = compressed ? groupsOf(halves[1] ?? "") : [];
  const missing = 8 - head.length - tail.length;
  // "::" stands for at least one zero group; without it all eight must be written.
  if (compressed ? missing < 1 : missing !== 0) return null;
  let bits = 0n;
  for (const group of [...head, ...Array<string>(missing).fill("0"), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    bits = (bits << 16n) | BigInt(Number.parseInt(group, 16));
  }
  return bits;
}

/** Rewrites a trailing dotted quad ("::ffff:1.2.3.4") as two hex groups; null if it is malformed. */
function expandDottedTail(text: string): string | null {
  const lastColon = text.lastIndexOf(":");
  if (lastColon === -1) return null;
  const last = text.slice(lastColon + 1);
  if (!last.includes(".")) return text;
  const ipv4 = parseIPv4(last);
  if (ipv4 === null) return null;
  return `${text.slice(0, lastColon + 1)}${(ipv4 >> 16n).toString(16)}:${(ipv4 & 0xffffn).toString(16)}`;
}

function groupsOf(half: string): string[] {
  return half === "" ? [] : half.split(":");
}

function formatIPv4(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => (bits >> shift) & 0xffn).join(".");
}

function inCidr(bits: bigint, { network, hostBits }: Cidr): boolean {
  return bits >> hostBits === network >> hostBits;
}

function parseCidr(text: string, width: 32 | 128): Cidr {
  const [address = "", length = ""] = text.split("/");
  const network = width === 32 ? parseIPv4(address) : parseIPv6(address);
  if (network === null || !/^\d+$/.test(length)) throw new Error(`bad CIDR in table: ${text}`);
  return { network, hostBits: BigInt(width - Number(length)) };
}

/** Longest prefix first, so the most specific range names the reason whatever the listing order. */
function rangeTable(width: 32 | 128, entries: ReadonlyArray<[string, BlockedReason]>): BlockedRange[] {
  return entries
    .map(([cidr, reason]) => ({ cidr: parseCidr(cidr, width), reason }))
    .sort((a, b) => Number(a.cidr.hostBits - b.cidr.hostBits));
}

const IPV4_BLOCKED = rangeTable(32, [
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "cgnat"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link_local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"], // IETF protocol assignments
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "reserved"], // 6to4 relay anycast
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"],
  ["255.255.255.255/32", "broadcast"],
]);

const IPV6_BLOCKED = rangeTable(128, [
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["::/96", "reserved"], // deprecated IPv4-compatible
  ["100::/64", "reserved"], // discard-only
  ["2001::/23", "reserved"], // IETF protocol assignments, Teredo included
  ["2001:2::/48", "benchmarking"],
  ["2001:db8::/32", "documentation"],
  ["3fff::/20", "documentation"],
  ["5f00::/16", "reserved"], // SRv6 SIDs
  ["fc00::/7", "unique_local"],
  ["fe80::/10", "link_local"],
  ["fec0::/10", "site_local"],
  ["ff00::/8", "multicast"],
]);

/** IPv6 ranges that carry an IPv4 address, and how far right of it the IPv4 bits sit. */
const IPV4_EMBEDDINGS = (
  [
    ["::ffff:0:0/96", 0n], // IPv4-mapped
    ["::ffff:0:0:0/96", 0n], // IPv4-translated (SIIT)
    ["64:ff9b::/96", 0n], // NAT64 well-known prefix
    // Local-use NAT64 may embed at other RFC 6052 offsets; the /96 layout is the one DNS64 uses.
    ["64:ff9b:1::/48", 0n],
    ["2002::/16", 80n], // 6to4: IPv4 in bits 16-47
  ] as const
).map(([cidr, shift]) => ({ cidr: parseCidr(cidr, 128), shift }));
