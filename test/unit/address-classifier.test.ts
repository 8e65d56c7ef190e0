import { describe, expect, test } from "bun:test";
import {
  type AddressClass,
  type BlockedReason,
  classifyAddress,
  isIPv4,
  isIPv6,
  unwrapEmbeddedIPv4,
} from "../../src/security/address-classifier.ts";
import { vetTarget } from "../../src/security/target-guard.ts";

const PUBLIC = "public" as const;
type Expected = BlockedReason | typeof PUBLIC;

const expectedClass = (expected: Expected): AddressClass =>
  expected === PUBLIC ? { public: true } : { public: false, reason: expected };

const CASES: Array<[ip: string, expected: Expected]> = [
  // IPv4 special-purpose ranges, with their edges
  ["0.0.0.0", "unspecified"],
  ["0.255.255.255", "unspecified"],
  ["1.0.0.0", PUBLIC],
  ["10.0.0.0", "private"],
  ["10.255.255.255", "private"],
  ["11.0.0.0", PUBLIC],
  ["9.255.255.255", PUBLIC],
  ["172.15.255.255", PUBLIC],
  ["172.16.0.0", "private"],
  ["172.31.255.255", "private"],
  ["172.32.0.0", PUBLIC],
  ["192.168.0.0", "private"],
  ["192.168.255.255", "private"],
  ["192.169.0.0", PUBLIC],
  ["100.63.255.255", PUBLIC],
  ["100.64.0.0", "cgnat"],
  ["100.127.255.255", "cgnat"],
  ["100.128.0.0", PUBLIC],
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["126.255.255.255", PUBLIC],
  ["169.254.0.1", "link_local"],
  ["169.254.255.255", "link_local"],
  ["169.253.255.255", PUBLIC],
  ["192.0.0.8", "reserved"],
  ["192.0.1.0", PUBLIC],
  ["192.0.2.1", "documentation"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.255", "documentation"],
  ["198.17.255.255", PUBLIC],
  ["198.18.0.0", "benchmarking"],
  ["198.19.255.255", "benchmarking"],
  ["198.20.0.0", PUBLIC],
  ["192.88.99.1", "reserved"],
  ["223.255.255.255", PUBLIC],
  ["224.0.0.1", "multicast"],
  ["239.255.255.255", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.254", "reserved"],
  ["255.255.255.255", "broadcast"],
  // public IPv4 and IPv6
  ["8.8.8.8", PUBLIC],
  ["1.1.1.1", PUBLIC],
  ["93.184.216.34", PUBLIC],
  ["2606:4700::1111", PUBLIC],
  ["2001:4860:4860::8888", PUBLIC],
  ["2a00:1450:4001:82b::200e", PUBLIC],
  // cloud metadata endpoints
  ["169.254.169.254", "link_local"],
  ["fd00:ec2::254", "unique_local"],
  ["100.100.100.200", "cgnat"],
  // IPv6 special-purpose ranges
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["0:0:0:0:0:0:0:1", "loopback"],
  ["0000:0000:0000:0000:0000:0000:0000:0001", "loopback"],
  ["::0001", "loopback"],
  ["0:0:0:0:0:0:0:0", "unspecified"],
  ["::2", "reserved"],
  ["::127.0.0.1", "reserved"],
  ["::8.8.8.8", "reserved"],
  ["fe80::1", "link_local"],
  ["febf:ffff::1", "link_local"],
  ["fec0::1", "site_local"],
  ["feff::1", "site_local"],
  ["fc00::1", "unique_local"],
  ["fdff:ffff::1", "unique_local"],
  ["fbff:ffff::1", PUBLIC],
  ["ff02::1", "multicast"],
  ["ff0e::101", "multicast"],
  ["2001:db8::1", "documentation"],
  ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"],
  ["2001:db9::1", PUBLIC],
  ["3fff::1", "documentation"],
  ["3fff:fff::1", "documentation"],
  ["3fff:1000::1", PUBLIC],
  ["2001::1", "reserved"],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"],
  ["2001:1ff:ffff::1", "reserved"],
  ["2001:200::1", PUBLIC],
  ["2001:2::1", "benchmarking"],
  ["2001:2:0:ffff::1", "benchmarking"],
  ["2001:2:1::1", "reserved"],
  ["100::1", "reserved"],
  ["100::ffff:ffff:ffff:ffff", "reserved"],
  ["100:0:0:1::", PUBLIC],
  ["5f00::1", "reserved"],
  // IPv4 carried inside IPv6 is judged as that IPv4
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:a9fe:a9fe", "link_local"],
  ["::ffff:10.1.2.3", "private"],
  ["::ffff:8.8.8.8", PUBLIC],
  ["::ffff:0808:0808", PUBLIC],
  ["0:0:0:0:0:ffff:127.0.0.1", "loopback"],
  ["::ffff:0:127.0.0.1", "loopback"],
  ["::ffff:0:808:808", PUBLIC],
  ["64:ff9b::7f00:1", "loopback"],
  ["64:ff9b::a9fe:a9fe", "link_local"],
  ["64:ff9b::192.168.1.1", "private"],
  ["64:ff9b::808:808", PUBLIC],
  ["64:ff9b:1::a9fe:a9fe", "link_local"],
  ["64:ff9b:1:abcd::0a00:1", "private"],
  ["64:ff9b:1::808:808", PUBLIC],
  ["2002:7f00:1::", "loopback"],
  ["2002:a9fe:a9fe::1", "link_local"],
  ["2002:c0a8:101::", "private"],
  ["2002:808:808::", PUBLIC],
  // spelling: case, brackets, zone ids
  ["::FFFF:7F00:1", "loopback"],
  ["FE80::1", "link_local"],
  ["2606:4700::ABCD", PUBLIC],
  ["[::1]", "loopback"],
  ["[2606:4700::1111]", PUBLIC],
  ["[::ffff:169.254.169.254]", "link_local"],
  ["fe80::1%eth0", "link_local"],
  ["[fe80::1%25eth0]", "link_local"],
  ["2606:4700::1111%eth0", "link_local"],
  ["::1%lo", "loopback"],
  // garbage
  ["", "invalid"],
  ["abc", "invalid"],
  ["example.com", "invalid"],
  ["1.2.3", "invalid"],
  ["1.2.3.4.5", "invalid"],
  ["256.1.1.1", "invalid"],
  ["1.2.3.-4", "invalid"],
  ["01.2.3.4", "invalid"],
  ["0x7f.0.0.1", "invalid"],
  ["2130706433", "invalid"],
  [" 8.8.8.8", "invalid"],
  [":::", "invalid"],
  ["1::2::3", "invalid"],
  [":1", "invalid"],
  ["1:", "invalid"],
  ["1:2:3:4:5:6:7", "invalid"],
  ["1:2:3:4:5:6:7:8:9", "invalid"],
  ["1:2:3:4:5:6:7::8", "invalid"],
  ["12345::", "invalid"],
  ["g::1", "invalid"],
  ["::ffff:1.2.3", "invalid"],
  ["::ffff:256.0.0.1", "invalid"],
  ["1.2.3.4::", "invalid"],
  ["[8.8.8.8]", "invalid"],
  ["[::1", "invalid"],
  ["fe80::1%", "invalid"],
  ["%eth0", "invalid"],
];

describe("classifyAddress", () => {
  test.each(CASES)("%p is %p", (ip, expected) => {
    expect(classifyAddress(ip)).toEqual(expectedClass(expected));
  });
});

describe("unwrapEmbeddedIPv4", () => {
  test.each([
    ["::ffff:7f00:1", "127.0.0.1"],
    ["::ffff:0:a9fe:a9fe", "169.254.169.254"],
    ["64:ff9b::808:808", "8.8.8.8"],
    ["64:ff9b:1::a00:1", "10.0.0.1"],
    ["2002:c0a8:101:1::1", "192.168.1.1"],
    ["2606:4700::1111", null],
    ["::127.0.0.1", null],
    ["not-an-address", null],
  ])("%p carries %p", (ipv6, expected) => {
    expect(unwrapEmbeddedIPv4(ipv6)).toBe(expected);
  });
});

describe("isIPv4 / isIPv6", () => {
  test.each([
    ["8.8.8.8", true, false],
    ["::1", false, true],
    ["::ffff:1.2.3.4", false, true],
    ["[::1]", false, false],
    ["fe80::1%eth0", false, false],
    ["example.com", false, false],
  ])("%p: IPv4 %p, IPv6 %p", (text, ipv4, ipv6) => {
    expect(isIPv4(text)).toBe(ipv4);
    expect(isIPv6(text)).toBe(ipv6);
  });
});

// Every numeric spelling an attacker can put in a URL must reach the guard as a blocked literal.
describe("URL host spellings through the WHATWG parser and the guard", () => {
  const noDns = () => Promise.reject(new Error("an IP literal must not be resolved"));

  test.each<[spelling: string, reason: BlockedReason]>([
    ["2130706433", "loopback"],
    ["0x7f.1", "loopback"],
    ["017700000001", "loopback"],
    ["0x7f000001", "loopback"],
    ["127.1", "loopback"],
    ["0177.0.0.1", "loopback"],
    ["①②⑦.0.0.1", "loopback"],
    ["[::ffff:169.254.169.254]", "link_local"],
    ["[::ffff:7f00:1]", "loopback"],
    ["[0:0:0:0:0:ffff:127.0.0.1]", "loopback"],
    ["[64:ff9b::127.0.0.1]", "loopback"],
    ["[2002:a9fe:a9fe::]", "link_local"],
    ["[::1]", "loopback"],
    ["[fd00:ec2::254]", "unique_local"],
    ["0.0.0.0", "unspecified"],
    ["0", "unspecified"],
    ["0xa9.0xfe.0xa9.0xfe", "link_local"],
    ["10.1", "private"],
  ])("http://%s/ is refused as %p", async (spelling, reason) => {
    const url = new URL(`http://${spelling}/`);
    const verdict = await vetTarget(url, { resolver: noDns, allowPrivate: false });
    expect(verdict).toMatchObject({ ok: false, code: "blocked_address", reason });
  });
});
