/** Which URLs an endpoint may have: shape, HTTPS, SSRF (private targets), and the per-org limit. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { createEndpoint, expectError, expectOk } from "../helpers/assert.ts";

const PUBLIC_IP = "93.184.216.34";
/** Test DNS: `*.internal.test` is private, `mixed.test` has one private answer among public ones. */
const resolver = async (host: string): Promise<string[]> => {
  if (host.endsWith(".internal.test")) return ["10.0.0.5"];
  if (host === "mixed.test") return [PUBLIC_IP, "10.0.0.5"];
  return [PUBLIC_IP];
};

const servers: TestServer[] = [];
async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startTestServer(env, { resolver });
  servers.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe("URL shape (any server)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await server({});
  });

  test.each([
    ["user and password", "https://user:pass@example.com/hook"],
    ["user only", "https://user@example.com/hook"],
    ["a carriage return / line feed", "https://example.com/a\r\nX-Injected: 1"],
    ["a line feed", "https://example.com/a\nb"],
    ["a tab", "https://example.com/a\tb"],
    ["a space", "https://example.com/a b"],
    ["no scheme", "example.com/hook"],
    ["relative", "/hook"],
    ["ftp", "ftp://example.com/hook"],
    ["javascript", "javascript:alert(1)"],
    ["file", "file:///etc/passwd"],
    ["over 2048 characters", "https://example.com/" + "a".repeat(2029)],
  ])("%s is rejected with 400 on url", async (_label, url) => {
    const { key } = await s.newTenant();
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url } }), 400, "VALIDATION_ERROR", "url");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key }))).toEqual([]);
  });

  test("exactly 2048 characters is accepted", async () => {
    const { key } = await s.newTenant();
    const url = "https://example.com/" + "a".repeat(2048 - "https://example.com/".length);
    expect(url).toHaveLength(2048);
    expect((await createEndpoint(s.api, key, { url })).url).toBe(url);
  });

  test("the same rules hold on PATCH", async () => {
    const { key } = await s.newTenant();
    const created = await createEndpoint(s.api, key);
    for (const url of ["https://u:p@example.com/", "https://example.com/\r\n", "ftp://example.com/", "https://example.com/" + "a".repeat(2048)]) {
      expectError(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key, body: { url } }), 400, "VALIDATION_ERROR", "url");
    }
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key })).url).toBe(created.url);
  });
});

describe("WEBHOOKD_ALLOWED_PORTS", () => {
  test("by default any port is accepted", async () => {
    const s = await server({});
    const { key } = await s.newTenant();
    expect((await createEndpoint(s.api, key, { url: "https://example.com:22/hook" })).url).toBe("https://example.com:22/hook");
  });

  test("443: another port is 400 URL_NOT_ALLOWED on create and PATCH, the default port passes", async () => {
    const s = await server({ WEBHOOKD_ALLOWED_PORTS: "443", WEBHOOKD_ALLOW_PRIVATE_TARGETS: "false" });
    const { key } = await s.newTenant();
    for (const url of ["https://example.com:8443/hook", "https://example.com:22/hook", "https://93.184.216.34:25/"]) {
      const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url } });
      expectError(res, 400, "URL_NOT_ALLOWED");
      expect(res.body.error.message).toContain("WEBHOOKD_ALLOWED_PORTS");
    }
    const created = await createEndpoint(s.api, key, { url: "https://example.com:443/hook" });
    expectError(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key, body: { url: "https://example.com:8443/hook" } }), 400, "URL_NOT_ALLOWED");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key })).map((e: any) => e.url)).toEqual(["https://example.com/hook"]);
  });
});

describe("WEBHOOKD_ALLOW_HTTP", () => {
  test("false: http:// is rejected, https:// accepted", async () => {
    const s = await server({ WEBHOOKD_ALLOW_HTTP: "false" });
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "http://example.com/hook" } });
    expectError(res, 400, "VALIDATION_ERROR", "url");
    expect(res.body.error.message).toContain("HTTPS");
    const created = await createEndpoint(s.api, key, { url: "https://example.com/hook" });
    expectError(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key, body: { url: "http://example.com/hook" } }), 400, "VALIDATION_ERROR", "url");
  });

  test("true: http:// is accepted", async () => {
    const s = await server({ WEBHOOKD_ALLOW_HTTP: "true" });
    const { key } = await s.newTenant();
    expect((await createEndpoint(s.api, key, { url: "http://example.com/hook" })).url).toBe("http://example.com/hook");
  });
});

describe("WEBHOOKD_ALLOW_PRIVATE_TARGETS=false", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await server({ WEBHOOKD_ALLOW_PRIVATE_TARGETS: "false" });
  });

  test.each([
    ["loopback", "https://127.0.0.1/hook"],
    ["loopback, other address", "https://127.8.9.10/hook"],
    ["private 10/8", "https://10.0.0.1/hook"],
    ["private 192.168/16", "https://192.168.1.1/hook"],
    ["private 172.16/12", "https://172.16.0.1/hook"],
    ["IPv6 loopback", "https://[::1]/hook"],
    ["IPv4-mapped IPv6 loopback", "https://[::ffff:127.0.0.1]/hook"],
    ["decimal loopback", "https://2130706433/hook"],
    ["hex loopback", "https://0x7f.0.0.1/hook"],
    ["cloud metadata", "http://169.254.169.254/latest/meta-data/"],
    ["unspecified", "https://0.0.0.0/hook"],
    ["localhost", "https://localhost/hook"],
    ["a name resolving to a private address", "https://db.internal.test/hook"],
    ["a name with one private answer among public ones", "https://mixed.test/hook"],
  ])("%s is 400 URL_NOT_ALLOWED", async (_label, url) => {
    const { key } = await s.newTenant();
    const res = await s.api("POST", "/api/v1/webhooks", { key, body: { url } });
    expectError(res, 400, "URL_NOT_ALLOWED");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key }))).toEqual([]);
  });

  test("a public name and a public address are accepted", async () => {
    const { key } = await s.newTenant();
    expect((await createEndpoint(s.api, key, { url: "https://hooks.example.com/in" })).url).toBe("https://hooks.example.com/in");
    expect((await createEndpoint(s.api, key, { url: `https://${PUBLIC_IP}/in` })).url).toBe(`https://${PUBLIC_IP}/in`);
  });

  test("PATCH to a private target is refused and the URL stays", async () => {
    const { key } = await s.newTenant();
    const created = await createEndpoint(s.api, key);
    expectError(await s.api("PATCH", `/api/v1/webhooks/${created.id}`, { key, body: { url: "https://10.0.0.1/x" } }), 400, "URL_NOT_ALLOWED");
    expect(expectOk(await s.api("GET", `/api/v1/webhooks/${created.id}`, { key })).url).toBe(created.url);
  });

  test("an injected resolver that answers private for every name blocks every name", async () => {
    const only = await startTestServer({ WEBHOOKD_ALLOW_PRIVATE_TARGETS: "false" }, { resolver: async () => ["10.0.0.5"] });
    servers.push(only);
    const { key } = await only.newTenant();
    const res = await only.api("POST", "/api/v1/webhooks", { key, body: { url: "https://totally-public.example.com/hook" } });
    expectError(res, 400, "URL_NOT_ALLOWED");
    expect(res.body.error.message).toContain("10.0.0.5");
  });
});

describe("endpoints per org", () => {
  test("the default limit is 5: the 6th is 422 MAX_ENDPOINTS; deleting frees a slot", async () => {
    const s = await server({});
    const { key } = await s.newTenant();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await createEndpoint(s.api, key)).id);
    const sixth = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/6" } });
    expectError(sixth, 422, "MAX_ENDPOINTS");
    expect(sixth.body.error.message).toContain("5");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key }))).toHaveLength(5);

    // The limit is per org.
    const other = await s.newTenant();
    await createEndpoint(s.api, other.key);

    expect((await s.api("DELETE", `/api/v1/webhooks/${ids[0]}`, { key })).status).toBe(204);
    await createEndpoint(s.api, key);
    expectError(await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/7" } }), 422, "MAX_ENDPOINTS");
  });

  test("WEBHOOKD_MAX_ENDPOINTS_PER_ORG changes it", async () => {
    const s = await server({ WEBHOOKD_MAX_ENDPOINTS_PER_ORG: "2" });
    const { key } = await s.newTenant();
    await createEndpoint(s.api, key);
    await createEndpoint(s.api, key);
    const third = await s.api("POST", "/api/v1/webhooks", { key, body: { url: "https://example.com/3" } });
    expectError(third, 422, "MAX_ENDPOINTS");
    expect(third.body.error.message).toContain("2");
  });

  test("concurrent creates cannot overshoot the limit", async () => {
    const s = await server({ WEBHOOKD_MAX_ENDPOINTS_PER_ORG: "3" });
    const { key } = await s.newTenant();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.api("POST", "/api/v1/webhooks", { key, body: { url: `https://n${i}.example.com/` } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    for (const r of results.filter((r) => r.status !== 201)) expectError(r, 422, "MAX_ENDPOINTS");
    expect(expectOk(await s.api("GET", "/api/v1/webhooks", { key }))).toHaveLength(3);
  });
});
