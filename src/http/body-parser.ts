/**
 * Reads JSON request bodies with a size cap (413 before buffering more than the cap), strict
 * UTF-8, and a 415 for any other content type, all in the error envelope.
 */
import { Elysia } from "elysia";
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from "../lib/errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length"));
  if (declared > limit) throw new PayloadTooLargeError(`The request body is larger than ${limit} bytes.`);
  if (!request.body) return new Uint8Array();
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

function isJson(contentType: string): boolean {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return type === "" || type === "application/json" || type.endsWith("+json");
}

export function jsonBodyParser(limitFor: (path: string) => number) {
  return new Elysia({ name: "webhookd.body-parser" }).onParse({ as: "global" }, async ({ request, contentType }) => {
    const bytes = await readCapped(request, limitFor(new URL(request.url).pathname));
    if (bytes.byteLength === 0) return null;
    if (!isJson(contentType ?? "")) throw new UnsupportedMediaTypeError();
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new ValidationError("The request body is not valid UTF-8.");
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ValidationError("The request body is not valid JSON.");
    }
  });
}
