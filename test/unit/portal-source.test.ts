/**
 * The portal renders everything through Preact, which escapes it: no source of its own may build
 * HTML from strings, or run strings as code (the CSP forbids eval; this keeps us from needing it).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const UI = join(import.meta.dir, "../../src/portal/ui");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(tsx?|css)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

test("no portal source sets HTML from a string or evaluates one", () => {
  const files = sources(UI);
  expect(files.length).toBeGreaterThan(5);
  const banned = /dangerouslySetInnerHTML|\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*["']on|javascript:/;
  const offenders = files.filter((f) => banned.test(readFileSync(f, "utf8"))).map((f) => f.slice(UI.length + 1));
  expect(offenders).toEqual([]);
});
