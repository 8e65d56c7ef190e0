import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { configTableMarkdown, errorTableMarkdown, withCodeTables } from "../../scripts/readme-tables.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  test("its configuration table is the one src/config.ts describes", () => {
    expect(readme).toContain(configTableMarkdown());
  });

  test("its error-code table is the one the API answers from (ERROR_CODES, also behind /docs)", () => {
    expect(readme).toContain(errorTableMarkdown());
  });

  test("scripts/readme-tables.ts writes both tables in place of outdated ones, leaving the rest as it was", () => {
    const stale = readme
      .replace("| `WEBHOOKD_PORT` |", "| `WEBHOOKD_OLD_PORT` |\n| `WEBHOOKD_PORT` |")
      .replace("| 401 | `UNAUTHORIZED` |", "| 418 | `TEAPOT` | old |\n| 401 | `UNAUTHORIZED` |");
    expect(stale).not.toBe(readme);
    expect(withCodeTables(stale)).toBe(readme);
  });

  test("its test command is the one CI runs", () => {
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npx -y bun@1.4.5 run test");
    expect(ci).toContain("bun run test");
  });
});
