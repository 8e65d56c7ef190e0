/**
 * The README's configuration table, made from the option specs in src/config.ts.
 * `bun scripts/config-table.ts` writes it into README.md in place of the table there.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { options } from "../src/config.ts";

const HEADER = "| variable | serve flag | default | meaning |";

export function configTableMarkdown(): string {
  const rows = Object.values(options).map(
    (o) => `| \`${o.env}\` | \`${o.flag}\` | ${o.default === undefined ? "(none)" : `\`${o.default}\``} | ${o.help.replaceAll("|", "\\|")} |`,
  );
  return [HEADER, "|---|---|---|---|", ...rows].join("\n");
}

/** The README with its configuration table (the header line through the last table row) replaced. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(HEADER);
  if (start === -1) throw new Error(`README.md has no line "${HEADER}"`);
  const blank = readme.indexOf("\n\n", start);
  return readme.slice(0, start) + configTableMarkdown() + (blank === -1 ? "\n" : readme.slice(blank));
}

if (import.meta.main) {
  const path = join(import.meta.dir, "..", "README.md");
  writeFileSync(path, withConfigTable(readFileSync(path, "utf8")));
  console.log(`README.md: configuration table written (${Object.keys(options).length} options)`);
}
