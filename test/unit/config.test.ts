/** Configuration: defaults, env parsing, flags winning, and a ConfigError naming the variable. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, options, serveFlags } from "../../src/config.ts";
import { DEFAULT_EVENT_TYPES } from "../../src/event-catalog.ts";

const dir = mkdtempSync(join(tmpdir(), "webhookd-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The ConfigError that loading throws (fails the test if it does not throw one). */
function configError(env: Record<string, string>, flags: Record<string, string> = {}): ConfigError {
  try {
    loadConfig(env, flags);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ env, flags })}`);
}

describe("portal settings", () => {
  test("frame-ancestors takes 'self', 'none', schemes and origins, space-separated", () => {
    expect(loadConfig({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: "'self'  https://app.example.com https://*.example.org:8443" }).portalFrameAncestors).toBe(
      "'self' https://app.example.com https://*.example.org:8443",
    );
    expect(loadConfig({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: "'none'" }).portalFrameAncestors).toBe("'none'");
  });
  test("a source that would add a CSP directive, or 'none' with others, stops the start", () => {
    expect(configError({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: "https://a.example; script-src *" }).message).toStartWith("WEBHOOKD_PORTAL_FRAME_ANCESTORS:");
    expect(configError({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: "https://a.example,https://b.example" }).message).toContain("not a frame-ancestors source");
    expect(configError({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: "'none' 'self'" }).message).toContain("'none' cannot be combined");
  });
  test("the theme is auto, light or dark", () => {
    expect(loadConfig({ WEBHOOKD_PORTAL_THEME: "dark" }).portalTheme).toBe("dark");
    expect(configError({ WEBHOOKD_PORTAL_THEME: "blue" }).message).toContain("auto, light or dark");
  });
  test("the logo is an image file read at start: its type from its extension, at most 256 KiB", () => {
    const logo = loadConfig({ WEBHOOKD_PORTAL_LOGO: file("logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>") }).portalLogo;
    expect(logo?.type).toBe("image/svg+xml");
    expect(new TextDecoder().decode(logo?.bytes)).toBe("<svg xmlns='http://www.w3.org/2000/svg'/>");
    expect(configError({ WEBHOOKD_PORTAL_LOGO: file("logo.gif", "GIF89a") }).message).toContain("expected a .png, .svg, .jpg or .webp file");
    expect(configError({ WEBHOOKD_PORTAL_LOGO: join(dir, "missing.png") }).message).toContain("file not found");
    expect(configError({ WEBHOOKD_PORTAL_LOGO: file("big.png", "x".repeat(256 * 1024 + 1)) }).message).toContain("at most 262144");
  });
  test("the brand colour is #rrggbb", () => {
    expect(loadConfig({ WEBHOOKD_PORTAL_BRAND_COLOR: "#aa00FF" }).portalBrandColor).toBe("#aa00FF");
    expect(configError({ WEBHOOKD_PORTAL_BRAND_COLOR: "red;" }).message).toContain("#rrggbb");
  });
});

describe("defaults", () => {
  test("an empty environment gives the documented defaults", () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: "0.0.0.0",
      dataDir: "./data",
      databaseUrl: undefined,
      leaseMs: 60_000,
      adminKey: undefined,
      masterKey: undefined,
      allowHttp: false,
      allowPrivateTargets: false,
      allowedPorts: null,
      probe: true,
      maxEndpointsPerOrg: 5,
      rateLimit: 100,
      orgPublishRate: 1000,
      eventTypes: DEFAULT_EVENT_TYPES,
      maxPayloadBytes: 262_144,
      concurrency: 256,
      orgConcurrency: 64,
      endpointConcurrency: 32,
      maxInMemory: 50_000,
      attemptTimeoutMs: 10_000,
      retrySchedule: [10_000, 60_000, 300_000],
      disableAfter: 10,
      retentionDays: 30,
      retentionCron: "0 * * * *",
      caFile: undefined,
      portalFrameAncestors: "'self'",
      portalTitle: "Webhooks",
      portalTheme: "auto",
      portalLogo: undefined,
      portalBrandColor: "#2457c5",
      logLevel: "info",
    });
    expect(DEFAULT_EVENT_TYPES).toHaveLength(11);
  });

  test("every option has a WEBHOOKD_ variable and the matching --flag", () => {
    for (const o of Object.values(options)) {
      expect(o.env).toMatch(/^WEBHOOKD_[A-Z_]+$/);
      expect(o.flag).toBe("--" + o.env.slice("WEBHOOKD_".length).toLowerCase().replaceAll("_", "-"));
      expect(serveFlags.has(o.flag)).toBe(true);
      expect(o.help.length).toBeGreaterThan(10);
    }
    expect(serveFlags.get("--allow-http")).toBe(true); // booleans may stand alone
    expect(serveFlags.get("--port")).toBe(false);
  });
});

describe("environment", () => {
  test("every variable is parsed", () => {
    const masterKey = "ab".repeat(32);
    const config = loadConfig({
      WEBHOOKD_PORT: "9000",
      WEBHOOKD_HOST: "127.0.0.1",
      WEBHOOKD_DATA_DIR: "/var/lib/webhookd",
      WEBHOOKD_ADMIN_KEY: "sk_admin_" + "A".repeat(40),
      WEBHOOKD_MASTER_KEY: masterKey,
      WEBHOOKD_ALLOW_HTTP: "yes",
      WEBHOOKD_ALLOW_PRIVATE_TARGETS: "1",
      WEBHOOKD_ALLOWED_PORTS: "443,8000-8999",
      WEBHOOKD_PROBE: "off",
      WEBHOOKD_MAX_ENDPOINTS_PER_ORG: "50",
      WEBHOOKD_RATE_LIMIT: "0",
      WEBHOOKD_ORG_PUBLISH_RATE: "20",
      WEBHOOKD_EVENT_TYPES: "order.created,order.paid",
      WEBHOOKD_MAX_PAYLOAD_BYTES: "1024",
      WEBHOOKD_CONCURRENCY: "8",
      WEBHOOKD_ORG_CONCURRENCY: "4",
      WEBHOOKD_ENDPOINT_CONCURRENCY: "2",
      WEBHOOKD_MAX_IN_MEMORY: "100",
      WEBHOOKD_ATTEMPT_TIMEOUT: "1.5s",
      WEBHOOKD_RETRY_SCHEDULE: "1s, 1m30s,2h",
      WEBHOOKD_DISABLE_AFTER: "0",
      WEBHOOKD_RETENTION_DAYS: "7",
      WEBHOOKD_RETENTION_CRON: "*/5 * * * *",
      WEBHOOKD_LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({
      port: 9000,
      host: "127.0.0.1",
      dataDir: "/var/lib/webhookd",
      adminKey: "sk_admin_" + "A".repeat(40),
      masterKey,
      allowHttp: true,
      allowPrivateTargets: true,
      allowedPorts: [[443, 443], [8000, 8999]],
      probe: false,
      maxEndpointsPerOrg: 50,
      rateLimit: 0,
      orgPublishRate: 20,
      maxPayloadBytes: 1024,
      concurrency: 8,
      orgConcurrency: 4,
      endpointConcurrency: 2,
      maxInMemory: 100,
      attemptTimeoutMs: 1500,
      retrySchedule: [1000, 90_000, 7_200_000],
      disableAfter: 0,
      retentionDays: 7,
      retentionCron: "*/5 * * * *",
      logLevel: "debug",
    });
    expect(config.eventTypes.map((e) => e.name)).toEqual(["order.created", "order.paid"]);
  });

  test("an empty retry schedule means no retries; empty optional values mean unset", () => {
    const config = loadConfig({ WEBHOOKD_RETRY_SCHEDULE: "", WEBHOOKD_ADMIN_KEY: "", WEBHOOKD_MASTER_KEY: "", WEBHOOKD_CA_FILE: "" });
    expect(config.retrySchedule).toEqual([]);
    expect(config.adminKey).toBeUndefined();
    expect(config.masterKey).toBeUndefined();
    expect(config.caFile).toBeUndefined();
  });
});

describe("flags", () => {
  test("a flag wins over its variable", () => {
    const config = loadConfig(
      { WEBHOOKD_PORT: "9000", WEBHOOKD_ALLOW_HTTP: "false", WEBHOOKD_RETRY_SCHEDULE: "10s" },
      { "--port": "9100", "--allow-http": "true", "--retry-schedule": "1s,2s" },
    );
    expect(config).toMatchObject({ port: 9100, allowHttp: true, retrySchedule: [1000, 2000] });
  });

  test("a bad flag value is reported under the flag's name", () => {
    const err = configError({ WEBHOOKD_PORT: "9000" }, { "--port": "99999" });
    expect(err.message).toStartWith("--port:");
  });

  test("a good flag saves a bad variable", () => {
    expect(loadConfig({ WEBHOOKD_PORT: "nope" }, { "--port": "1" }).port).toBe(1);
  });
});

describe("bad values stop the start, naming the variable", () => {
  test.each([
    ["WEBHOOKD_PORT", "70000"],
    ["WEBHOOKD_PORT", "-1"],
    ["WEBHOOKD_PORT", "80a"],
    ["WEBHOOKD_ALLOW_HTTP", "maybe"],
    ["WEBHOOKD_ALLOW_PRIVATE_TARGETS", "2"],
    ["WEBHOOKD_PROBE", ""],
    ["WEBHOOKD_RETRY_SCHEDULE", "10x"],
    ["WEBHOOKD_RETRY_SCHEDULE", "10s,,60s"],
    ["WEBHOOKD_ATTEMPT_TIMEOUT", "10"],
    ["WEBHOOKD_EVENT_TYPES", "bad name!"],
    ["WEBHOOKD_EVENT_TYPES", "a.b,a.b"],
    ["WEBHOOKD_EVENT_TYPES", "/nonexistent/catalog.json"],
    ["WEBHOOKD_MAX_PAYLOAD_BYTES", "1023"],
    ["WEBHOOKD_MAX_ENDPOINTS_PER_ORG", "0"],
    ["WEBHOOKD_RATE_LIMIT", "1.5"],
    ["WEBHOOKD_ALLOWED_PORTS", "443-80"],
    ["WEBHOOKD_ORG_PUBLISH_RATE", "-1"],
    ["WEBHOOKD_LOG_LEVEL", "verbose"],
    ["WEBHOOKD_CA_FILE", "/nonexistent/ca.pem"],
    ["WEBHOOKD_ADMIN_KEY", "hunter2"],
    ["WEBHOOKD_ADMIN_KEY", "sk_admin_short"],
    ["WEBHOOKD_MASTER_KEY", "abc"],
    ["WEBHOOKD_MASTER_KEY", "ab".repeat(31)],
    ["WEBHOOKD_RETENTION_CRON", "every hour"],
    ["WEBHOOKD_RETENTION_CRON", "61 * * * *"],
    ["WEBHOOKD_DATABASE_URL", "mysql://db/webhookd"],
    ["WEBHOOKD_DATABASE_URL", "not a url"],
    ["WEBHOOKD_LEASE", "5s"],
  ])("%s=%p", (variable, value) => {
    const err = configError({ [variable]: value });
    expect(err.message).toStartWith(`${variable}:`);
    expect(err.message.length).toBeGreaterThan(variable.length + 5);
  });

  test("a PostgreSQL URL is taken as it is; empty means the embedded SQLite file", () => {
    expect(loadConfig({ WEBHOOKD_DATABASE_URL: "postgres://webhookd:pw@db:5432/webhookd" }).databaseUrl).toBe("postgres://webhookd:pw@db:5432/webhookd");
    expect(loadConfig({ WEBHOOKD_DATABASE_URL: "postgresql://db/webhookd" }).databaseUrl).toBe("postgresql://db/webhookd");
    expect(loadConfig({ WEBHOOKD_DATABASE_URL: "" }).databaseUrl).toBeUndefined();
  });

  test("the message says what was expected", () => {
    expect(configError({ WEBHOOKD_PORT: "70000" }).message).toBe("WEBHOOKD_PORT: expected 0..65535, got 70000");
    expect(configError({ WEBHOOKD_ALLOW_HTTP: "maybe" }).message).toContain('expected true or false, got "maybe"');
    expect(configError({ WEBHOOKD_RETRY_SCHEDULE: "10x" }).message).toContain('"10x"');
    expect(configError({ WEBHOOKD_EVENT_TYPES: "bad name!" }).message).toContain('invalid event type name "bad name!"');
    expect(configError({ WEBHOOKD_EVENT_TYPES: "/nonexistent/catalog.json" }).message).toContain("file not found");
  });
});

describe("WEBHOOKD_EVENT_TYPES", () => {
  test("a comma list, trimmed, empty items dropped", () => {
    const { eventTypes } = loadConfig({ WEBHOOKD_EVENT_TYPES: " order.created , order.paid,,invoice_v2.sent-out " });
    expect(eventTypes).toEqual([
      { name: "order.created", description: "", example: {} },
      { name: "order.paid", description: "", example: {} },
      { name: "invoice_v2.sent-out", description: "", example: {} },
    ]);
  });

  test("a JSON file of names", () => {
    const path = file("names.json", JSON.stringify(["user.signed_up", "user.deleted"]));
    expect(loadConfig({ WEBHOOKD_EVENT_TYPES: path }).eventTypes).toEqual([
      { name: "user.signed_up", description: "", example: {} },
      { name: "user.deleted", description: "", example: {} },
    ]);
  });

  test("a JSON file of {name, description, example}, mixed with names", () => {
    const path = file(
      "objects.json",
      JSON.stringify([{ name: "user.signed_up", description: "A user signed up", example: { id: "u_1" } }, { name: "user.deleted" }, "user.updated"]),
    );
    expect(loadConfig({ WEBHOOKD_EVENT_TYPES: path }).eventTypes).toEqual([
      { name: "user.signed_up", description: "A user signed up", example: { id: "u_1" } },
      { name: "user.deleted", description: "", example: {} },
      { name: "user.updated", description: "", example: {} },
    ]);
  });

  test("an example that is not a JSON object is refused", () => {
    const path = file("bad-example.json", JSON.stringify([{ name: "user.deleted", example: [1] }]));
    expect(() => loadConfig({ WEBHOOKD_EVENT_TYPES: path })).toThrow(/example of "user.deleted" must be a JSON object/);
  });

  test.each([
    ["not JSON", "names.bad.json", "[not json"],
    ["not an array", "object.json", '{"name":"a.b"}'],
    ["an empty array", "empty.json", "[]"],
    ["a bad entry", "entry.json", "[42]"],
    ["a bad name", "badname.json", '["ok.one", "not ok"]'],
  ])("a JSON file holding %s is a ConfigError", (_label, name, content) => {
    const path = file(name, content);
    expect(configError({ WEBHOOKD_EVENT_TYPES: path }).message).toStartWith("WEBHOOKD_EVENT_TYPES:");
  });
});
