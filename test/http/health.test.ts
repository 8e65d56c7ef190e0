/** /healthz, /readyz, the docs (self-contained page, complete OpenAPI), and the event-type catalog. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startTestServer, type TestServer, ON_SQLITE } from "../helpers/server.ts";
import { expectError, expectOk } from "../helpers/assert.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

describe("health", () => {
  test("/healthz answers without a key", async () => {
    const res = await s.api("GET", "/healthz");
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: "ok" } });
  });

  test("/readyz is ready when the database takes writes", async () => {
    const res = await s.api("GET", "/readyz");
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: "ready" } });
  });

  test.skipIf(!ON_SQLITE)("/readyz is 503 NOT_READY while the database cannot take a write", async () => {
    const other = await startTestServer();
    const locker = new Database(join(other.config.dataDir, "webhookd.db"));
    try {
      locker.run("BEGIN IMMEDIATE"); // another writer holds the lock past the busy timeout
      expectError(await other.api("GET", "/readyz"), 503, "NOT_READY");
      locker.run("ROLLBACK");
      expect((await other.api("GET", "/readyz")).status).toBe(200);
    } finally {
      locker.close();
      await other.stop();
    }
  }, 30_000); // the readiness probe waits out SQLite's 5 s busy timeout, blocking this process
});

describe("/docs", () => {
  test("is a Swagger UI page that names no other host", async () => {
    const res = await fetch(s.url + "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    expect(html).toContain("SwaggerUIBundle");
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/(src|href)="\/\//);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((r) => r !== "data:,");
    expect(refs.sort()).toEqual(["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]);
    for (const ref of refs) {
      const asset = await fetch(s.url + ref);
      expect(asset.status).toBe(200);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
  });
});

describe("/docs/json", () => {
  let doc: any;
  beforeAll(async () => {
    const res = await fetch(s.url + "/docs/json");
    expect(res.status).toBe(200);
    doc = await res.json();
  });

  const FOUNDATION_ROUTES = [
    ["get", "/api/v1/webhooks"],
    ["post", "/api/v1/webhooks"],
    ["get", "/api/v1/webhooks/{id}"],
    ["patch", "/api/v1/webhooks/{id}"],
    ["delete", "/api/v1/webhooks/{id}"],
    ["post", "/api/v1/webhooks/{id}/rotate-secret"],
    ["get", "/api/v1/webhooks/{id}/secret"],
    ["get", "/api/v1/event-types"],
    ["get", "/api/v1/orgs"],
    ["post", "/api/v1/orgs"],
    ["get", "/api/v1/orgs/{orgId}/keys"],
    ["post", "/api/v1/orgs/{orgId}/keys"],
    ["delete", "/api/v1/orgs/{orgId}/keys/{keyId}"],
    ["get", "/healthz"],
    ["get", "/readyz"],
  ] as const;

  test("is OpenAPI 3 with both security schemes, either accepted", () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe("webhookd API");
    expect(doc.components.securitySchemes).toEqual({
      apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      bearer: { type: "http", scheme: "bearer" },
    });
    expect(doc.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
  });

  test("documents every foundation route, under its canonical path", () => {
    const documented = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    for (const [method, path] of FOUNDATION_ROUTES) expect(documented).toContain(`${method} ${path}`);
    // No trailing-slash twins of these, no docs routes.
    const foundation = /^\/api\/v1\/(webhooks|orgs|event-types)/;
    expect(Object.keys(doc.paths).filter((p) => (foundation.test(p) && p.endsWith("/")) || p.startsWith("/docs"))).toEqual([]);
  });

  test("every documented /api/v1 route is a real route", async () => {
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!path.startsWith("/api/v1")) continue;
      const concrete = path.replace(/\{[^}]+\}/g, "x");
      for (const method of Object.keys(ops)) {
        const res = await s.api(method.toUpperCase(), concrete);
        const noRoute = res.status === 404 && String(res.body?.error?.message).startsWith("No route");
        expect({ route: `${method} ${path}`, noRoute }).toEqual({ route: `${method} ${path}`, noRoute: false });
      }
    }
  });

  test("bodies are described: create needs url; events, description, secret, isActive and the seeds' aliases are optional", () => {
    const schema = doc.paths["/api/v1/webhooks"].post.requestBody.content["application/json"].schema;
    expect(schema.required).toEqual(["url"]);
    expect(Object.keys(schema.properties).sort()).toEqual(["description", "enabled", "enabled_events", "event_types", "events", "isActive", "secret", "url"]);
    expect(schema.properties.enabled_events.description).toContain("`events`");
    const rotate = doc.paths["/api/v1/webhooks/{id}/rotate-secret"].post;
    expect(JSON.stringify(rotate)).toContain("gracePeriodSeconds");
    expect(doc.paths["/api/v1/webhooks"].post.responses["201"]).toBeDefined();
    expect(doc.paths["/api/v1/webhooks"].post.responses["422"]).toBeDefined();
  });

  test("health checks need no key", () => {
    expect(doc.paths["/healthz"].get.security).toEqual([]);
    expect(doc.paths["/readyz"].get.security).toEqual([]);
  });
});

describe("GET /api/v1/event-types", () => {
  test("lists the 11 seed events, no key needed", async () => {
    const data = expectOk(await s.api("GET", "/api/v1/event-types"));
    expect(data.map((e: any) => e.name)).toEqual([
      "call.started",
      "call.ended",
      "call.failed",
      "call.scheduled",
      "call.cancelled",
      "call.transferred",
      "contact.created",
      "contact.updated",
      "contact.deleted",
      "appointment.scheduled",
      "conversation.completed",
    ]);
    for (const e of data) {
      expect(Object.keys(e).sort()).toEqual(["description", "example", "name"]);
      expect(e.description.length).toBeGreaterThan(0);
      expect(Object.keys(e.example).length).toBeGreaterThan(0);
    }
    expect(data.find((e: any) => e.name === "call.ended")).toEqual({
      name: "call.ended",
      description: "A call completed",
      example: { id: "call_abc123", to: "+14155551234", from: "+14155559999", status: "ended", duration: 45 },
    });
  });

  test("follows WEBHOOKD_EVENT_TYPES", async () => {
    const custom = await startTestServer({ WEBHOOKD_EVENT_TYPES: "order.created, order.paid" });
    try {
      expect(expectOk(await custom.api("GET", "/api/v1/event-types"))).toEqual([
        { name: "order.created", description: "", example: {} },
        { name: "order.paid", description: "", example: {} },
      ]);
      const { key } = await custom.newTenant();
      const res = await custom.api("POST", "/api/v1/webhooks", { key, body: { url: "https://127.0.0.1/x", events: ["call.ended"] } });
      expectError(res, 400, "VALIDATION_ERROR", "events[0]");
      expect((await custom.api("POST", "/api/v1/webhooks", { key, body: { url: "https://127.0.0.1/x", events: ["order.*"] } })).status).toBe(201);
    } finally {
      await custom.stop();
    }
  });
});
