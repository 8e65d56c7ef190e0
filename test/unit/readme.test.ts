import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { configTableMarkdown } from "../../scripts/config-table.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  test("its configuration table is the one src/config.ts describes", () => {
    expect(readme).toContain(configTableMarkdown());
  });

  test("its test command is the one CI runs", () => {
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npx -y bun@1.4.5 run test");
    expect(ci).toContain("bun run test");
  });
});
