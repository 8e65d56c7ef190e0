import { describe, expect, test } from "bun:test";
import { finishOpenApi, ORG_SCOPED, wireSchema } from "../../src/http/openapi.ts";

describe("wireSchema", () => {
  const cases: { name: string; in: unknown; out: unknown }[] = [
    {
      name: "Elysia's t.Integer is an integer",
      in: { anyOf: [{ type: "string", format: "integer", default: 0 }, { type: "integer", description: "Endpoints" }] },
      out: { type: "integer", description: "Endpoints" },
    },
    {
      name: "t.Numeric keeps its bounds and default",
      in: { minimum: 1, default: 20, anyOf: [{ type: "string", format: "numeric", default: 0 }, { type: "number", minimum: 1, default: 20 }] },
      out: { type: "number", minimum: 1, default: 20 },
    },
    {
      name: "the union's own description wins over the branch's (an alias)",
      in: { description: "The same as `gracePeriodSeconds`", anyOf: [{ type: "string", format: "integer" }, { type: "integer", description: "Keep signing" }] },
      out: { type: "integer", description: "The same as `gracePeriodSeconds`" },
    },
    {
      name: "nested in a nullable union",
      in: { anyOf: [{ anyOf: [{ type: "string", format: "integer" }, { type: "integer" }] }, { type: "null" }] },
      out: { anyOf: [{ type: "integer" }, { type: "null" }] },
    },
    {
      name: "string literals become an enum",
      in: { anyOf: [{ const: "enabled", type: "string" }, { const: "disabled", type: "string" }] },
      out: { type: "string", enum: ["enabled", "disabled"] },
    },
    {
      name: "literals with null stay a union",
      in: { anyOf: [{ const: "manual", type: "string" }, { type: "null" }] },
      out: { anyOf: [{ const: "manual", type: "string" }, { type: "null" }] },
    },
    {
      name: "a string that is not a coercion stays a union",
      in: { anyOf: [{ type: "string" }, { type: "integer" }] },
      out: { anyOf: [{ type: "string" }, { type: "integer" }] },
    },
    {
      name: "examples are values, not schemas",
      in: { type: "object", examples: [{ anyOf: [{ type: "string", format: "integer" }, { type: "integer" }] }] },
      out: { type: "object", examples: [{ anyOf: [{ type: "string", format: "integer" }, { type: "integer" }] }] },
    },
    {
      name: "properties are walked",
      in: { type: "object", properties: { n: { anyOf: [{ type: "string", format: "integer" }, { type: "integer" }] } } },
      out: { type: "object", properties: { n: { type: "integer" } } },
    },
  ];
  for (const c of cases) test(c.name, () => expect(wireSchema(c.in)).toEqual(c.out));
});

describe("finishOpenApi", () => {
  const schema = { type: "object", properties: { a: { type: "string" } } };
  const generated = (op: Record<string, unknown>, method = "post", path = "/x/{id}") => ({
    openapi: "3.1.0",
    info: { title: "t", version: "1" },
    paths: { [path]: { [method]: op } },
  });
  const formats = { "application/json": { schema }, "multipart/form-data": { schema }, "text/plain": { schema } };
  const finish = (op: Record<string, unknown>, method = "post", optional = false) =>
    (finishOpenApi(generated(op, method), () => optional).paths as any)["/x/{id}"][method];

  const cases: { name: string; method?: string; optional?: boolean; op: Record<string, unknown>; expect: Record<string, unknown> }[] = [
    {
      name: "a request body is JSON only, and required",
      method: "patch",
      op: { requestBody: { required: true, content: formats } },
      expect: { requestBody: { required: true, content: { "application/json": { schema } } } },
    },
    {
      name: "an optional body is not required",
      method: "patch",
      optional: true,
      op: { requestBody: { required: true, content: formats } },
      expect: { requestBody: { required: false, content: { "application/json": { schema } } } },
    },
    {
      name: "every POST takes Idempotency-Key",
      op: { parameters: [{ in: "path", name: "id", required: true, schema: { type: "string" } }] },
      expect: { parameters: [{ in: "path", name: "id", required: true, schema: { type: "string" } }, expect.objectContaining({ name: "Idempotency-Key", in: "header", required: false })] },
    },
    {
      name: "an org-scoped route takes X-Org-Id (and the marker goes)",
      method: "get",
      op: { [ORG_SCOPED]: true, summary: "s" },
      expect: { summary: "s", parameters: [expect.objectContaining({ name: "X-Org-Id", in: "header", required: false })] },
    },
    {
      name: "a parameter's examples array becomes its example",
      method: "get",
      op: { parameters: [{ in: "path", name: "id", required: true, examples: ["wh_1"], schema: { type: "string" } }] },
      expect: { parameters: [{ in: "path", name: "id", required: true, example: "wh_1", schema: { type: "string" } }] },
    },
    {
      name: "responses: JSON only, a description, the schema's keywords back in the schema",
      method: "get",
      op: { responses: { "200": { content: formats }, "400": { description: "`VALIDATION_ERROR`: bad", examples: [{ success: false }], content: formats }, "204": {} } },
      expect: {
        responses: {
          "200": { description: "OK", content: { "application/json": { schema } } },
          "400": { description: "`VALIDATION_ERROR`: bad", content: { "application/json": { schema: { ...schema, examples: [{ success: false }] } } } },
          "204": { description: "No Content" },
        },
      },
    },
  ];
  for (const c of cases) test(c.name, () => expect(finish(c.op, c.method, c.optional)).toEqual(c.expect));

  test("the optional-body lookup gets the method and the document's path", () => {
    const asked: string[] = [];
    finishOpenApi(generated({ requestBody: { content: formats } }, "post", "/w/{id}/rotate"), (m, p) => (asked.push(`${m} ${p}`), true));
    expect(asked).toEqual(["POST /w/{id}/rotate"]);
  });

  test("the generated document is left as it was", () => {
    const doc = generated({ [ORG_SCOPED]: true, requestBody: { content: formats } });
    const before = JSON.stringify(doc);
    finishOpenApi(doc, () => false);
    expect(JSON.stringify(doc)).toBe(before);
  });
});
