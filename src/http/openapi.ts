/**
 * Finishes the OpenAPI 3.1 document @elysiajs/swagger generates, for what the plugin cannot be
 * told: the server reads JSON bodies only, an optional body is not required, every POST takes
 * Idempotency-Key, org-scoped routes take X-Org-Id, keyed routes answer with rate-limit headers,
 * and Elysia's coercion unions are not the wire format. Pure: returns a new document, the plugin's cached one stays as it was.
 */

import { KEY_CHARACTERS, MAX_KEY_LENGTH } from "../api/idempotency/service.ts";

type Json = Record<string, unknown>;

/** Set in a route's `detail` (by the auth plugin's `scope` macro): the route acts inside one org. */
export const ORG_SCOPED = "x-org-scoped";

const JSON_TYPE = "application/json";
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

const IDEMPOTENCY_KEY = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "The same key with the same request within 24 h returns the first response again (`Idempotent-Replayed: true`); with another request, 422 IDEMPOTENCY_KEY_REUSED; while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS; a malformed key is a 400.",
  schema: { type: "string", minLength: 1, maxLength: MAX_KEY_LENGTH, pattern: KEY_CHARACTERS.source },
};
const ORG_ID = {
  name: "X-Org-Id",
  in: "header",
  required: false,
  description: "Admin key only: the org to act in (an org's own key always acts in its org).",
  schema: { type: "string" },
};

/** On every answer of a keyed route while the per-key rate limit is on (`WEBHOOKD_RATE_LIMIT`). */
const RATE_LIMIT_HEADERS = {
  "RateLimit-Limit": { description: "The key's burst: its token bucket's size (2x `WEBHOOKD_RATE_LIMIT` per second); absent when the limit is off.", schema: { type: "integer" } },
  "RateLimit-Remaining": { description: "Requests left in the key's bucket now.", schema: { type: "integer" } },
  "RateLimit-Reset": { description: "Seconds until the bucket is full again (after a 429: until it has a request again).", schema: { type: "integer" } },
};
const RETRY_AFTER = {
  "Retry-After": { description: "Seconds to wait before trying again (the key's bucket, or the org's publish rate).", schema: { type: "integer" } },
};

/** The headers a response of a keyed route (one that may answer 429) carries. */
function responseHeaders(status: string, keyed: boolean): Json | undefined {
  if (!keyed) return undefined;
  if (status === "429") return { ...RETRY_AFTER, ...RATE_LIMIT_HEADERS };
  return status.startsWith("2") ? RATE_LIMIT_HEADERS : undefined;
}

const STATUS_TEXT: Record<string, string> = {
  "200": "OK",
  "201": "Created",
  "202": "Accepted",
  "204": "No Content",
};

/** An operation's facts the generated document lost: whether the route's body schema is t.Optional. */
export type OptionalBody = (method: string, path: string) => boolean;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Elysia's `t.Integer` / `t.Numeric` also accept a numeric string: `anyOf: [{type: "string", format: "integer"}, {type: "integer"}]`. */
function numericBranch(anyOf: unknown[]): Json | undefined {
  if (anyOf.length !== 2) return undefined;
  const [coerced, number] = anyOf;
  if (!isObject(coerced) || !isObject(number)) return undefined;
  const isCoercion = coerced.type === "string" && (coerced.format === "integer" || coerced.format === "numeric");
  return isCoercion && (number.type === "integer" || number.type === "number") ? number : undefined;
}

/** `anyOf` of string constants (TypeBox's union of literals): an `enum`, which Swagger UI offers as a list. */
function stringEnum(anyOf: unknown[]): string[] | undefined {
  const values = anyOf.map((b) => (isObject(b) && b.type === "string" && typeof b.const === "string" && Object.keys(b).length === 2 ? b.const : undefined));
  return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
}

/** A JSON Schema as clients see it on the wire. */
export function wireSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(wireSchema);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    // `examples`, `const` and `default` hold values, not schemas.
    out[key] = key === "examples" || key === "const" || key === "default" || key === "example" ? value : wireSchema(value);
  }
  if (!Array.isArray(out.anyOf)) return out;
  const { anyOf, ...rest } = out;
  const number = numericBranch(anyOf);
  // What the union itself says (an alias's description, a default) wins over the branch's own.
  if (number) return { ...number, ...rest };
  const values = stringEnum(anyOf);
  if (values) return { ...rest, type: "string", enum: values };
  return out;
}

/** The JSON media type alone (the server answers others with 415), `keywords` put back into its schema. */
function jsonOnly(content: unknown, keywords: Json = {}): Json | undefined {
  if (!isObject(content) || !isObject(content[JSON_TYPE])) return undefined;
  const media = content[JSON_TYPE] as Json;
  return { [JSON_TYPE]: { ...media, schema: wireSchema({ ...(media.schema as Json), ...keywords }) } };
}

/** A parameter's `examples` is a map of Example Objects in OpenAPI; TypeBox's array becomes `example`. */
function parameter(p: unknown): unknown {
  if (!isObject(p)) return p;
  const { examples, schema, ...rest } = p;
  return { ...rest, schema: wireSchema(schema), ...(Array.isArray(examples) && examples.length > 0 ? { example: examples[0] } : {}) };
}

function operation(method: string, path: string, op: Json, optionalBody: OptionalBody): Json {
  const { [ORG_SCOPED]: orgScoped, parameters, requestBody, responses, ...rest } = op;
  const params = [...(Array.isArray(parameters) ? parameters.map(parameter) : [])];
  if (orgScoped === true) params.push(ORG_ID);
  if (method === "post") params.push(IDEMPOTENCY_KEY);

  const out: Json = { ...rest, ...(params.length > 0 ? { parameters: params } : {}) };
  if (isObject(requestBody)) {
    out.requestBody = { ...requestBody, required: !optionalBody(method.toUpperCase(), path), content: jsonOnly(requestBody.content) ?? {} };
  }
  if (isObject(responses)) {
    const keyed = "429" in responses;
    out.responses = Object.fromEntries(
      Object.entries(responses).map(([status, r]) => {
        // The plugin lifts a response schema's own keywords (its `examples`) out of the schema
        // into the Response Object, where OpenAPI does not allow them: they go back.
        const { content, description, ...keywords } = isObject(r) ? r : {};
        const json = jsonOnly(content, keywords);
        const headers = responseHeaders(status, keyed);
        return [
          status,
          { description: typeof description === "string" ? description : (STATUS_TEXT[status] ?? status), ...(headers ? { headers } : {}), ...(json ? { content: json } : {}) },
        ];
      }),
    );
  }
  return out;
}

export function finishOpenApi(doc: Json, optionalBody: OptionalBody): Json {
  const paths = isObject(doc.paths) ? doc.paths : {};
  return {
    ...doc,
    paths: Object.fromEntries(
      Object.entries(paths).map(([path, item]) => [
        path,
        Object.fromEntries(
          Object.entries(isObject(item) ? item : {}).map(([method, op]) =>
            METHODS.includes(method) && isObject(op) ? [method, operation(method, path, op, optionalBody)] : [method, op],
          ),
        ),
      ]),
    ),
  };
}
