/** The README's configuration table, made from the option specs in src/config.ts. */
import { options } from "../src/config.ts";

export function configTableMarkdown(): string {
  const rows = Object.values(options).map(
    (o) => `| \`${o.env}\` | \`${o.flag}\` | ${o.default === undefined ? "(none)" : `\`${o.default}\``} | ${o.help.replaceAll("|", "\\|")} |`,
  );
  return ["| variable | serve flag | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

if (import.meta.main) console.log(configTableMarkdown());
