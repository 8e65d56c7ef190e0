import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { Validator } from "@seriousme/openapi-schema-validator";
import { docsPlugin } from "../../src/http/docs.ts";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { startReceiver } from "../helpers/receiver.ts";
import { PLACEHOLDER_URL, PROBE_NOTE } from "../../src/api/webhooks/schemas.ts";

// A route registered before the plugin and one after: the spec must see both.
const app = new Elysia()
  .post("/v1/webhooks", ({ body }) => body, {
    body: t.Object({ url: t.String({ format: "uri" }), secret: t.Optional(t.String()) }),
    detail: { tags: ["webhooks"] },
  })
  .use(docsPlugin({ version: "9.9.9", title: "webhookd <test>" }))
  .get("/health", () => "ok", { detail: { tags: ["health"] } })
  .listen(0);
const base = `http://localhost:${app.server!.port}`;

afterAll(() => app.stop(true));

// Just the parts of the OpenAPI document asserted on below.
interface Operation {
  tags?: string[];
  requestBody?: {
    content: Record<string, { schema: { required?: string[]; properties: Record<string, unknown> } }>;
  };
}
interface Spec {
  openapi: string;
  info: { title: string; version: string };
  components: { securitySchemes: Record<string, unknown> };
  security: unknown[];
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const ASSETS = [
  { path: "/docs/assets/swagger-ui.css", type: "text/css", minBytes: 50_000 },
  { path: "/docs/assets/swagger-ui-bundle.js", type: "text/javascript", minBytes: 500_000 },
];

describe("GET /docs", () => {
  // /docs twice: a static Response must survive being served more than once.
  for (const [i, path] of ["/docs", "/docs/", "/docs"].entries()) {
    test(`${path} is our self-contained page (#${i + 1})`, async () => {
      const res = await fetch(base + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/html");
      const html = await res.text();

      // The plugin's own page would load unpkg.com; ours must name no other host.
      expect(html).not.toMatch(/https?:\/\//);
      expect(html).not.toMatch(/src="\/\/|href="\/\//);
      const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(refs.filter((r) => r !== "data:,").sort()).toEqual(ASSETS.map((a) => a.path).sort());

      expect(html).toContain('"url":"/docs/json"');
      expect(html).toContain('"persistAuthorization":true');
      expect(html).toContain('"validatorUrl":null');
      expect(html).toContain("<title>webhookd &#60;test&#62;</title>");
    });
  }
});

describe("GET /docs/assets/*", () => {
  for (const asset of ASSETS) {
    test(asset.path, async () => {
      const res = await fetch(base + asset.path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith(asset.type);
      expect(res.headers.get("cache-control")).toBe("public, max-age=86400");
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(asset.minBytes);
    });
  }

  test("the bundle exposes SwaggerUIBundle", async () => {
    const js = await (await fetch(`${base}/docs/assets/swagger-ui-bundle.js`)).text();
    expect(js).toContain("SwaggerUIBundle");
  });

  test("unknown asset is 404", async () => {
    expect((await fetch(`${base}/docs/assets/swagger-ui-standalone-preset.js`)).status).toBe(404);
  });
});

describe("GET /docs/json", () => {
  test("is the OpenAPI 3 document for the app", async () => {
    const res = await fetch(`${base}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Spec;

    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: "webhookd <test>", version: "9.9.9" });
    expect(doc.components.securitySchemes).toEqual({
      apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      bearer: { type: "http", scheme: "bearer" },
    });
    expect(doc.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
    expect(doc.tags.map((tag) => tag.name)).toEqual([
      "webhooks",
      "events",
      "deliveries",
      "event-types",
      "orgs",
      "admin",
      "portal",
      "health",
      "seed 003: /v1/webhook_endpoints",
      "seed 004: /v1/backend/webhooks",
    ]);

    const create = doc.paths["/v1/webhooks"]?.post;
    expect(create?.tags).toEqual(["webhooks"]);
    const schema = create?.requestBody?.content["application/json"]?.schema;
    expect(schema?.required).toEqual(["url"]);
    expect(schema?.properties.url).toMatchObject({ type: "string", format: "uri" });
    expect(doc.paths["/health"]?.get?.tags).toEqual(["health"]);

    // The docs routes document nothing about the API.
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/docs"))).toEqual([]);
  });
});

describe("GET /docs/json of webhookd itself", () => {
  type Op = {
    parameters?: { name: string; in: string; required?: boolean }[];
    requestBody?: { required: boolean; content: Record<string, { schema: { examples?: unknown[] } }> };
    responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, any> }> }>;
    tags?: string[];
    description?: string;
  };
  let server: TestServer;
  let doc: { openapi: string; info: { description: string }; paths: Record<string, Record<string, Op>> };
  const ops = () =>
    Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
  const op = (method: string, path: string) => doc.paths[path]![method.toLowerCase()]!;
  const errorText = (o: Op, status: string) => o.responses[status]?.description ?? "";

  beforeAll(async () => {
    server = await startTestServer({ WEBHOOKD_PROBE: "true" });
    doc = (await (await fetch(`${server.url}/docs/json`)).json()) as typeof doc;
  });
  afterAll(() => server.stop());

  test("its description says how to use the page", () => {
    expect(doc.info.description).toContain("Click **Authorize**");
    expect(doc.info.description).toContain("X-Org-Id");
    expect(doc.info.description).toContain("placeholder");
  });

  test("a standard validator accepts it as OpenAPI 3.1", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test("bodies are JSON only; an optional body is not required", () => {
    const types = new Set(ops().flatMap(({ op }) => [op.requestBody?.content, ...Object.values(op.responses).map((r) => r.content)].flatMap((c) => Object.keys(c ?? {}))));
    expect([...types]).toEqual(["application/json"]);
    const optional = ops().filter(({ op }) => op.requestBody && !op.requestBody.required).map(({ method, path }) => `${method} ${path}`);
    expect(optional.sort()).toEqual([
      "POST /api/v1/portal/sessions",
      "POST /api/v1/webhooks/test",
      "POST /api/v1/webhooks/{id}/rotate-secret",
      "POST /v1/backend/webhooks/test",
      "POST /v1/webhook_endpoints/{id}/rotate_secret",
    ]);
  });

  test("Idempotency-Key on every POST, X-Org-Id on the routes that act in an org", () => {
    const headers = (o: Op) => (o.parameters ?? []).filter((p) => p.in === "header").map((p) => p.name);
    for (const { method, path, op: o } of ops()) {
      expect({ route: `${method} ${path}`, idempotency: headers(o).includes("Idempotency-Key") }).toEqual({ route: `${method} ${path}`, idempotency: method === "POST" });
      const inOrg = path.startsWith("/api/v1/webhooks") || path.startsWith("/api/v1/portal/") || path === "/api/v1/deliveries" || path.startsWith("/api/v1/events/") || path === "/api/v1/events" || path.startsWith("/v1/");
      expect({ route: `${method} ${path}`, orgId: headers(o).includes("X-Org-Id") }).toEqual({ route: `${method} ${path}`, orgId: inOrg });
    }
    // The server's rule for the key, and the 400 a malformed one gets, even on a POST without a body.
    const rotate = op("POST", "/api/v1/admin/keys/rotate");
    expect(rotate.parameters!.find((p) => p.name === "Idempotency-Key")).toMatchObject({ schema: { minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" } });
    expect(errorText(rotate, "400")).toContain("VALIDATION_ERROR");
  });

  test("each route lists the errors it can answer with, by code", () => {
    const create = op("POST", "/api/v1/webhooks");
    expect(errorText(create, "422")).toContain("MAX_ENDPOINTS");
    expect(errorText(create, "400")).toContain("URL_PROBE_FAILED");
    expect(errorText(create, "400")).toContain("URL_NOT_ALLOWED");
    expect(errorText(create, "409")).toContain("IDEMPOTENCY_IN_PROGRESS");
    expect(errorText(create, "503")).toContain("STORAGE_UNAVAILABLE");
    expect(Object.keys(create.responses)).toEqual(["201", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"]);
    // A read has no body to refuse and no Idempotency-Key.
    expect(Object.keys(op("GET", "/api/v1/webhooks/{id}").responses)).toEqual(["200", "401", "403", "404", "429"]);
    expect(errorText(op("POST", "/api/v1/webhooks/{id}/test"), "422")).toContain("ENDPOINT_DISABLED");
    expect(errorText(op("POST", "/api/v1/admin/keys/rotate"), "409")).toContain("ADMIN_KEY_CONFIGURED");
    expect(errorText(op("POST", "/v1/webhook_endpoints"), "422")).toContain("MAX_ENDPOINTS");
  });

  test("error examples are errors, in each dialect's shape", () => {
    const example = (o: Op, status: string) => o.responses[status]!.content!["application/json"]!.schema.examples?.[0];
    expect(example(op("POST", "/api/v1/webhooks"), "422")).toEqual({ success: false, error: { code: "MAX_ENDPOINTS", message: expect.any(String) } });
    expect(example(op("POST", "/v1/backend/webhooks"), "400")).toEqual({ error: { code: "URL_PROBE_FAILED", message: expect.any(String) } });
    // A message that fits every route with a body, not one naming another route's field.
    expect(example(op("POST", "/api/v1/events"), "400")).toEqual({ success: false, error: { code: "VALIDATION_ERROR", message: "The request body is not valid JSON." } });
    expect(op("GET", "/v1/webhook_endpoints").responses["404"]!.content!["application/json"]!.schema.properties.success).toBeUndefined();
  });

  test("answers show plausible values rather than \"string\", and /readyz its 503", () => {
    const data = (o: Op, status: string) => o.responses[status]!.content!["application/json"]!.schema.properties.data.properties;
    expect(data(op("POST", "/api/v1/webhooks"), "201").url.examples).toEqual(["https://your-receiver.example/webhook"]);
    expect(data(op("GET", "/v1/backend/webhooks/{id}"), "200").event_types.examples).toEqual([["call.ended"]]);
    expect(op("GET", "/v1/webhook_endpoints/{id}").responses["200"]!.content!["application/json"]!.schema.properties.description.examples).toEqual(["Production webhook"]);
    expect(errorText(op("GET", "/readyz"), "503")).toContain("NOT_READY");
  });

  test("no field of a success answer shows a bare \"string\": each string has an example, a format or fixed values", () => {
    const bare: string[] = [];
    const walk = (schema: any, at: string): void => {
      if (!schema || typeof schema !== "object") return;
      for (const branch of schema.anyOf ?? []) walk({ ...branch, examples: branch.examples ?? schema.examples }, at);
      if (schema.type === "string" && !(schema.examples || schema.example || schema.const !== undefined || schema.enum || schema.format)) bare.push(at);
      for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${at}.${name}`);
      // An array's own examples show its items.
      if (schema.items && !schema.examples) walk(schema.items, `${at}[]`);
    };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, o] of Object.entries(methods)) {
        for (const [status, r] of Object.entries(o.responses ?? {})) {
          if (status.startsWith("2")) walk((r as any).content?.["application/json"]?.schema, `${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    expect(bare).toEqual([]);
  });

  test("every path parameter says where to get its value", () => {
    const bare = ops().flatMap(({ method, path, op: o }) =>
      (o.parameters ?? []).filter((p) => p.in === "path" && !(p as { description?: string }).description).map((p) => `${method} ${path} ${p.name}`),
    );
    expect(bare).toEqual([]);
  });

  test("counters are integers, not Elysia's numeric strings", () => {
    const published = op("POST", "/api/v1/events").responses["202"]!.content!["application/json"]!.schema.properties.data.properties;
    expect(published.deliveries).toMatchObject({ type: "integer" });
    const endpoint = op("GET", "/api/v1/webhooks/{id}").responses["200"]!.content!["application/json"]!.schema.properties.data.properties;
    expect(endpoint.consecutiveFailures).toEqual({ type: "integer" });
  });

  test("every request body has an example, and its event types are catalog names", async () => {
    const catalog = new Set(((await server.api("GET", "/api/v1/event-types")).body.data as { name: string }[]).map((e) => e.name));
    const named: string[] = [];
    const collect = (v: unknown, key = ""): void => {
      if (Array.isArray(v)) v.forEach((x) => collect(x, key));
      else if (typeof v === "object" && v !== null) Object.entries(v).forEach(([k, x]) => collect(x, k));
      else if (typeof v === "string" && ["event", "events", "event_types", "enabled_events"].includes(key)) named.push(v);
    };
    for (const { method, path, op: o } of ops()) {
      if (!o.requestBody) continue;
      const examples = o.requestBody.content["application/json"]!.schema.examples;
      expect({ route: `${method} ${path}`, hasExample: Array.isArray(examples) && examples.length > 0 }).toEqual({ route: `${method} ${path}`, hasExample: true });
      collect(examples![0]);
    }
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !catalog.has(name))).toEqual([]);
  });

  // What Try it out sends with the defaults, the probe on as in a fresh `webhookd serve`: every
  // example is accepted, but for the creates' placeholder URL, which the probe refuses (as they say).
  test("every request body example is accepted, or refused only for its placeholder URL", async () => {
    const receiver = startReceiver();
    try {
      for (const { method, path, op: o } of ops()) {
        if (!o.requestBody) continue;
        const { orgId, key } = await server.newTenant();
        const endpoint = await server.api("POST", "/api/v1/webhooks", { key, body: { url: receiver.url } });
        const url = path.replace("{id}", endpoint.body.data.id).replace("{orgId}", orgId);
        const admin = o.tags?.includes("orgs") || o.tags?.includes("admin");
        const example = o.requestBody.content["application/json"]!.schema.examples![0] as { url?: string };
        const res = await server.api(method, url, { key: admin ? ADMIN_KEY : key, body: example });
        const expected = example.url === PLACEHOLDER_URL ? { status: 400, code: "URL_PROBE_FAILED" } : { status: Number(Object.keys(o.responses)[0]), code: undefined };
        expect({ route: `${method} ${path}`, status: res.status, code: res.body?.error?.code }).toEqual({ route: `${method} ${path}`, ...expected });
        if (example.url === PLACEHOLDER_URL) expect(o.description).toContain(PROBE_NOTE);
      }
    } finally {
      receiver.stop();
    }
  });
});
