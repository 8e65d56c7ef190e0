import { afterAll, describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { docsPlugin } from "../../src/http/docs.ts";

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
      "health",
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
