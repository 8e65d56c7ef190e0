/**
 * The path of a request as it was sent, from its URL: after "scheme://host", up to the query.
 * Read with string operations, not `new URL`: Bun hands a request whose `Host` header is empty
 * (or an HTTP/1.0 one without it) a URL of the path alone, and one with `Host: [` a URL that
 * `new URL` refuses.
 */
export function requestPath(url: string): string {
  const start = url.startsWith("/") ? 0 : url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

/**
 * Whether Elysia routed on the path the request asked for. It cuts the path out of the URL at a
 * fixed offset, which a host-less URL defeats: `/zzzzzz/api/v1/orgs` became `/api/v1/orgs`.
 */
export function routedOnRealPath(url: string, routedPath: string): boolean {
  return !url.startsWith("/") || requestPath(url) === routedPath;
}
