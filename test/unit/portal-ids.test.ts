/** The portal computes the delivery log's time bound itself (src/portal/ui/ids.ts): it must stay the server's idBound. */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { idBound } from "../../src/lib/ids.ts";
import { deliveryIdBound } from "../../src/portal/ui/ids.ts";

test("deliveryIdBound(ms) is idBound('dlv', ms) for every time an id can carry", () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), (ms) => deliveryIdBound(ms) === idBound("dlv", ms)));
  expect(deliveryIdBound(Date.parse("2026-12-04T20:00:00Z"))).toBe(idBound("dlv", Date.parse("2026-12-04T20:00:00Z")));
});
