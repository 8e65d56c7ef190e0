/**
 * Hostile URLs: DNS rebinding, mixed public/private answers, and every numeric or IPv6-embedding
 * spelling of loopback and cloud metadata. None may ever be connected to.
 *
 * Safety rule of this file: nothing here may send a packet to a non-loopback address. The
 * "public" DNS answer (93.184.216.34) is only ever served while an endpoint is being created
 * with the probe off (no connection at create), and every private answer is 127.0.0.1 with the
 * port of a TCP tripwire, so a guard that let anything through would connect to the tripwire.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually } from "../helpers/receiver.ts";
import { expectError, expectOk } from "../helpers/assert.ts";
import { scriptedDns, startRawServer, type RawServer } from "../helpers/hostile.ts";

const PUBLIC_IP = "93.184.216.34";
setDefaultTimeout(30_000);

const dns = scriptedDns();
let tripwire: RawServer;
/** Probe off: public names may be created (nothing connects at create). */
let s: TestServer;
/** Probe on: a loopback spelling that slipped past the guard would be probed, i.e. connected to. */
let probing: TestServer;
let key: string;
let probingKey: string;

beforeAll(async () => {
  tripwire = await startRawServer();
  const env = {
    WEBHOOKD_ALLOW_PRIVATE_TARGETS: "false",
    WEBHOOKD_ALLOW_HTTP: "true",
    WEBHOOKD_RETRY_SCHEDULE: "50ms,50ms",
    WEBHOOKD_DISABLE_AFTER: "0",
    WEBHOOKD_ATTEMPT_TIMEOUT: "2s",
  };
  s = await startTestServer(env, { resolver: dns.resolver });
  probing = await startTestServer({ ...env, WEBHOOKD_PROBE: "true" }, { resolver: dns.resolver });
  key = (await s.newTenant()).key;
  probingKey = (await probing.newTenant()).key;
});

afterAll(async () => {
  // Nothing, in any test, ever reached the tripwire.
  expect(tripwire.connections).toBe(0);
  await Promise.all([s.stop(), probing.stop()]);
  await tripwire.close();
});

/** Creates an endpoint on `host` while it resolves to a public address, then points the name at `later`. */
async function createThenRebind(host: string, later: string[], k = key): Promise<string> {
  dns.set(host, [PUBLIC_IP]);
  try {
    const created = await s.api("POST", "/api/v1/webhooks", { key: k, body: { url: `http://${host}:${tripwire.port}/hook` } });
    return expectOk(created, 201).id as string;
  } finally {
    // From here on the name never answers anything public again.
    dns.set(host, later);
  }
}

async function finishedDelivery(k: string, endpointId: string): Promise<any> {
  return eventually(async () => {
    const list = (await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries`, { key: k })).body.data as any[];
    const d = list[0];
    return d && d.status !== "pending" ? d : null;
  }, 15_000);
}

async function attemptLog(k: string, endpointId: string, deliveryId: string): Promise<any[]> {
  return expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}/deliveries/${deliveryId}`, { key: k })).attemptLog;
}

describe("DNS rebinding: public when saved, private when delivered", () => {
  test.each([
    ["127.0.0.1", ["127.0.0.1"]],
    ["IPv4-mapped loopback", ["::ffff:127.0.0.1"]],
    ["NAT64 loopback", ["64:ff9b::7f00:1"]],
    ["::1 then 127.0.0.1", ["::1", "127.0.0.1"]],
    // Loopback first: even a guard that ignored the verdict would pick it, never the public one.
    ["a private and a public answer", ["127.0.0.1", PUBLIC_IP]],
    ["an unparseable answer", ["not-an-ip"]],
  ])("%s at delivery time: blocked_address on every attempt, nothing connected", async (_label, later) => {
    const { key: k } = await s.newTenant();
    const host = `rebind-${crypto.randomUUID().slice(0, 8)}.test`;
    const endpointId = await createThenRebind(host, later, k);
    const pub = await s.api("POST", "/api/v1/events", { key: k, body: { event: "call.ended", data: { n: 1 } } });
    expect(expectOk(pub, 202).deliveries).toBe(1);
    const d = await finishedDelivery(k, endpointId);
    expect(d).toMatchObject({ status: "failed", attempts: 3, statusCode: null, error: { code: "blocked_address" } });
    const log = await attemptLog(k, endpointId, d.id);
    expect(log.map((a) => a.error?.code)).toEqual(["blocked_address", "blocked_address", "blocked_address"]);
    // Nothing was sent: no request headers are logged either.
    expect(log.every((a) => a.statusCode === null && a.response === null && a.request === null)).toBe(true);
    // The guard really asked DNS at delivery time (and got the private answer).
    expect(dns.lookups.filter((l) => l.host === host && l.answers.includes(later[0]!)).length).toBeGreaterThanOrEqual(3);
    expect(tripwire.connections).toBe(0);
    // Delivery counters count it like any other failure.
    const ep = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}`, { key: k }));
    expect(ep).toMatchObject({ consecutiveFailures: 1, failureCount: 1, isActive: true });
  });

  test("replay and test sends go through the same guard", async () => {
    const { key: k } = await s.newTenant();
    const host = `rebind-${crypto.randomUUID().slice(0, 8)}.test`;
    const endpointId = await createThenRebind(host, ["127.0.0.1"], k);
    await s.api("POST", "/api/v1/events", { key: k, body: { event: "call.ended", data: {} } });
    const d = await finishedDelivery(k, endpointId);
    const replay = expectOk(await s.api("POST", `/api/v1/webhooks/${endpointId}/deliveries/${d.id}/replay`, { key: k }));
    expect(replay).toMatchObject({ success: false, statusCode: null, error: { code: "blocked_address" } });
    const testSend = expectOk(await s.api("POST", `/api/v1/webhooks/${endpointId}/test`, { key: k, body: { event: "call.ended" } }));
    expect(testSend).toMatchObject({ success: false, error: { code: "blocked_address" } });
    expect(tripwire.connections).toBe(0);
  });
});

describe("mixed answers are refused at create", () => {
  test.each([
    [[PUBLIC_IP, "127.0.0.1"]],
    [["127.0.0.1", PUBLIC_IP]],
    [[PUBLIC_IP, "::1"]],
    [[PUBLIC_IP, "169.254.169.254"]],
    [[PUBLIC_IP, "::ffff:a9fe:a9fe"]],
    [[PUBLIC_IP, "10.1.2.3"]],
    [[PUBLIC_IP, "fe80::1%eth0"]],
  ])("%j -> 400 URL_NOT_ALLOWED, nothing stored", async (answers) => {
    const { key: k } = await s.newTenant();
    const host = `mixed-${crypto.randomUUID().slice(0, 8)}.test`;
    dns.set(host, answers);
    try {
      const res = await s.api("POST", "/api/v1/webhooks", { key: k, body: { url: `http://${host}:${tripwire.port}/` } });
      expectError(res, 400, "URL_NOT_ALLOWED");
    } finally {
      dns.set(host, ["127.0.0.1"]);
    }
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key: k }))).toEqual([]);
  });
});

/** Every spelling of loopback, the metadata services and other non-public hosts. */
const LOOPBACK_SPELLINGS = [
  "2130706433",
  "0x7f.1",
  "0x7f000001",
  "017700000001",
  "0177.0.0.1",
  "127.1",
  "127.0.0.1.",
  "127.000.000.001",
  "①②⑦.0.0.1",
  "[::ffff:127.0.0.1]",
  "[::ffff:7f00:1]",
  "[0:0:0:0:0:ffff:7f00:1]",
  "[64:ff9b::7f00:1]",
  "[64:ff9b::127.0.0.1]",
  "[2002:7f00:1::]",
  "[::1]",
  "[0:0:0:0:0:0:0:1]",
  "[::127.0.0.1]",
  "0",
  "0.0.0.0",
  "[::]",
  "localhost",
  "LOCALHOST",
  "localhost.",
  "foo.localhost",
  "a.b.localhost.",
  // Names the scripted DNS answers with loopback, as a hostile resolver would.
  "internal.example.test",
] as const;
const OTHER_PRIVATE_SPELLINGS = [
  "169.254.169.254",
  "0xa9fea9fe",
  "2852039166",
  "[::ffff:169.254.169.254]",
  "[::ffff:a9fe:a9fe]",
  "[64:ff9b::a9fe:a9fe]",
  "[2002:a9fe:a9fe::]",
  "[fd00:ec2::254]",
  "100.100.100.200",
  "10.0.0.1",
  "192.168.1.1",
  "172.16.0.1",
  "[fe80::1]",
  "[fc00::1]",
  "224.0.0.1",
  "255.255.255.255",
] as const;

describe("numeric and IPv6-embedding spellings", () => {
  const withPort = (host: string) => `http://${host}:${tripwire.port}/`;

  test.each([...LOOPBACK_SPELLINGS, ...OTHER_PRIVATE_SPELLINGS])("POST http://%s/ -> 400 URL_NOT_ALLOWED", async (host) => {
    for (const url of [`http://${host}/`, withPort(host)]) {
      const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url } });
      expectError(res, 400, "URL_NOT_ALLOWED");
    }
  });

  test.each(LOOPBACK_SPELLINGS)("with the probe on, http://%s:<tripwire>/ is refused before any connection", async (host) => {
    const res = await probing.api("POST", "/api/v1/webhooks", { key: probingKey, body: { url: withPort(host) } });
    expectError(res, 400, "URL_NOT_ALLOWED");
    expect(tripwire.connections).toBe(0);
  });

  test("PATCH to any of them -> 400, the stored URL unchanged", async () => {
    const { key: k } = await s.newTenant();
    const endpointId = await createThenRebind(`patch-${crypto.randomUUID().slice(0, 8)}.test`, ["127.0.0.1"], k);
    const before = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}`, { key: k }));
    for (const host of [...LOOPBACK_SPELLINGS, ...OTHER_PRIVATE_SPELLINGS]) {
      const res = await s.api("PATCH", `/api/v1/webhooks/${endpointId}`, { key: k, body: { url: withPort(host) } });
      expectError(res, 400, "URL_NOT_ALLOWED");
    }
    const after = expectOk(await s.api("GET", `/api/v1/webhooks/${endpointId}`, { key: k }));
    expect(after).toEqual(before);
    // No leftovers pointing anywhere: the endpoint goes away.
    expect((await s.api("DELETE", `/api/v1/webhooks/${endpointId}`, { key: k })).status).toBe(204);
  });

  test("nothing was ever stored for them, and nothing connected", async () => {
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key }))).toEqual([]);
    expect(expectOk(await probing.api("GET", "/api/v1/webhooks", { key: probingKey }))).toEqual([]);
    expect(tripwire.connections).toBe(0);
  });
});

describe("control: the spellings really do land on loopback", () => {
  // With private targets allowed, the same URLs reach a listener on 127.0.0.1: the refusals
  // above are the guard's doing, and the tripwire would have seen any connection.
  // (Only spellings that land on IPv4 127.0.0.1: NAT64/6to4 forms would send packets to their
  // IPv6 address itself, which is not loopback.)
  test("an allow-private server's probe reaches a 127.0.0.1 listener through each IPv4 spelling", async () => {
    const control = await startRawServer();
    const open = await startTestServer({ WEBHOOKD_ALLOW_PRIVATE_TARGETS: "true", WEBHOOKD_PROBE: "true" }, { resolver: dns.resolver });
    try {
      const { key: k } = await open.newTenant();
      const reached: string[] = [];
      for (const host of ["2130706433", "0x7f.1", "017700000001", "127.1", "①②⑦.0.0.1", "[::ffff:127.0.0.1]", "localhost", "foo.localhost", "internal.example.test"]) {
        const before = control.connections;
        const res = await open.api("POST", "/api/v1/webhooks", { key: k, body: { url: `http://${host}:${control.port}/` } });
        if (res.status === 201) {
          expect(control.connections).toBeGreaterThan(before);
          reached.push(host);
          await open.api("DELETE", `/api/v1/webhooks/${res.body.data.id}`, { key: k });
        }
      }
      // At least the plain numeric and name spellings must have reached it.
      expect(reached).toEqual(expect.arrayContaining(["2130706433", "0x7f.1", "017700000001", "127.1", "localhost", "foo.localhost", "internal.example.test"]));
    } finally {
      await open.stop();
      await control.close();
    }
  });
});
