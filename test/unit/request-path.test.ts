import { describe, expect, test } from "bun:test";
import { requestPath, routedOnRealPath } from "../../src/http/request-path.ts";

describe("requestPath", () => {
  test.each([
    ["http://127.0.0.1:8080/api/v1/orgs", "/api/v1/orgs"],
    ["http://x/zz/api/v1/orgs?limit=1", "/zz/api/v1/orgs"],
    ["http://[/orgs", "/orgs"],
    ["http://x", "/"],
    ["/api/v1/orgs?x=/y", "/api/v1/orgs"],
    ["/", "/"],
  ])("%s -> %s", (url, path) => {
    expect(requestPath(url)).toBe(path);
  });
});

describe("routedOnRealPath", () => {
  test.each([
    ["http://x/zz/api/v1/orgs", "/api/v1/orgs", true], // absolute URLs: Elysia (standardHostname off) cuts them right
    ["/zzzzzz/api/v1/orgs", "/api/v1/orgs", false],
    ["/api/v1/orgs", "/api/v1/orgs", true],
    ["/healthz?x=1", "/healthz", true],
  ])("%s routed as %s: %p", (url, routed, ok) => {
    expect(routedOnRealPath(url, routed)).toBe(ok as boolean);
  });
});
