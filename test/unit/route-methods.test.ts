import { expect, test } from "bun:test";
import { routeMethods } from "../../src/http/route-methods.ts";

const methodsOn = routeMethods([
  { method: "GET", path: "/api/v1/webhooks" },
  { method: "POST", path: "/api/v1/webhooks" },
  { method: "GET", path: "/api/v1/webhooks/:id" },
  { method: "PATCH", path: "/api/v1/webhooks/:id" },
  { method: "POST", path: "/api/v1/webhooks/test" },
  { method: "GET", path: "/docs/assets/*" },
  { method: "GET", path: "/v1.0/x" },
  { method: "ALL", path: "/api/v1/webhooks" },
]);

test.each([
  ["/api/v1/webhooks", ["GET", "POST"]],
  ["/api/v1/webhooks/", ["GET", "POST"]],
  ["/api/v1/webhooks/wh_1", ["GET", "PATCH"]],
  // A static segment also matches the parameter route beside it: both answer there.
  ["/api/v1/webhooks/test", ["GET", "PATCH", "POST"]],
  ["/api/v1/webhooks/wh_1/deliveries", []],
  ["/docs/assets/swagger-ui.css", ["GET"]],
  ["/v1.0/x", ["GET"]],
  ["/v1x0/x", []],
  ["/nope", []],
])("%s takes %p", (path, methods) => {
  expect(methodsOn(path)).toEqual(methods);
});
