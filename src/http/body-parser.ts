/**
 * Reads JSON request bodies with a size cap (413 before buffering more than the cap), strict
 * UTF-8, a nesting cap, numbers that survive as doubles, and a 415 for any other content type,
 * all in the error envelope. The few routes a browser's HTML form posts to (`formPaths`: the
 * portal's link page) also take a URL-encoded form, under the same cap.
 */
import { Elysia } from "elysia";
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from "../lib/errors.ts";
import { requestPath } from "./request-path.ts";
import { firstInexactNumber, pathOfNumber } from "./json-numbers.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Deeper JSON is refused before it is parsed: recursive code downstream (the validator's error
 * report, JSON.stringify for idempotency hashes and stored events) would overflow the stack on it.
 */
export const MAX_JSON_DEPTH = 128;

/** Whether `[`/`{` nest deeper than `max` anywhere outside strings. Linear, no allocation. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length"));
  if (declared > limit) throw new PayloadTooLargeError(`The request body is larger than ${limit} bytes.`);
  if (!request.body) return new Uint8Array();
  // A declared length within the cap is enforced by the HTTP server itself (it never reads past
  // Content-Length), so the body can be taken whole: much cheaper than pulling it chunk by chunk.
  if (request.headers.has("content-length")) return new Uint8Array(await request.arrayBuffer());
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new PayloadTooLargeError(`The request body is larger than ${limit} bytes.`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

const mediaType = (contentType: string) => contentType.split(";")[0]!.trim().toLowerCase();

function isJson(contentType: string): boolean {
  const type = mediaType(contentType);
  return type === "" || type === "application/json" || type.endsWith("+json");
}

export function jsonBodyParser(limitFor: (path: string) => number, formPaths: ReadonlySet<string> = new Set()) {
  return new Elysia({ name: "webhookd.body-parser" }).onParse({ as: "global" }, async ({ request, contentType }) => {
    const path = requestPath(request.url);
    const bytes = await readCapped(request, limitFor(path));
    if (bytes.byteLength === 0) return null;
    if (formPaths.has(path) && mediaType(contentType ?? "") === "application/x-www-form-urlencoded") {
      return Object.fromEntries(new URLSearchParams(new TextDecoder().decode(bytes)));
    }
    if (!isJson(contentType ?? "")) throw new UnsupportedMediaTypeError();
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new ValidationError("The request body is not valid UTF-8.");
    }
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      throw new ValidationError(`The request body nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels.`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ValidationError("The request body is not valid JSON.");
    }
    // Every body this API takes is an object; Elysia would quietly coerce "x", 1 or [] into {}
    // where a body is optional, so anything else is refused here.
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new ValidationError("The request body must be a JSON object.");
    }
    const inexact = firstInexactNumber(text);
    if (inexact !== null) {
      const path = pathOfNumber(parsed, Number(inexact)) ?? "body";
      throw new ValidationError(
        `${path}: the number ${inexact} cannot be delivered exactly (receivers read JSON numbers as 64-bit floats); send it as a string.`,
        path,
      );
    }
    return parsed;
  });
}
