import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { configTableMarkdown, withConfigTable } from "../../scripts/config-table.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  test("its configuration table is the one src/config.ts describes", () => {
    expect(readme).toContain(configTableMarkdown());
  });

  test("scripts/config-table.ts writes that table in place of an outdated one, leaving the rest as it was", () => {
    const stale = readme.replace("| `WEBHOOKD_PORT` |", "| `WEBHOOKD_OLD_PORT` |\n| `WEBHOOKD_PORT` |");
    expect(stale).not.toBe(readme);
    expect(withConfigTable(stale)).toBe(readme);
  });

  test("its test command is the one CI runs", () => {
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npx -y bun@1.4.5 run test");
    expect(ci).toContain("bun run test");
  });
});
