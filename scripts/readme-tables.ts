/**
 * The README's tables that the code owns: the configuration table (from the option specs in
 * src/config.ts) and the error-code table (from ERROR_CODES in src/api/common.ts).
 * `bun scripts/readme-tables.ts` writes both into README.md in place of the tables there;
 * test/unit/readme.test.ts fails while they differ.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { options } from "../src/config.ts";
import { ERROR_CODES } from "../src/api/common.ts";

const CONFIG_HEADER = "| variable | serve flag | default | meaning |";
const ERROR_HEADER = "| status | code | when |";

const cell = (text: string) => text.replaceAll("|", "\\|");

export function configTableMarkdown(): string {
  const rows = Object.values(options).map(
    (o) => `| \`${o.env}\` | \`${o.flag}\` | ${o.default === undefined ? "(none)" : `\`${o.default}\``} | ${cell(o.help)} |`,
  );
  return [CONFIG_HEADER, "|---|---|---|---|", ...rows].join("\n");
}

/** By status, in the table's order within a status. */
export function errorTableMarkdown(): string {
  const rows = Object.entries(ERROR_CODES)
    .map(([code, e], i) => ({ code, ...e, i }))
    .sort((a, b) => a.status - b.status || a.i - b.i)
    .map((e) => `| ${e.status} | \`${e.code}\` | ${cell(e.when)} |`);
  return [ERROR_HEADER, "|---|---|---|", ...rows].join("\n");
}

/** The README with the table starting at `header` (through its last row) replaced by `table`. */
function withTable(readme: string, header: string, table: string): string {
  const start = readme.indexOf(header);
  if (start === -1) throw new Error(`README.md has no line "${header}"`);
  const blank = readme.indexOf("\n\n", start);
  return readme.slice(0, start) + table + (blank === -1 ? "\n" : readme.slice(blank));
}

export function withCodeTables(readme: string): string {
  return withTable(withTable(readme, CONFIG_HEADER, configTableMarkdown()), ERROR_HEADER, errorTableMarkdown());
}

if (import.meta.main) {
  const path = join(import.meta.dir, "..", "README.md");
  writeFileSync(path, withCodeTables(readFileSync(path, "utf8")));
  console.log(`README.md: configuration table (${Object.keys(options).length} options) and error table (${Object.keys(ERROR_CODES).length} codes) written`);
}
