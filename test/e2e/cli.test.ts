/**
 * The CLI and `serve` together, through the lone binary: orgs and keys made on the command
 * line work against a running server on the same data dir; the generated admin key is printed
 * once; the README walk-through; SIGTERM is a clean exit.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { installBinary, type Installed } from "../helpers/binary.ts";

setDefaultTimeout(60_000); // the first test may build the binary

let w: Installed;
beforeAll(() => {
  w = installBinary();
});
afterAll(() => w?.cleanup());

const DEV_FLAGS = ["--allow-private-targets", "--allow-http", "--probe=false"];

async function call(base: string, method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe("orgs and keys on the command line", () => {
  const dataDir = () => join(w.dir, "cli-data");

  test("orgs create prints JSON, orgs list prints id<TAB>name lines", () => {
    const a = w.run(["orgs", "create", "Acme Inc", "--data-dir", dataDir()]);
    expect(a.code).toBe(0);
    const acme = JSON.parse(a.stdout);
    expect(acme).toEqual({ id: expect.stringMatching(/^org_[0-9A-Z]{26}$/), name: "Acme Inc" });
    const b = JSON.parse(w.run(["orgs", "create", "Globex", "--data-dir", dataDir()]).stdout);
    const list = w.run(["orgs", "list", "--data-dir", dataDir()]);
    expect(list).toEqual({ code: 0, stdout: `${acme.id}\tAcme Inc\n${b.id}\tGlobex\n`, stderr: "" });
  });

  test("keys create prints the key once, as JSON", () => {
    const org = JSON.parse(w.run(["orgs", "create", "Keys", "--data-dir", dataDir()]).stdout);
    const res = w.run(["keys", "create", "--org", org.id, "--scopes", "webhooks:read, webhooks:write", "--name", "ci", "--data-dir", dataDir()]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      id: expect.stringMatching(/^key_/),
      orgId: org.id,
      scopes: ["webhooks:read", "webhooks:write"],
      key: expect.stringMatching(/^sk_live_[0-9A-Za-z]{32,}$/),
    });
    const test_ = JSON.parse(w.run(["keys", "create", "--org", org.id, "--scopes=events:write", "--mode", "test", "--data-dir", dataDir()]).stdout);
    expect(test_.key).toMatch(/^sk_test_[0-9A-Za-z]{32,}$/);
  });

  test("an unknown scope or org is exit 1 with a message", () => {
    const org = JSON.parse(w.run(["orgs", "create", "Errs", "--data-dir", dataDir()]).stdout);
    const scope = w.run(["keys", "create", "--org", org.id, "--scopes", "webhooks:admin", "--data-dir", dataDir()]);
    expect(scope.code).toBe(1);
    expect(scope.stderr).toBe('webhookd: Unknown scope "webhooks:admin"; scopes are webhooks:read, webhooks:write, events:write.\n');
    const unknown = w.run(["keys", "create", "--org", "org_01JH2W8Q4V3N6X0Z9K7B5C1D2E", "--scopes", "webhooks:read", "--data-dir", dataDir()]);
    expect(unknown).toEqual({ code: 1, stdout: "", stderr: "webhookd: Organization not found.\n" });
  });
});

describe("serve and the CLI on one data dir", () => {
  test("a key made by the CLI while serve runs works at once", async () => {
    const dataDir = join(w.dir, "shared");
    const s = await w.serve(["--data-dir", dataDir, ...DEV_FLAGS], { WEBHOOKD_ADMIN_KEY: "sk_admin_" + "S".repeat(40) });
    try {
      const org = JSON.parse(w.run(["orgs", "create", "Live", "--data-dir", dataDir]).stdout);
      const { key } = JSON.parse(w.run(["keys", "create", "--org", org.id, "--scopes", "webhooks:read,webhooks:write", "--data-dir", dataDir]).stdout);
      const created = await call(s.url, "POST", "/api/v1/webhooks", key, { url: "http://127.0.0.1:9/hook" });
      expect(created.status).toBe(201);
      const list = await call(s.url, "GET", "/api/v1/webhooks", key);
      expect(list.body.data.map((e: any) => e.id)).toEqual([created.body.data.id]);
      // The server sees the org the CLI made.
      const orgs = await call(s.url, "GET", "/api/v1/orgs", "sk_admin_" + "S".repeat(40));
      expect(orgs.body.data.map((o: any) => o.id)).toContain(org.id);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

describe("the generated admin key", () => {
  test("is printed once, on the first start only, and keeps working", async () => {
    const dataDir = join(w.dir, "first-start");
    const first = await w.serve(["--data-dir", dataDir]);
    let adminKey: string;
    try {
      const banner = await first.waitForStdout(/Generated the admin API key \(shown once, store it now\):\n\n {2}(sk_admin_[0-9A-Za-z]{32,})\n/);
      adminKey = banner[1]!;
      expect(first.stdout().split(adminKey).length - 1).toBe(1);
      expect((await call(first.url, "GET", "/api/v1/orgs", adminKey)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const second = await w.serve(["--data-dir", dataDir]);
    try {
      expect((await call(second.url, "GET", "/api/v1/orgs", adminKey)).status).toBe(200);
      expect(second.stdout()).not.toContain("Generated the admin API key");
      expect(second.stdout()).not.toContain(adminKey);
    } finally {
      expect(await second.stop()).toBe(0);
    }
    expect(second.stdout()).not.toContain("Generated the admin API key");
  });

  test("is not made when WEBHOOKD_ADMIN_KEY is set", async () => {
    const s = await w.serve(["--data-dir", join(w.dir, "configured")], { WEBHOOKD_ADMIN_KEY: "sk_admin_" + "C".repeat(40) });
    try {
      expect((await call(s.url, "GET", "/api/v1/orgs", "sk_admin_" + "C".repeat(40))).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(s.stdout()).not.toContain("Generated the admin API key");
  });
});

describe("rotating and revoking the admin key", () => {
  const BANNER = /Generated the admin API key \(shown once, store it now\):\n\n {2}(sk_admin_[0-9A-Za-z]{32,})\n/;
  const orgsWith = async (base: string, key: string) => (await call(base, "GET", "/api/v1/orgs", key)).status;

  test("by API: the new key works, the old one is refused at once; revoking the last one makes a start generate another", async () => {
    const dataDir = join(w.dir, "rotate-api");
    const first = await w.serve(["--data-dir", dataDir]);
    let rotated: any;
    try {
      const old = (await first.waitForStdout(BANNER))[1]!;
      const res = await call(first.url, "POST", "/api/v1/admin/keys/rotate", old);
      expect(res.status).toBe(201);
      rotated = res.body.data;
      expect(rotated).toEqual({ id: expect.stringMatching(/^key_/), name: "admin", prefix: rotated.key.slice(0, 13), createdAt: expect.any(String), revokedAt: null, key: expect.stringMatching(/^sk_admin_[0-9A-Za-z]{32,}$/) });
      expect(await orgsWith(first.url, old)).toBe(401);
      expect(await orgsWith(first.url, rotated.key)).toBe(200);
      const listed = (await call(first.url, "GET", "/api/v1/admin/keys", rotated.key)).body.data;
      expect(listed.map((k: any) => [k.id === rotated.id, k.revokedAt === null])).toEqual([[false, false], [true, true]]);
      expect(JSON.stringify(listed)).not.toContain(old);

      expect((await call(first.url, "DELETE", `/api/v1/admin/keys/${rotated.id}`, rotated.key)).status).toBe(204);
      expect(await orgsWith(first.url, rotated.key)).toBe(401);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const second = await w.serve(["--data-dir", dataDir]);
    try {
      const fresh = (await second.waitForStdout(BANNER))[1]!;
      expect(await orgsWith(second.url, fresh)).toBe(200);
      expect(await orgsWith(second.url, rotated.key)).toBe(401);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  test("by CLI while serve runs: the old key is refused on its next request", async () => {
    const dataDir = join(w.dir, "rotate-cli");
    const s = await w.serve(["--data-dir", dataDir]);
    try {
      const old = (await s.waitForStdout(BANNER))[1]!;
      expect(await orgsWith(s.url, old)).toBe(200);
      const rotated = w.run(["admin-key", "rotate", "--data-dir", dataDir]);
      expect(rotated.code).toBe(0);
      const { id, key } = JSON.parse(rotated.stdout);
      expect(id).toMatch(/^key_/);
      expect(await orgsWith(s.url, old)).toBe(401);
      expect(await orgsWith(s.url, key)).toBe(200);
      expect(w.run(["admin-key", "revoke", "--data-dir", dataDir])).toEqual({ code: 0, stdout: '{"revoked":1}\n', stderr: "" });
      expect(await orgsWith(s.url, key)).toBe(401);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  test("WEBHOOKD_ADMIN_KEY retires a generated key for good, and rotation is then the variable's", async () => {
    const dataDir = join(w.dir, "env-takes-over");
    const configured = "sk_admin_" + "E".repeat(40);
    const first = await w.serve(["--data-dir", dataDir]);
    const generated = (await first.waitForStdout(BANNER))[1]!;
    expect(await first.stop()).toBe(0);

    const withEnv = await w.serve(["--data-dir", dataDir], { WEBHOOKD_ADMIN_KEY: configured });
    try {
      expect(await orgsWith(withEnv.url, configured)).toBe(200);
      expect(await orgsWith(withEnv.url, generated)).toBe(401);
      const refused = await call(withEnv.url, "POST", "/api/v1/admin/keys/rotate", configured);
      expect([refused.status, refused.body.error.code]).toEqual([409, "ADMIN_KEY_CONFIGURED"]);
      const cli = w.run(["admin-key", "rotate", "--data-dir", dataDir], { WEBHOOKD_ADMIN_KEY: configured });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain("WEBHOOKD_ADMIN_KEY");
    } finally {
      expect(await withEnv.stop()).toBe(0);
    }

    // Without the variable again: the generated key stays revoked, and a new one is made.
    const after = await w.serve(["--data-dir", dataDir]);
    try {
      const fresh = (await after.waitForStdout(BANNER))[1]!;
      expect(await orgsWith(after.url, generated)).toBe(401);
      expect(await orgsWith(after.url, configured)).toBe(401);
      expect(await orgsWith(after.url, fresh)).toBe(200);
    } finally {
      expect(await after.stop()).toBe(0);
    }
  });
});

describe("the walk-through", () => {
  test("admin key → org → org key → endpoint → list → rotate, then SIGTERM", async () => {
    // Default data dir (./data beside the binary), dev flags for a local receiver.
    const s = await w.serve(DEV_FLAGS);
    const admin = (await s.waitForStdout(/ {2}(sk_admin_[0-9A-Za-z]{32,})\n/))[1]!;

    const org = await call(s.url, "POST", "/api/v1/orgs", admin, { name: "Walk-through Inc" });
    expect(org.status).toBe(201);
    const orgKey = await call(s.url, "POST", `/api/v1/orgs/${org.body.data.id}/keys`, admin, { name: "backend", scopes: ["webhooks:read", "webhooks:write", "events:write"] });
    expect(orgKey.status).toBe(201);
    const key: string = orgKey.body.data.key;

    const created = await call(s.url, "POST", "/api/v1/webhooks", key, { url: "http://127.0.0.1:9/hook", events: ["call.ended", "call.failed"], description: "Local receiver" }, { "idempotency-key": "walk-1" });
    expect(created.status).toBe(201);
    const { id, secret } = created.body.data;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const list = await call(s.url, "GET", "/api/v1/webhooks", key);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id, url: "http://127.0.0.1:9/hook", events: ["call.ended", "call.failed"], isActive: true });
    expect(list.body.data[0].secret).not.toBe(secret);

    const rotated = await call(s.url, "POST", `/api/v1/webhooks/${id}/rotate-secret`, key);
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.secret).not.toBe(secret);
    const revealed = await call(s.url, "GET", `/api/v1/webhooks/${id}/secret`, key);
    expect(revealed.body.data.secret).toBe(rotated.body.data.secret);

    expect(await s.stop("SIGTERM")).toBe(0);
    const out = s.stdout();
    expect(out).toContain('"msg":"webhookd stopped"');
    // Credentials never reach the log: only the one-time admin banner shows a key.
    for (const credential of [key, secret, rotated.body.data.secret]) expect(out).not.toContain(credential);
    expect(out.split(admin).length - 1).toBe(1);
    expect(s.stderr()).toBe("");
  });

  test("SIGINT is a clean exit too", async () => {
    const s = await w.serve(["--data-dir", join(w.dir, "sigint")], { WEBHOOKD_ADMIN_KEY: "sk_admin_" + "I".repeat(40) });
    expect(await s.stop("SIGINT")).toBe(0);
    expect(s.stdout()).toContain('"msg":"webhookd stopped"');
  });
});
