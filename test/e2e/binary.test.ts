/**
 * The single executable, run alone from an empty directory: version, help, usage errors, bad
 * configuration, migrate, and the docs served from assets embedded in it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { installBinary, type Installed } from "../helpers/binary.ts";
import { options } from "../../src/config.ts";
import pkg from "../../package.json" with { type: "json" };

setDefaultTimeout(60_000); // the first test may build the binary

let w: Installed;
beforeAll(() => {
  w = installBinary();
});
afterAll(() => w?.cleanup());

describe("version and help", () => {
  test("--version, -v and version print the package version", () => {
    for (const args of [["--version"], ["-v"], ["version"]]) {
      expect(w.run(args)).toEqual({ code: 0, stdout: `webhookd ${pkg.version}\n`, stderr: "" });
    }
  });

  test("the binary is alone in its directory", () => {
    expect(readdirSync(w.dir)).toEqual(["webhookd"]);
  });

  test("--help lists every command; no command prints it and exits 2", () => {
    const help = w.run(["--help"]);
    expect(help.code).toBe(0);
    for (const cmd of ["serve", "migrate", "orgs create <name>", "orgs list", "keys create --org <id> --scopes <a,b>", "version"]) {
      expect(help.stdout).toContain(cmd);
    }
    expect(w.run(["help"]).stdout).toBe(help.stdout);
    const bare = w.run([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe(help.stdout);
  });

  test("serve --help lists every WEBHOOKD_ variable with its flag and default", () => {
    const res = w.run(["serve", "--help"]);
    expect(res.code).toBe(0);
    for (const o of Object.values(options)) {
      expect(res.stdout).toContain(o.env);
      expect(res.stdout).toContain(o.flag);
      if (o.default !== undefined) expect(res.stdout).toContain(`${o.env} (default ${o.default})`);
    }
    expect(res.stdout.match(/WEBHOOKD_[A-Z_]+/g)!.length).toBe(Object.keys(options).length);
  });

  test.each(["migrate", "orgs", "keys", "version"])("%s --help prints its usage", (cmd) => {
    const res = w.run([cmd, "--help"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toStartWith(`Usage: webhookd ${cmd}`);
    expect(res.stderr).toBe("");
  });
});

describe("usage errors exit 2 with a message", () => {
  test.each([
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["toString"], 'unknown command "toString"'],
    [["--nope"], "unknown flag --nope"],
    [["serve", "--nope"], "unknown flag --nope"],
    [["serve", "--port"], "--port needs a value"],
    [["serve", "extra"], 'serve takes no arguments, got "extra"'],
    [["migrate", "--org", "x"], "unknown flag --org"],
    [["orgs"], "expected 'orgs create <name>' or 'orgs list'"],
    [["orgs", "delete", "x"], "expected 'orgs create <name>' or 'orgs list'"],
    [["keys", "create", "--org", "org_x"], "expected 'keys create --org <id> --scopes <a,b>"],
    [["keys", "create", "--org", "org_x", "--scopes", "webhooks:read", "--mode", "prod"], "--mode is live or test"],
  ])("%p", (args, message) => {
    const res = w.run(args);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`webhookd: ${message}`);
    expect(res.stderr).toContain("webhookd --help");
    expect(res.stdout).toBe("");
  });
});

describe("bad configuration stops the start, naming the variable", () => {
  test.each([
    ["WEBHOOKD_PORT", { WEBHOOKD_PORT: "70000" }, ["serve"]],
    ["WEBHOOKD_ALLOW_HTTP", { WEBHOOKD_ALLOW_HTTP: "maybe" }, ["serve"]],
    ["WEBHOOKD_RETRY_SCHEDULE", { WEBHOOKD_RETRY_SCHEDULE: "10x" }, ["serve"]],
    ["WEBHOOKD_EVENT_TYPES", { WEBHOOKD_EVENT_TYPES: "bad name!" }, ["serve"]],
    ["WEBHOOKD_ADMIN_KEY", { WEBHOOKD_ADMIN_KEY: "hunter2" }, ["serve"]],
    ["WEBHOOKD_MASTER_KEY", { WEBHOOKD_MASTER_KEY: "not-32-bytes" }, ["migrate"]],
    ["WEBHOOKD_RETENTION_CRON", { WEBHOOKD_RETENTION_CRON: "hourly" }, ["serve"]],
    ["--port", {}, ["serve", "--port", "70000"]],
    ["--max-payload-bytes", {}, ["serve", "--max-payload-bytes=12"]],
  ] as [string, Record<string, string>, string[]][])("%s", (name, env, args) => {
    const res = w.run(args, { WEBHOOKD_DATA_DIR: join(w.dir, "bad-config"), ...env });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toStartWith(`webhookd: invalid configuration: ${name}: `);
    expect(res.stderr).not.toContain("    at "); // a message, not a stack trace
    expect(res.stdout).not.toContain("webhookd listening");
    // Nothing was created on the way to failing.
    expect(existsSync(join(w.dir, "bad-config"))).toBe(false);
  });
});

describe("migrate", () => {
  test("creates the database with every table, and is idempotent", () => {
    const dataDir = join(w.dir, "migrated");
    const first = w.run(["migrate", "--data-dir", dataDir]);
    expect(first).toEqual({ code: 0, stdout: "migrations applied\n", stderr: "" });
    expect(existsSync(join(dataDir, "webhookd.db"))).toBe(true);
    expect(statSync(join(dataDir, "master.key")).mode & 0o777).toBe(0o600);
    expect(w.run(["migrate"], { WEBHOOKD_DATA_DIR: dataDir }).code).toBe(0);

    const db = new Database(join(dataDir, "webhookd.db"), { readonly: true });
    try {
      const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name);
      for (const t of ["orgs", "api_keys", "endpoints", "events", "deliveries", "attempts", "idempotency_records", "__webhookd_migrations"]) {
        expect(tables).toContain(t);
      }
      const applied = db.query<{ n: number }, []>("SELECT count(*) AS n FROM __webhookd_migrations").get()!.n;
      expect(applied).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });

  test("the default data dir is ./data beside where it runs", () => {
    expect(w.run(["migrate"]).code).toBe(0);
    expect(existsSync(join(w.dir, "data", "webhookd.db"))).toBe(true);
  });
});

describe("serve: docs from the embedded assets", () => {
  test("/docs, its assets and /docs/json are served by the lone binary", async () => {
    const s = await w.serve(["--data-dir", join(w.dir, "docs-data")], { WEBHOOKD_ADMIN_KEY: "sk_admin_" + "D".repeat(40) });
    try {
      const page = await fetch(`${s.url}/docs`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).not.toMatch(/https?:\/\//);
      const css = await fetch(`${s.url}/docs/assets/swagger-ui.css`);
      expect(css.status).toBe(200);
      expect(css.headers.get("content-type")).toStartWith("text/css");
      expect((await css.text()).length).toBeGreaterThan(50_000);
      const js = await fetch(`${s.url}/docs/assets/swagger-ui-bundle.js`);
      expect(js.status).toBe(200);
      expect(await js.text()).toContain("SwaggerUIBundle");
      const spec = (await (await fetch(`${s.url}/docs/json`)).json()) as { openapi: string; info: { version: string }; paths: Record<string, unknown> };
      expect(spec.openapi).toMatch(/^3\./);
      expect(spec.info.version).toBe(pkg.version);
      expect(Object.keys(spec.paths)).toContain("/api/v1/webhooks");
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

describe("serve: WAL checkpoints on the background thread", () => {
  test("the lone binary starts its checkpoint worker, which copies committed frames into the database file", async () => {
    const admin = "sk_admin_" + "C".repeat(40);
    const s = await w.serve(["--data-dir", join(w.dir, "wal-data")], { WEBHOOKD_ADMIN_KEY: admin });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${s.url}/api/v1/orgs`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": admin },
          body: JSON.stringify({ name: `org ${i}` }),
        });
        expect(res.status).toBe(201);
      }
      const frames = async () => Number(/^webhookd_wal_frames_checkpointed (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? -1);
      const deadline = Date.now() + 10_000;
      while ((await frames()) <= 0 && Date.now() < deadline) await Bun.sleep(50);
      expect(await frames()).toBeGreaterThan(0);
      expect(s.stdout()).not.toContain("checkpoint");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
