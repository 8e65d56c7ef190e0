/**
 * Bundles the portal (src/portal/ui/portal.tsx and the CSS it imports) into src/portal/dist/
 * portal.js and portal.css, and the link page's script (ui/login.ts) into login.js, minified, for
 * the browser. `bun run build` and `bun run dev` run it
 * first, and `bun test` preloads it (bunfig.toml); it does nothing when the bundle is newer
 * than every source, so it costs nothing on a warm run. Run alone: `bun src/portal/build.ts`.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const UI = join(import.meta.dir, "ui");
const DIST = join(import.meta.dir, "dist");
const OUTPUTS = [join(DIST, "portal.js"), join(DIST, "portal.css"), join(DIST, "login.js")];

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const lockfile = join(import.meta.dir, "../../bun.lock");

export async function buildPortal({ force = false } = {}): Promise<boolean> {
  const inputs = Math.max(newest(UI), existsSync(lockfile) ? statSync(lockfile).mtimeMs : 0, statSync(import.meta.path).mtimeMs);
  if (!force && OUTPUTS.every((f) => existsSync(f) && statSync(f).mtimeMs >= inputs)) return false;
  const result = await Bun.build({
    // login.ts is the link page's own script: a few lines, apart so that page loads no app.
    entrypoints: [join(UI, "portal.tsx"), join(UI, "login.ts")],
    outdir: DIST,
    target: "browser",
    minify: true,
    naming: "[name].[ext]",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) throw new AggregateError(result.logs, "the portal bundle failed to build");
  return true;
}

if (import.meta.main || process.env.NODE_ENV === "test") {
  const built = await buildPortal({ force: import.meta.main && process.argv.includes("--force") });
  if (import.meta.main) console.log(built ? `portal bundle written to ${DIST}` : "portal bundle up to date");
}
