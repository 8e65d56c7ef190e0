/**
 * The portal's bundle, built from src/portal/ by scripts/build-portal.ts into src/portal/dist/
 * (`bun run build` and `bun run dev` run it first; `bun test` through its preload). `type: "file"`
 * embeds both files in the compiled binary: the portal works offline, nothing beside it.
 */
import js from "./dist/portal.js" with { type: "file" };
import css from "./dist/portal.css" with { type: "file" };
import loginJs from "./dist/login.js" with { type: "file" };

export const portalAssets = { js, css, loginJs };
