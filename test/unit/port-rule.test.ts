import { describe, expect, test } from "bun:test";
import { parseAllowedPorts, vetPort } from "../../src/security/port-rule.ts";

describe("parseAllowedPorts", () => {
  test.each<[string, Array<[number, number]> | null]>([
    ["any", null],
    ["443", [[443, 443]]],
    ["443, 8443,8000-8999", [[443, 443], [8443, 8443], [8000, 8999]]],
  ])("%p", (raw, expected) => {
    expect(parseAllowedPorts(raw)).toEqual(expected);
  });

  test.each(["", "0", "65536", "443,", "https", "9000-8000", "1-2-3", "-5"])("%p is refused", (raw) => {
    expect(() => parseAllowedPorts(raw)).toThrow();
  });
});

describe("vetPort", () => {
  const only443 = parseAllowedPorts("443,8000-8999");
  test.each<[string, boolean]>([
    ["https://hooks.example/in", true], // the scheme's default port is 443
    ["https://hooks.example:443/in", true],
    ["https://hooks.example:8080/in", true],
    ["https://hooks.example:22/in", false],
    ["http://hooks.example/in", false], // 80
    ["https://[2606:4700::1111]:9000/in", false],
  ])("%s allowed: %p", (target, allowed) => {
    const verdict = vetPort(new URL(target), only443);
    if (allowed) expect(verdict).toBeNull();
    else expect(verdict).toMatchObject({ ok: false, code: "blocked_address", reason: "port", message: expect.stringContaining("port") });
  });

  test("every port when the list is null", () => {
    expect(vetPort(new URL("https://hooks.example:22/"), null)).toBeNull();
  });
});
