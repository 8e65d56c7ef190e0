/**
 * Which methods the app answers on a path: for a 405 (with `Allow`) instead of a 404 when the
 * path exists but not with the method asked. Built from the registered routes' patterns.
 */
export interface RouteSpec {
  method: string;
  path: string;
}

/** Elysia path syntax: `:name` is one segment, a trailing `*` is the rest. */
function patternOf(path: string): RegExp {
  const body = path
    .split("/")
    .map((segment) => (segment === "*" ? ".*" : segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`);
}

export function routeMethods(routes: readonly RouteSpec[]): (pathname: string) => string[] {
  const patterns = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, path } of routes) {
    if (method === "ALL" || method === "WS") continue;
    const entry = patterns.get(path) ?? { pattern: patternOf(path), methods: new Set<string>() };
    entry.methods.add(method);
    patterns.set(path, entry);
  }
  return (pathname) => {
    const methods = new Set<string>();
    for (const { pattern, methods: own } of patterns.values()) if (pattern.test(pathname)) for (const m of own) methods.add(m);
    return [...methods].sort();
  };
}
