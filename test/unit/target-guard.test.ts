import { describe, expect, test } from "bun:test";
import type { Resolver } from "../../src/security/resolver.ts";
import { vetTarget } from "../../src/security/target-guard.ts";

/** A fake DNS that answers each lookup with the next scripted reply and records what was asked. */
function scriptedResolver(...replies: Array<string[] | Error>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (hostname: string) => {
    asked.push(hostname);
    const reply = replies[Math.min(asked.length, replies.length) - 1];
    if (reply === undefined) throw new Error("no scripted reply");
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return Object.assign(resolver, { asked });
}

const dnsError = (code: string) => Object.assign(new Error(`getaddrinfo ${code} hooks.example`), { code });
const url = (text: string) => new URL(text);
const strict = (resolver: Resolver) => ({ resolver, allowPrivate: false });

describe("vetTarget with resolved names", () => {
  test.each<[name: string, answers: string[], expected: object]>([
    [
      "a private answer is refused",
      ["10.0.0.5"],
      {
        ok: false,
        code: "blocked_address",
        reason: "private",
        address: "10.0.0.5",
        message: "the host resolves to 10.0.0.5, a private address",
      },
    ],
    [
      "a private answer hidden among public ones is refused",
      ["93.184.216.34", "2606:4700::1111", "169.254.169.254"],
      { ok: false, code: "blocked_address", reason: "link_local", address: "169.254.169.254" },
    ],
    [
      "an IPv4-mapped loopback answer is refused and explained",
      ["::ffff:7f00:1"],
      { ok: false, reason: "loopback", message: "the host resolves to ::ffff:7f00:1 (carrying 127.0.0.1), a loopback address" },
    ],
    [
      "an unparseable answer is refused",
      ["not-an-ip"],
      { ok: false, code: "blocked_address", reason: "invalid" },
    ],
    [
      "a public answer is pinned",
      ["93.184.216.34"],
      { ok: true, address: "93.184.216.34", family: 4, hostIsIp: false },
    ],
    [
      "IPv4 is preferred when both families answer",
      ["2606:4700::1111", "93.184.216.34", "1.1.1.1"],
      { ok: true, address: "93.184.216.34", family: 4 },
    ],
    [
      "an IPv6-only answer is pinned as family 6",
      ["2606:4700::1111", "2606:4700::1001"],
      { ok: true, address: "2606:4700::1111", family: 6 },
    ],
  ])("%s", async (_name, answers, expected) => {
    const resolver = scriptedResolver(answers);
    expect(await vetTarget(url("https://hooks.example/in"), strict(resolver))).toMatchObject(expected);
    expect(resolver.asked).toEqual(["hooks.example"]);
  });

  test("DNS rebinding: a name that turns private on the next lookup is refused then", async () => {
    const resolver = scriptedResolver(["93.184.216.34"], ["127.0.0.1"]);
    const target = url("https://rebind.example/");
    expect(await vetTarget(target, strict(resolver))).toMatchObject({ ok: true, address: "93.184.216.34" });
    expect(await vetTarget(target, strict(resolver))).toMatchObject({ ok: false, reason: "loopback", address: "127.0.0.1" });
    expect(resolver.asked).toHaveLength(2);
  });

  test.each<[name: string, reply: string[] | Error, reason: "lookup_failed" | "no_addresses", message: string]>([
    ["a failed lookup", dnsError("ENOTFOUND"), "lookup_failed", "the host hooks.example could not be resolved (ENOTFOUND)"],
    ["an error without a code", new Error("resolver exploded"), "lookup_failed", "the host hooks.example could not be resolved (resolver exploded)"],
    ["an empty answer", [], "no_addresses", "the host hooks.example has no addresses"],
  ])("%s is a dns_error", async (_name, reply, reason, message) => {
    const verdict = await vetTarget(url("https://hooks.example/"), strict(scriptedResolver(reply)));
    expect(verdict).toEqual({ ok: false, code: "dns_error", reason, message });
  });
});

describe("vetTarget without DNS", () => {
  test.each<[target: string, expected: object]>([
    ["http://localhost:8080/", { ok: false, code: "blocked_address", reason: "loopback", address: "127.0.0.1" }],
    ["http://LOCALHOST./", { ok: false, reason: "loopback" }],
    ["http://api.localhost/", { ok: false, reason: "loopback" }],
    ["http://127.0.0.1/", { ok: false, reason: "loopback", message: "the host 127.0.0.1 is a loopback address" }],
    ["http://[fd00:ec2::254]/", { ok: false, reason: "unique_local", address: "fd00:ec2::254" }],
    ["https://93.184.216.34/", { ok: true, address: "93.184.216.34", family: 4, hostIsIp: true }],
    ["https://[2606:4700::1111]:8443/", { ok: true, address: "2606:4700::1111", family: 6, hostIsIp: true }],
  ])("%s", (target, expected) => {
    const resolver = scriptedResolver(["93.184.216.34"]);
    const verdict = vetTarget(url(target), strict(resolver));
    // Synchronous: the per-attempt caller then needs no promise and no timeout race.
    expect(verdict).not.toBeInstanceOf(Promise);
    expect(verdict).toMatchObject(expected);
    expect(resolver.asked).toEqual([]);
  });

  test("a name that needs DNS gets a Promise, and a fresh lookup on every call", async () => {
    const resolver = scriptedResolver(["93.184.216.34"]);
    const target = url("https://hooks.example/");
    for (let i = 0; i < 2; i++) {
      const verdict = vetTarget(target, strict(resolver));
      expect(verdict).toBeInstanceOf(Promise);
      expect(await verdict).toMatchObject({ ok: true, address: "93.184.216.34" });
    }
    expect(resolver.asked).toEqual(["hooks.example", "hooks.example"]);
  });
});

describe("vetTarget with allowPrivate", () => {
  test.each<[target: string, answers: string[], expected: object]>([
    ["http://internal.example/", ["10.0.0.5"], { ok: true, address: "10.0.0.5", family: 4, hostIsIp: false }],
    ["http://internal.example/", ["fd00::5", "192.168.1.9"], { ok: true, address: "192.168.1.9", family: 4 }],
    ["http://127.0.0.1:9000/", [], { ok: true, address: "127.0.0.1", hostIsIp: true }],
    ["http://[::1]/", [], { ok: true, address: "::1", family: 6, hostIsIp: true }],
    ["http://localhost/", [], { ok: true, address: "127.0.0.1", family: 4, hostIsIp: false }],
    ["http://odd.example/", ["not-an-ip"], { ok: false, code: "blocked_address", reason: "invalid" }],
  ])("%s answering %p", async (target, answers, expected) => {
    const verdict = await vetTarget(url(target), { resolver: scriptedResolver(answers), allowPrivate: true });
    expect(verdict).toMatchObject(expected);
  });
});
