/**
 * Configuration: environment variables, each with a `serve` flag that wins over it, parsed and
 * validated once at start. The option table below is the single source for parsing, `--help`
 * and the README's config table.
 */
import { existsSync, readFileSync } from "node:fs";
import { Cron } from "croner";
import { parseDuration, parseDurationList } from "./lib/duration.ts";
import { DEFAULT_EVENT_TYPES, parseEventTypeCatalog, type EventTypeCatalog } from "./event-catalog.ts";
import { API_KEY_SHAPE } from "./security/tokens.ts";
import { parseMasterKey } from "./security/secret-box.ts";
import { parseAllowedPorts } from "./security/port-rule.ts";

export class ConfigError extends Error {}

type Parser<T> = (raw: string) => T;

interface OptionSpec<T> {
  env: string;
  flag: string;
  default: string | undefined;
  help: string;
  parse: Parser<T>;
}

function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`expected ${min}..${max}, got ${n}`);
    return n;
  };
}

const boolean: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new Error(`expected true or false, got "${raw}"`);
};

const text: Parser<string> = (raw) => raw;

const duration: Parser<number> = (raw) => parseDuration(raw);

/** A key the auth layer would refuse on sight must stop the start, not lock the admin out. */
const adminKey: Parser<string | undefined> = (raw) => {
  if (raw === "") return undefined;
  if (!API_KEY_SHAPE.test(raw)) throw new Error("expected sk_admin_ followed by 32 to 128 letters and digits");
  return raw;
};

/** Checked here so a bad key is a config error, not a crash when the store opens. */
const masterKey: Parser<string | undefined> = (raw) => {
  if (raw === "") return undefined;
  parseMasterKey(raw);
  return raw;
};

/** A PostgreSQL URL, or unset for the embedded SQLite file. */
const databaseUrl: Parser<string | undefined> = (raw) => {
  if (raw === "") return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error("expected a postgres:// URL (postgres://user:password@host:5432/database)");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new Error(`expected a postgres:// URL, got ${url.protocol}//`);
  return raw;
};

const cron: Parser<string> = (raw) => {
  new Cron(raw, { paused: true }).stop();
  return raw;
};

/**
 * CSP frame-ancestors sources, space-separated: 'self', 'none', a scheme (https:) or a host
 * source (https://app.example.com, https://*.example.com:8443). Anything else (a `;` or `,`
 * above all, which would add directives) stops the start.
 */
const frameAncestors: Parser<string> = (raw) => {
  const sources = raw.trim().split(/\s+/);
  const source = /^(?:'self'|'none'|https?:|(?:https?:\/\/)?(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::(?:\d{1,5}|\*))?)$/;
  const bad = sources.find((s) => !source.test(s));
  if (bad !== undefined) throw new Error(`"${bad}" is not a frame-ancestors source ('self', 'none', https: or https://host[:port])`);
  if (sources.includes("'none'") && sources.length > 1) throw new Error("'none' cannot be combined with other sources");
  return sources.join(" ");
};

const brandColor: Parser<string> = (raw) => {
  if (!/^#[0-9a-fA-F]{6}$/.test(raw)) throw new Error(`expected a colour as #rrggbb, got "${raw}"`);
  return raw;
};

function option<T>(env: string, def: string | undefined, help: string, parse: Parser<T>): OptionSpec<T> {
  const flag = "--" + env.replace(/^WEBHOOKD_/, "").toLowerCase().replaceAll("_", "-");
  return { env, flag, default: def, help, parse };
}

export const options = {
  port: option("WEBHOOKD_PORT", "8080", "HTTP listen port (0 picks a free one)", integer(0, 65535)),
  host: option("WEBHOOKD_HOST", "0.0.0.0", "HTTP listen address", text),
  dataDir: option("WEBHOOKD_DATA_DIR", "./data", "Directory of the SQLite file and the generated master key file", text),
  databaseUrl: option("WEBHOOKD_DATABASE_URL", undefined, "PostgreSQL URL (postgres://user:password@host:5432/database): this node joins the cluster on that database (the master key must then be set, the same on every node); unset, the embedded SQLite file in the data dir", databaseUrl),
  leaseMs: option("WEBHOOKD_LEASE", "60s", "Cluster mode: how long a node holds the deliveries it claimed past their due time; renewed every third of it while the node lives, so a dead node's deliveries are taken over by the others at most this long after they came due (at least 10s)", (raw) => {
    const ms = parseDuration(raw);
    if (ms < 10_000) throw new Error(`expected at least 10s, got ${raw}`);
    return ms;
  }),
  adminKey: option("WEBHOOKD_ADMIN_KEY", undefined, "Admin API key (sk_admin_ + 32 or more letters and digits). Set, it is the only admin key and a start revokes the stored ones; unset, a start that finds no admin key generates one and prints it once", adminKey),
  masterKey: option("WEBHOOKD_MASTER_KEY", undefined, "32-byte key (64 hex chars or base64) that encrypts signing secrets at rest; default: <data dir>/master.key, made on first start (0600)", masterKey),
  allowHttp: option("WEBHOOKD_ALLOW_HTTP", "false", "Accept http:// endpoint URLs (development)", boolean),
  allowPrivateTargets: option("WEBHOOKD_ALLOW_PRIVATE_TARGETS", "false", "Allow endpoints on loopback/private/link-local addresses (development, tests, internal use)", boolean),
  allowedPorts: option("WEBHOOKD_ALLOWED_PORTS", "any", "Ports endpoint URLs may use: any, or a comma list of ports and ranges (443,8443,8000-8999); checked on save and before every attempt", parseAllowedPorts),
  probe: option("WEBHOOKD_PROBE", "true", "Send a signed probe to an endpoint URL on create and URL change; no 2xx rejects the change", boolean),
  maxEndpointsPerOrg: option("WEBHOOKD_MAX_ENDPOINTS_PER_ORG", "5", "Endpoints an org may have", integer(1, 100_000)),
  rateLimit: option("WEBHOOKD_RATE_LIMIT", "100", "Requests per second per API key (token bucket, burst 2x); 0 turns it off", integer(0, 1_000_000)),
  orgPublishRate: option("WEBHOOKD_ORG_PUBLISH_RATE", "1000", "Events per second one org may publish, whichever of its keys publishes; each event of a batch counts (token bucket, burst 2x); 0 turns it off", integer(0, 1_000_000)),
  eventTypes: option<EventTypeCatalog>("WEBHOOKD_EVENT_TYPES", undefined, "Event-type catalog: a comma list, or a path to a JSON file (array of names or {name, description, example}); default: the seeds' catalog", (raw) => parseEventTypeCatalog(raw, readCatalogFile)),
  maxPayloadBytes: option("WEBHOOKD_MAX_PAYLOAD_BYTES", "262144", "Largest event `data`, in bytes (413 beyond)", integer(1024, 64 * 1024 * 1024)),
  concurrency: option("WEBHOOKD_CONCURRENCY", "256", "Delivery attempts in flight at once, across all endpoints. Bun sends at most 256 requests at once unless BUN_CONFIG_MAX_HTTP_REQUESTS is set higher at start: attempts beyond that wait in Bun's queue, where the fairness bound between orgs does not hold", integer(1, 100_000)),
  orgConcurrency: option("WEBHOOKD_ORG_CONCURRENCY", "64", "Delivery attempts in flight at once for one org: its share of the global concurrency, so one org's slow or large traffic leaves the rest to the other orgs", integer(1, 100_000)),
  endpointConcurrency: option("WEBHOOKD_ENDPOINT_CONCURRENCY", "32", "Delivery attempts in flight at once to one endpoint", integer(1, 100_000)),
  maxInMemory: option("WEBHOOKD_MAX_IN_MEMORY", "50000", "Deliveries the scheduler holds in memory at once (due within 30 s, queued or in flight); the rest wait in the store, and an org holding less than an even share takes the room of the org holding the most", integer(1, 10_000_000)),
  attemptTimeoutMs: option("WEBHOOKD_ATTEMPT_TIMEOUT", "10s", "Timeout of one delivery attempt (ms, s, m, h)", duration),
  retrySchedule: option("WEBHOOKD_RETRY_SCHEDULE", "10s,60s,300s", "Delays before each retry; the first attempt is immediate", (raw) => parseDurationList(raw)),
  disableAfter: option("WEBHOOKD_DISABLE_AFTER", "10", "Consecutive exhausted deliveries that disable an endpoint; 0 never disables", integer(0, 1_000_000)),
  retentionDays: option("WEBHOOKD_RETENTION_DAYS", "30", "Days delivery logs and events are kept", integer(1, 3650)),
  retentionCron: option("WEBHOOKD_RETENTION_CRON", "0 * * * *", "When the retention sweeper runs (cron syntax)", cron),
  caFile: option("WEBHOOKD_CA_FILE", undefined, "PEM file of extra CAs trusted for endpoint TLS (private PKI)", (raw) => (raw === "" ? undefined : readPem(raw))),
  portalFrameAncestors: option("WEBHOOKD_PORTAL_FRAME_ANCESTORS", "'self'", "Who may show /portal in an iframe (CSP frame-ancestors): 'self', 'none', or origins such as https://app.example.com, space-separated; any origin but 'self' makes the session cookie SameSite=None; Secure; Partitioned over https, so another site can frame it", frameAncestors),
  portalTitle: option("WEBHOOKD_PORTAL_TITLE", "Webhooks", "The portal's name, in its header and page title", (raw) => raw.slice(0, 100)),
  portalTheme: option("WEBHOOKD_PORTAL_THEME", "auto", "The portal's colours: auto (the viewer's light or dark setting), light or dark", (raw) => {
    if (!["auto", "light", "dark"].includes(raw)) throw new Error("expected auto, light or dark");
    return raw as "auto" | "light" | "dark";
  }),
  portalLogo: option("WEBHOOKD_PORTAL_LOGO", undefined, "An image file (PNG, SVG, JPEG or WebP, at most 256 KiB) shown in the portal's header; read at start", (raw) => (raw === "" ? undefined : readLogo(raw))),
  portalBrandColor: option("WEBHOOKD_PORTAL_BRAND_COLOR", "#2457c5", "The portal's accent colour (#rrggbb): buttons, links, the chart", brandColor),
  logLevel: option("WEBHOOKD_LOG_LEVEL", "info", "debug, info, warn or error", (raw) => {
    if (!["debug", "info", "warn", "error"].includes(raw)) throw new Error(`expected debug, info, warn or error`);
    return raw as "debug" | "info" | "warn" | "error";
  }),
} satisfies Record<string, OptionSpec<unknown>>;

type Options = typeof options;
export type Config = { [K in keyof Options]: ReturnType<Options[K]["parse"]> } & { eventTypes: EventTypeCatalog };

function readCatalogFile(path: string): string | null {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

const LOGO_TYPES: Record<string, string> = { png: "image/png", svg: "image/svg+xml", jpg: "image/jpeg", jpeg: "image/jpeg", webp: "image/webp" };
const MAX_LOGO_BYTES = 256 * 1024;

/** The portal's logo, read once at start: the binary serves it itself (the portal loads nothing from another host). */
function readLogo(path: string): { bytes: Uint8Array; type: string } {
  const type = LOGO_TYPES[path.slice(path.lastIndexOf(".") + 1).toLowerCase()];
  if (!type) throw new Error(`expected a .png, .svg, .jpg or .webp file, got ${path}`);
  if (!existsSync(path)) throw new Error(`file not found: ${path}`);
  const bytes = readFileSync(path);
  if (bytes.length > MAX_LOGO_BYTES) throw new Error(`${path} is ${bytes.length} bytes; at most ${MAX_LOGO_BYTES}`);
  return { bytes: new Uint8Array(bytes), type };
}

function readPem(path: string): string[] {
  if (!existsSync(path)) throw new Error(`file not found: ${path}`);
  const pems = readFileSync(path, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!pems) throw new Error(`no PEM certificate in ${path}`);
  return pems;
}

/**
 * Builds the config from the environment and `serve` flags (`--port 9000` or `--port=9000`;
 * a boolean flag alone means true). Throws ConfigError naming the variable on a bad value.
 */
export function loadConfig(env: Record<string, string | undefined>, flags: Record<string, string> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(options) as [keyof Options, OptionSpec<unknown>][]) {
    const fromFlag = flags[spec.flag];
    const raw = fromFlag ?? env[spec.env] ?? spec.default;
    const source = fromFlag !== undefined ? spec.flag : spec.env;
    if (raw === undefined) {
      out[key] = key === "eventTypes" ? DEFAULT_EVENT_TYPES : undefined;
      continue;
    }
    try {
      out[key] = spec.parse(raw);
    } catch (err) {
      throw new ConfigError(`${source}: ${(err as Error).message}`);
    }
  }
  return out as Config;
}

/** Every flag `serve` accepts, mapped to whether it is a boolean (may stand alone). */
export const serveFlags: ReadonlyMap<string, boolean> = new Map(
  Object.values(options).map((o) => [o.flag, o.parse === boolean]),
);
