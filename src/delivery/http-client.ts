/**
 * One delivery attempt: a single POST, never redirected, bounded in time and in response size,
 * and sent to the IP address the SSRF guard vetted (so a second DNS lookup cannot point it
 * somewhere else). Every outcome, including failures, comes back as an AttemptResult; send()
 * does not throw.
 */
import { isIP } from "node:net";
import { getCACertificates } from "node:tls";
import { LRUCache } from "lru-cache";
import { systemClock } from "../lib/clock.ts";
import { createDeadlineSignals, type DeadlineSignals } from "./deadline-signals.ts";
import { MAX_LOCATION_CHARS, MAX_RESPONSE_BODY_BYTES, storedHeaders } from "./stored-response.ts";

export type PickVerdict =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; code: "blocked_address" | "dns_error"; message: string };

/**
 * Returns the verdict directly when it needs no lookup, a Promise when it does. The URL is shared
 * by every attempt on that URL string and must not be mutated.
 */
export type PickTarget = (url: URL) => PickVerdict | Promise<PickVerdict>;

export type AttemptErrorCode =
  | "timeout"
  | "dns_error"
  | "connection_refused"
  | "connection_reset"
  | "tls_error"
  | "blocked_address"
  | "redirect"
  | "http_status"
  | "network_error"
  | "cancelled";

export interface AttemptRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Asked after the address lookup, right before connecting: false sends nothing ("cancelled"). */
  stillWanted?: () => boolean | Promise<boolean>;
}

export interface AttemptResult {
  /** The receiver answered 2xx and the response was read without error. */
  ok: boolean;
  /** null when no response head arrived. */
  statusCode: number | null;
  durationMs: number;
  /** Lower-cased names, capped as storedHeaders() says: what the delivery log keeps. */
  responseHeaders: Record<string, string> | null;
  /** Read before the cap, so a receiver's many headers cannot hide it from the retry policy. */
  retryAfter: string | null;
  /** The request's headers as handed to fetch (Bun adds its transport's own and the length); null when nothing was sent (blocked, no address). */
  requestHeaders: Record<string, string> | null;
  /** At most maxResponseBytes, decoded as UTF-8 with invalid sequences replaced. */
  responseBody: string | null;
  error: { code: AttemptErrorCode; message: string } | null;
  /** The IP actually connected to. */
  address: string | null;
}

export interface HttpClientOptions {
  pickTarget: PickTarget;
  /** Extra trusted PEM certificates (WEBHOOKD_CA_FILE), on top of the default trust store. */
  caCerts?: string[];
  maxResponseBytes?: number;
  userAgent: string;
  /** Where each attempt's timeout signal comes from; by default shared per 10 ms of deadline. */
  deadlines?: DeadlineSignals;
}

export interface HttpClient {
  send(req: AttemptRequest): Promise<AttemptResult>;
}

// Bun 1.4.5 fetch error codes, found by experiment against loopback servers.
const CONNECTION_REFUSED = new Set(["ECONNREFUSED"]);
// A peer that closes or resets the socket before the response is complete.
const CONNECTION_RESET = new Set(["ECONNRESET", "EPIPE"]);
// OpenSSL's verification errors (DEPTH_ZERO_SELF_SIGNED_CERT, UNABLE_TO_VERIFY_LEAF_SIGNATURE,
// CERT_HAS_EXPIRED, ...), Node-style ERR_TLS_* / ERR_SSL_* (ERR_TLS_CERT_ALTNAME_INVALID for a
// name mismatch), and EPROTO, a handshake with a peer that does not speak TLS.
const TLS_ERROR = /CERT|CRL|TLS|SSL|^UNABLE_TO_|^(INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH|EPROTO)$/;
// Bun's messages name the pinned URL (not the one the user configured) and append advice for
// developers; neither belongs in a delivery log.
const BUN_NOISE = / fetching "[^"]*"\.?|\s*For more information, pass `verbose: true` in the second argument to fetch\(\)/g;

/** What an attempt needs from its URL string, parsed once and shared by every attempt on it. */
interface ParsedTarget {
  /** Read by pickTarget and copied by pinnedUrl, never mutated. */
  url: URL;
  protocol: string;
  /** url.host carries the port only when it is not the scheme's default, as Host should. */
  host: string;
  tls: { serverName: string; ca: string[] | undefined } | undefined;
  /** Pinned URL strings by vetted address. */
  pinned: Map<string, string>;
}

// Endpoint URLs in active use; past this, the least recently delivered-to is parsed again.
const MAX_PARSED_URLS = 10_000;
// A name normally answers with one or a few addresses; a name rotating through more just rebuilds.
const MAX_PINNED_PER_URL = 8;

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const maxResponseBytes = opts.maxResponseBytes ?? MAX_RESPONSE_BODY_BYTES;
  // A `ca` option replaces Bun's trust store instead of adding to it, so keep the defaults in.
  // (Costs some CPU per request, so it is only passed when there are extra certificates.)
  const ca = opts.caCerts?.length ? [...getCACertificates("default"), ...opts.caCerts] : undefined;
  const parsed = new LRUCache<string, ParsedTarget>({ max: MAX_PARSED_URLS });
  const deadlines = opts.deadlines ?? createDeadlineSignals({ clock: systemClock });

  /** Throws (a TypeError) for an unparseable URL, which is then reported like before. */
  function parse(raw: string): ParsedTarget {
    let target = parsed.get(raw);
    if (target === undefined) {
      target = parseTarget(raw, ca);
      parsed.set(raw, target);
    }
    return target;
  }

  async function send(req: AttemptRequest): Promise<AttemptResult> {
    const started = performance.now();
    const signal = deadlines.after(req.timeoutMs);
    const seen: Omit<AttemptResult, "ok" | "durationMs" | "error"> = {
      statusCode: null,
      responseHeaders: null,
      retryAfter: null,
      responseBody: null,
      requestHeaders: null,
      address: null,
    };
    const finish = (error: AttemptResult["error"]): AttemptResult => ({
      ...seen,
      ok: error === null,
      durationMs: performance.now() - started,
      error,
    });

    try {
      const target = parse(req.url);
      if (target.protocol !== "http:" && target.protocol !== "https:") {
        return finish({ code: "blocked_address", message: `unsupported URL scheme ${target.protocol}` });
      }
      const picked = opts.pickTarget(target.url);
      // Only a lookup needs racing against the timeout; a verdict known at once skips the listener.
      const lookedUp = picked instanceof Promise;
      const verdict = lookedUp ? await untilAborted(picked, signal) : picked;
      if (!verdict.ok) return finish({ code: verdict.code, message: verdict.message });
      // The lookup took time: an endpoint deleted or disabled meanwhile gets no request.
      if (lookedUp && req.stillWanted && !(await req.stillWanted())) {
        return finish({ code: "cancelled", message: "the endpoint was disabled or deleted before the request was sent" });
      }
      const pinned = pinnedUrl(target, verdict.address);
      if (!pinned) return finish({ code: "blocked_address", message: `not an IP address: ${verdict.address}` });
      seen.address = verdict.address;

      const headers = requestHeaders(req.headers, target.host, opts.userAgent);
      seen.requestHeaders = headers;
      const response = await fetch(pinned, {
        method: "POST",
        headers,
        body: req.body,
        redirect: "manual",
        signal,
        // An environment proxy would make the connection (and the address recorded) not ours.
        proxy: false,
        tls: target.tls,
      });
      seen.statusCode = response.status;
      seen.responseHeaders = storedHeaders(response.headers);
      seen.retryAfter = response.headers.get("retry-after");
      seen.responseBody = knownToFit(response.headers, maxResponseBytes)
        ? await response.text()
        : await readCapped(response.body, maxResponseBytes);
      return finish(statusError(response));
    } catch (error) {
      if (signal.aborted) {
        return finish({ code: "timeout", message: `no complete response within ${req.timeoutMs} ms` });
      }
      return finish(classify(error));
    }
  }

  return { send };
}

function parseTarget(raw: string, ca: string[] | undefined): ParsedTarget {
  const url = new URL(raw);
  return {
    url,
    protocol: url.protocol,
    host: url.host,
    // Verify the certificate against the name the user configured, not the pinned IP.
    tls: url.protocol === "https:" ? { serverName: unbracketed(url.hostname), ca } : undefined,
    pinned: new Map(),
  };
}

/** The configured URL with its host swapped for the vetted address; a string, so nothing shared is mutated. */
function pinnedUrl(target: ParsedTarget, address: string): string | null {
  const cached = target.pinned.get(address);
  if (cached !== undefined) return cached;
  const version = isIP(address);
  if (version === 0) return null;
  const pinned = new URL(target.url);
  // An unbracketed IPv6 hostname is silently ignored by the URL setter, which would keep the
  // original name and let fetch resolve it again.
  pinned.hostname = version === 6 ? `[${address}]` : address;
  if (target.pinned.size >= MAX_PINNED_PER_URL) target.pinned.clear();
  target.pinned.set(address, pinned.href);
  return pinned.href;
}

/** A plain object, not a Headers instance: this runs on every attempt and Headers is costly. */
function requestHeaders(callerHeaders: Record<string, string>, host: string, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const name in callerHeaders) headers[name.toLowerCase()] = callerHeaders[name]!;
  headers["user-agent"] = userAgent;
  headers.host = host;
  return headers;
}

function unbracketed(hostname: string): string {
  return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
}

/** Rejects with the abort reason if the signal fires first; the timeout also bounds pickTarget. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Whether the body can be read whole, skipping the stream reader: only a plain Content-Length
 * within the cap bounds it. With Transfer-Encoding the length is ignored (chunked framing), and
 * with Content-Encoding it counts the compressed bytes that fetch inflates (a gzip bomb).
 */
function knownToFit(headers: Headers, max: number): boolean {
  const length = headers.get("content-length");
  if (length === null || headers.has("transfer-encoding") || headers.has("content-encoding")) return false;
  return /^\d+$/.test(length) && Number(length) <= max;
}

/** Reads at most `max` bytes, then cancels the stream so an endless or huge body costs nothing more. */
async function readCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      const kept = value.subarray(0, max - size);
      chunks.push(kept);
      size += kept.length;
    }
  } finally {
    // Cancelling a finished or errored stream is harmless; its rejection carries nothing new.
    reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

function statusError(response: Response): AttemptResult["error"] {
  const { status } = response;
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) {
    const location = response.headers.get("location")?.slice(0, MAX_LOCATION_CHARS);
    return { code: "redirect", message: `HTTP ${status} redirect to ${location ?? "(no Location)"}, not followed` };
  }
  return { code: "http_status", message: `HTTP ${status}` };
}

function classify(error: unknown): NonNullable<AttemptResult["error"]> {
  const code = errorCode(error);
  const raw = error instanceof Error ? error.message.replace(BUN_NOISE, "").trim() : String(error);
  const message = code && !raw.startsWith(code) ? `${code}: ${raw}` : raw;
  if (code && CONNECTION_REFUSED.has(code)) return { code: "connection_refused", message };
  if (code && CONNECTION_RESET.has(code)) return { code: "connection_reset", message };
  if (code && TLS_ERROR.test(code)) return { code: "tls_error", message };
  return { code: "network_error", message };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}
