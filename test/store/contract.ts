/**
 * The storage port's contract (src/store/port.ts), as tests any adapter must pass: every method's
 * semantics, the exact shape of what reads return, and the write API's guarantees (all or
 * nothing, invariants under concurrency, storage faults as the 503). Each test gets a store of its
 * own, empty and migrated.
 *
 * Plugged in by test/store/sqlite.test.ts and test/store/postgres.test.ts.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ServiceUnavailableError } from "../../src/lib/errors.ts";
import { idBound, newId } from "../../src/lib/ids.ts";
import type { ApiKeyRow, AttemptRow, ClaimQuota, DeliveryOutcome, DeliveryRow, EndpointRow, EventRow, NewDelivery, OrgRow, PortalSessionRow, Store } from "../../src/store/port.ts";

export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
  /** Makes the storage unavailable (server stopped, file read-only...); returns how to bring it back. Without it the fault test is skipped. */
  fault?: () => Promise<() => Promise<void>>;
  /** The fault leaves reads working (SQLite's WAL: another process holding the write lock does not stop readers). */
  faultSparesReads?: boolean;
}

/** Realistic times: beyond 2^32, so a time that comes back as a string or a BigInt is caught. */
const T0 = 1_733_000_000_000;
let tick = 0;
const at = () => T0 + tick++ * 1000;

export function orgRow(): OrgRow {
  const createdAt = at();
  return { id: newId("org", createdAt), name: `Org ${tick}`, createdAt };
}

export function endpointRow(orgId: string, over: Partial<EndpointRow> = {}): EndpointRow {
  const createdAt = at();
  return {
    id: newId("wh", createdAt),
    orgId,
    url: "https://example.com/hook",
    description: null,
    events: ["user.created", "order.*"],
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    consecutiveFailures: 0,
    failureCount: 0,
    lastTriggeredAt: null,
    secretEnc: `sealed-${createdAt}`,
    previousSecretEnc: null,
    previousSecretExpiresAt: null,
    createdAt,
    updatedAt: createdAt,
    deletedAt: null,
    ...over,
  };
}

export function eventRow(orgId: string, over: Partial<EventRow> = {}): EventRow {
  const createdAt = at();
  return { id: newId("evt", createdAt), orgId, type: "user.created", body: '{"id":1}', dedupeKey: null, isTest: false, createdAt, ...over };
}

export function newDelivery(e: EventRow, endpointId: string, over: Partial<NewDelivery> = {}): NewDelivery {
  const createdAt = at();
  return { id: newId("dlv", createdAt), orgId: e.orgId, eventId: e.id, endpointId, eventType: e.type, dueAt: createdAt, createdAt, ...over };
}

function apiKeyRow(orgId: string | null, over: Partial<ApiKeyRow> = {}): ApiKeyRow {
  const createdAt = at();
  const id = newId("key", createdAt);
  return { id, orgId, name: "ci", keyHash: `hash-${id}`, keyPrefix: "sk_live_AbCd", scopes: ["events:write", "webhooks:read"], createdAt, revokedAt: null, ...over };
}

function outcome(id: string, over: Partial<DeliveryOutcome> = {}): DeliveryOutcome {
  return { id, status: "succeeded", attempts: 1, nextAttemptAt: null, lastAttemptAt: at(), lastStatusCode: 200, lastDurationMs: 12, lastErrorCode: null, lastErrorMessage: null, ...over };
}

function attemptRow(deliveryId: string, endpointId: string, over: Partial<AttemptRow> = {}): AttemptRow {
  const createdAt = at();
  return {
    id: newId("att", createdAt),
    deliveryId,
    endpointId,
    trigger: "scheduled",
    attemptNumber: 1,
    url: "https://example.com/hook",
    statusCode: 500,
    durationMs: 31,
    errorCode: null,
    errorMessage: null,
    responseHeaders: { "content-type": "text/plain", "x-request-id": "r1" },
    responseBody: "oops",
    requestHeaders: { "content-type": "application/json", "webhook-signature": "v1,abc" },
    createdAt,
    ...over,
  };
}

async function expectStorageUnavailable(p: Promise<unknown>): Promise<void> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceUnavailableError);
  expect((error as ServiceUnavailableError).code).toBe("STORAGE_UNAVAILABLE");
  expect((error as ServiceUnavailableError).status).toBe(503);
}

export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`storage port contract: ${name}`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(() => opened.close());

    /** An org with one endpoint and one event fanned out to it: the frame most tests need. */
    async function published(over: Partial<NewDelivery> = {}) {
      const org = orgRow();
      const endpoint = endpointRow(org.id);
      const event = eventRow(org.id);
      const delivery = newDelivery(event, endpoint.id, over);
      await store.write(async (tx) => {
        await tx.orgs.insert(org);
        await tx.endpoints.insertWithinLimit(endpoint, 100);
        await tx.events.insertIfNew(event);
        await tx.deliveries.insertMany([delivery]);
      });
      return { org, endpoint, event, delivery };
    }

    describe("write", () => {
      test("resolves with the op's value, after the commit: what it wrote is read back at once", async () => {
        const org = orgRow();
        expect(await store.write(async (tx) => (await tx.orgs.insert(org), "done"))).toBe("done");
        expect(await store.orgs.get(org.id)).toStrictEqual(org);
      });

      test("all or nothing: an op that throws after writing leaves nothing, and its error passes through as it is", async () => {
        const org = orgRow();
        const boom = new Error("boom");
        const error = await store
          .write(async (tx) => {
            await tx.orgs.insert(org);
            await tx.endpoints.insertWithinLimit(endpointRow(org.id), 10);
            throw boom;
          })
          .catch((e) => e);
        expect(error).toBe(boom);
        expect(await store.orgs.get(org.id)).toBeUndefined();
        expect(await store.endpoints.list(org.id)).toEqual([]);
      });

      test("a statement that fails (a duplicate key) rejects the write, not as a storage fault, and undoes the op's other writes", async () => {
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org));
        const other = orgRow();
        const error = await store
          .write(async (tx) => {
            await tx.orgs.insert(other);
            await tx.orgs.insert(org);
          })
          .catch((e) => e);
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(ServiceUnavailableError);
        expect(await store.orgs.get(other.id)).toBeUndefined();
      });

      test("relaxed writes commit too", async () => {
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org), "relaxed");
        expect(await store.orgs.get(org.id)).toStrictEqual(org);
      });

      test("flush waits for every write in flight", async () => {
        const orgs = Array.from({ length: 20 }, orgRow);
        const writes = orgs.map((o) => store.write((tx) => tx.orgs.insert(o)));
        await store.flush();
        expect((await store.orgs.listAfter(null, 100)).length).toBe(20);
        await Promise.all(writes);
      });

      test("checkWritable resolves while the database takes writes", async () => {
        await store.checkWritable();
      });

      test("repository methods work unbound (callers pass them around as functions)", async () => {
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org));
        const { get } = store.orgs;
        expect(await get(org.id)).toStrictEqual(org);
        const { pendingOrgs } = store.deliveries;
        expect(await pendingOrgs()).toEqual([]);
      });
    });

    describe("orgs", () => {
      test("insert, get and listAfter in id order", async () => {
        const orgs = [orgRow(), orgRow(), orgRow()];
        await store.write(async (tx) => {
          for (const o of [...orgs].reverse()) await tx.orgs.insert(o);
        });
        expect(await store.orgs.get(orgs[1]!.id)).toStrictEqual(orgs[1]);
        expect(await store.orgs.get("org_missing")).toBeUndefined();
        expect(await store.orgs.listAfter(null, 2)).toStrictEqual(orgs.slice(0, 2));
        expect(await store.orgs.listAfter(orgs[0]!.id, 10)).toStrictEqual(orgs.slice(1));
      });
    });

    describe("apiKeys", () => {
      test("round trip of every field; lookups by hash, by org, and the admin keys", async () => {
        const org = orgRow();
        const other = orgRow();
        const keys = [apiKeyRow(org.id), apiKeyRow(org.id, { name: null }), apiKeyRow(other.id)];
        const admin = apiKeyRow(null, { scopes: [] });
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          await tx.orgs.insert(other);
          for (const k of [...keys, admin]) await tx.apiKeys.insert(k);
        });
        expect(await store.apiKeys.findByHash(keys[0]!.keyHash)).toStrictEqual(keys[0]);
        expect(await store.apiKeys.findByHash("nope")).toBeUndefined();
        expect(await store.apiKeys.get(org.id, keys[1]!.id)).toStrictEqual(keys[1]);
        expect(await store.apiKeys.get(org.id, keys[2]!.id)).toBeUndefined();
        expect(await store.apiKeys.listForOrgAfter(org.id, null, 10)).toStrictEqual(keys.slice(0, 2));
        expect(await store.apiKeys.listForOrgAfter(org.id, keys[0]!.id, 10)).toStrictEqual([keys[1]!]);
        expect(await store.apiKeys.hasAdminKey()).toBe(true);
        expect(await store.apiKeys.listAdmin()).toStrictEqual([admin]);
        expect(await store.apiKeys.getAdmin(admin.id)).toStrictEqual(admin);
        expect(await store.apiKeys.getAdmin(keys[0]!.id)).toBeUndefined();
      });

      test("revocations: revoke and revokeAdminKeys record the time, return the hashes, and are heard after the commit", async () => {
        const org = orgRow();
        const key = apiKeyRow(org.id);
        const admins = [apiKeyRow(null), apiKeyRow(null), apiKeyRow(null)];
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          for (const k of [key, ...admins]) await tx.apiKeys.insert(k);
        });
        const heard: string[] = [];
        store.changes.onKeyRevoked((h) => heard.push(h));
        const t = at();
        await store.write((tx) => tx.apiKeys.revoke(key.id, t));
        expect(heard).toEqual([key.keyHash]);
        expect((await store.apiKeys.findByHash(key.keyHash))!.revokedAt).toBe(t);

        const revoked = await store.write((tx) => tx.apiKeys.revokeAdminKeys(t, admins[0]!.id));
        expect(revoked.sort()).toEqual([admins[1]!.keyHash, admins[2]!.keyHash].sort());
        expect(heard.slice(1).sort()).toEqual(revoked.sort());
        expect(await store.apiKeys.hasAdminKey()).toBe(true);
        expect(await store.write((tx) => tx.apiKeys.revokeAdminKeys(t))).toEqual([admins[0]!.keyHash]);
        expect(await store.apiKeys.hasAdminKey()).toBe(false);
        expect((await store.apiKeys.listAdmin()).map((k) => k.revokedAt)).toEqual([t, t, t]);
      });

      test("a revocation rolled back is not heard", async () => {
        const org = orgRow();
        const key = apiKeyRow(org.id);
        await store.write(async (tx) => (await tx.orgs.insert(org), await tx.apiKeys.insert(key)));
        const heard: string[] = [];
        store.changes.onKeyRevoked((h) => heard.push(h));
        await store
          .write(async (tx) => {
            await tx.apiKeys.revoke(key.id, at());
            throw new Error("undo");
          })
          .catch(() => {});
        expect(heard).toEqual([]);
        expect((await store.apiKeys.findByHash(key.keyHash))!.revokedAt).toBeNull();
      });
    });

    describe("endpoints", () => {
      test("round trip of every field, set and null; get, getWithDeleted, getById and list", async () => {
        const org = orgRow();
        const other = orgRow();
        const plain = endpointRow(org.id);
        const full = endpointRow(org.id, {
          description: "orders",
          events: ["*"],
          enabled: false,
          disabledReason: "too_many_failures",
          disabledAt: T0 + 5,
          consecutiveFailures: 3,
          failureCount: 7,
          lastTriggeredAt: T0 + 6,
          previousSecretEnc: "sealed-old",
          previousSecretExpiresAt: T0 + 7,
        });
        const deleted = endpointRow(org.id, { deletedAt: T0 + 8, enabled: false });
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          await tx.orgs.insert(other);
          for (const e of [plain, full, deleted]) expect(await tx.endpoints.insertWithinLimit(e, 10)).toBe(true);
        });
        expect(await store.endpoints.get(org.id, full.id)).toStrictEqual(full);
        expect(await store.endpoints.get(other.id, full.id)).toBeUndefined();
        expect(await store.endpoints.get(org.id, deleted.id)).toBeUndefined();
        expect(await store.endpoints.getWithDeleted(org.id, deleted.id)).toStrictEqual(deleted);
        expect(await store.endpoints.getWithDeleted(other.id, deleted.id)).toBeUndefined();
        expect(await store.endpoints.getById(deleted.id)).toStrictEqual(deleted);
        expect(await store.endpoints.list(org.id)).toStrictEqual([plain, full]);
        expect(await store.endpoints.sampleSealedSecret()).toStartWith("sealed-");
      });

      test("listDeleted: the org's deleted endpoints, most recently deleted first, up to the limit", async () => {
        const org = orgRow();
        const other = orgRow();
        const live = endpointRow(org.id);
        const older = endpointRow(org.id, { deletedAt: T0 + 1 });
        const newest = endpointRow(org.id, { deletedAt: T0 + 3 });
        const middle = endpointRow(org.id, { deletedAt: T0 + 2 });
        const elsewhere = endpointRow(other.id, { deletedAt: T0 + 4 });
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          await tx.orgs.insert(other);
          for (const e of [live, older, newest, middle, elsewhere]) await tx.endpoints.insertWithinLimit(e, 10);
        });
        expect(await store.endpoints.listDeleted(org.id, 10)).toStrictEqual([newest, middle, older]);
        expect(await store.endpoints.listDeleted(org.id, 2)).toStrictEqual([newest, middle]);
        expect(await store.endpoints.listDeleted(other.id, 10)).toStrictEqual([elsewhere]);
      });

      test("insertWithinLimit counts live endpoints only, and refuses beyond the limit", async () => {
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org));
        const results = [];
        for (const e of [endpointRow(org.id), endpointRow(org.id, { deletedAt: T0 }), endpointRow(org.id), endpointRow(org.id)]) {
          results.push(await store.write((tx) => tx.endpoints.insertWithinLimit(e, 2)));
        }
        expect(results).toEqual([true, true, true, false]);
        expect((await store.endpoints.list(org.id)).length).toBe(2);
      });

      test("insertWithinLimit never passes the limit under 20 concurrent creates", async () => {
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org));
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.write((tx) => tx.endpoints.insertWithinLimit(endpointRow(org.id), 5))),
        );
        expect(results.filter(Boolean).length).toBe(5);
        expect((await store.endpoints.list(org.id)).length).toBe(5);
      });

      test("update applies the patch to a live endpoint of that org and returns the row; others are not found", async () => {
        const { org, endpoint } = await published();
        const t = at();
        const row = await store.write((tx) =>
          tx.endpoints.update(org.id, endpoint.id, { url: "https://example.org/new", events: ["a.b"], enabled: false, disabledReason: "manual", disabledAt: t, description: null, updatedAt: t }),
        );
        const expected: EndpointRow = { ...endpoint, url: "https://example.org/new", events: ["a.b"], enabled: false, disabledReason: "manual", disabledAt: t, updatedAt: t };
        expect(row).toStrictEqual(expected);
        expect(await store.endpoints.get(org.id, endpoint.id)).toStrictEqual(expected);
        expect(await store.write((tx) => tx.endpoints.update(orgRow().id, endpoint.id, { updatedAt: t }))).toBeUndefined();
        await store.write((tx) => tx.endpoints.update(org.id, endpoint.id, { deletedAt: t, updatedAt: t }));
        expect(await store.write((tx) => tx.endpoints.update(org.id, endpoint.id, { url: "https://x.example" }))).toBeUndefined();
      });

      test("rotateSecret: without grace the old secret is gone; with grace the replaced secret signs until then, even after a concurrent rotation", async () => {
        const { org, endpoint } = await published();
        const t = at();
        const graced = await store.write((tx) => tx.endpoints.rotateSecret(org.id, endpoint.id, "sealed-2", t + 60_000, t));
        expect(graced).toStrictEqual({ ...endpoint, secretEnc: "sealed-2", previousSecretEnc: endpoint.secretEnc, previousSecretExpiresAt: t + 60_000, updatedAt: t });

        // Two rotations at once: whichever commits second keeps the first one's secret in grace.
        const [a, b] = await Promise.all([
          store.write((tx) => tx.endpoints.rotateSecret(org.id, endpoint.id, "sealed-a", t + 1, t)),
          store.write((tx) => tx.endpoints.rotateSecret(org.id, endpoint.id, "sealed-b", t + 1, t)),
        ]);
        const last = (await store.endpoints.get(org.id, endpoint.id))!;
        const [first, second] = last.secretEnc === "sealed-b" ? [a!, b!] : [b!, a!];
        expect(second.previousSecretEnc).toBe(first.secretEnc);
        expect(first.previousSecretEnc).toBe("sealed-2");

        const plain = await store.write((tx) => tx.endpoints.rotateSecret(org.id, endpoint.id, "sealed-3", null, t));
        expect(plain!.secretEnc).toBe("sealed-3");
        expect(plain!.previousSecretEnc).toBeNull();
        expect(plain!.previousSecretExpiresAt).toBeNull();
        expect(await store.write((tx) => tx.endpoints.rotateSecret(orgRow().id, endpoint.id, "x", null, t))).toBeUndefined();
      });

      test("delivery counters: recordAttempt, recordExhausted and autoDisable", async () => {
        const { org, endpoint } = await published();
        const t = at();
        expect(await store.write((tx) => tx.endpoints.recordExhausted(endpoint.id, t))).toEqual({ consecutiveFailures: 1, enabled: true });
        expect(await store.write((tx) => tx.endpoints.recordExhausted(endpoint.id, t))).toEqual({ consecutiveFailures: 2, enabled: true });
        // Times a few seconds apart: an adapter may keep lastTriggeredAt to the second (port.ts).
        await store.write((tx) => tx.endpoints.recordAttempt(endpoint.id, t + 2_000, false));
        let row = (await store.endpoints.get(org.id, endpoint.id))!;
        expect([row.consecutiveFailures, row.failureCount, row.lastTriggeredAt]).toEqual([2, 2, t + 2_000]);
        // A success ends the run of failures at once, however soon after.
        await store.write((tx) => tx.endpoints.recordAttempt(endpoint.id, t + 2_001, true));
        row = (await store.endpoints.get(org.id, endpoint.id))!;
        expect([row.consecutiveFailures, row.failureCount]).toEqual([0, 2]);
        expect(row.lastTriggeredAt).toBeGreaterThanOrEqual(t + 2_000);

        expect(await store.write((tx) => tx.endpoints.autoDisable(endpoint.id, t + 3, "gone"))).toBe(true);
        expect(await store.write((tx) => tx.endpoints.autoDisable(endpoint.id, t + 4, "too_many_failures"))).toBe(false);
        row = (await store.endpoints.get(org.id, endpoint.id))!;
        expect([row.enabled, row.disabledReason, row.disabledAt, row.updatedAt]).toEqual([false, "gone", t + 3, t + 3]);
        expect(await store.write((tx) => tx.endpoints.recordExhausted(endpoint.id, t))).toEqual({ consecutiveFailures: 1, enabled: false });
        expect(await store.write((tx) => tx.endpoints.recordExhausted("wh_missing", t))).toBeNull();
      });
    });

    describe("endpoint cache and changes", () => {
      test("serves live endpoints and any endpoint by id; a write drops the entries it changes and is heard after its commit", async () => {
        const { org, endpoint } = await published();
        expect(await store.endpointCache.liveForOrg(org.id)).toStrictEqual([endpoint]);
        expect(await store.endpointCache.get(endpoint.id)).toStrictEqual(endpoint);
        expect(await store.endpointCache.get("wh_missing")).toBeUndefined();

        const heard: Array<[string, string]> = [];
        store.changes.onEndpointChanged((o, e) => heard.push([o, e]));
        const t = at();
        await store.write((tx) => tx.endpoints.update(org.id, endpoint.id, { enabled: false, disabledReason: "manual", disabledAt: t, updatedAt: t }));
        expect(heard).toEqual([[org.id, endpoint.id]]);
        expect((await store.endpointCache.get(endpoint.id))!.enabled).toBe(false);

        await store.write((tx) => tx.endpoints.rotateSecret(org.id, endpoint.id, "sealed-new", null, t));
        expect((await store.endpointCache.get(endpoint.id))!.secretEnc).toBe("sealed-new");

        const added = endpointRow(org.id);
        await store.write((tx) => tx.endpoints.insertWithinLimit(added, 10));
        expect((await store.endpointCache.liveForOrg(org.id)).map((e) => e.id)).toEqual([endpoint.id, added.id]);

        await store.write((tx) => tx.endpoints.autoDisable(added.id, t, "gone"));
        expect((await store.endpointCache.get(added.id))!.disabledReason).toBe("gone");

        await store.write((tx) => tx.endpoints.update(org.id, endpoint.id, { deletedAt: t, updatedAt: t }));
        expect((await store.endpointCache.liveForOrg(org.id)).map((e) => e.id)).toEqual([added.id]);
        expect((await store.endpointCache.get(endpoint.id))!.deletedAt).toBe(t);
        expect(heard.length).toBe(5);
      });
      test("a listener that throws neither fails the write nor keeps the other listeners from hearing", async () => {
        const { org, endpoint } = await published();
        const heard: string[] = [];
        store.changes.onEndpointChanged(() => {
          throw new Error("listener bug");
        });
        store.changes.onEndpointChanged((_, id) => heard.push(id));
        const t = at();
        await store.write((tx) => tx.endpoints.update(org.id, endpoint.id, { description: "x", updatedAt: t }));
        expect(heard).toEqual([endpoint.id]);
      });
    });

    describe("events", () => {
      test("insertIfNew dedupes on (org, dedupe key) only; null keys never collide", async () => {
        const org = orgRow();
        const other = orgRow();
        await store.write(async (tx) => (await tx.orgs.insert(org), await tx.orgs.insert(other)));
        const first = eventRow(org.id, { dedupeKey: "msg_1", isTest: true });
        expect(await store.write((tx) => tx.events.insertIfNew(first))).toBe(true);
        expect(await store.write((tx) => tx.events.insertIfNew(eventRow(org.id, { dedupeKey: "msg_1" })))).toBe(false);
        expect(await store.write((tx) => tx.events.insertIfNew(eventRow(other.id, { dedupeKey: "msg_1" })))).toBe(true);
        expect(await store.write((tx) => tx.events.insertIfNew(eventRow(org.id)))).toBe(true);
        expect(await store.write((tx) => tx.events.insertIfNew(eventRow(org.id)))).toBe(true);
        expect(await store.events.findByDedupeKey(org.id, "msg_1")).toStrictEqual(first);
        expect(await store.events.get(org.id, first.id)).toStrictEqual(first);
        expect(await store.events.get(other.id, first.id)).toBeUndefined();
      });

      test("concurrent publishes with one dedupe key: exactly one is new", async () => {
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org));
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.write((tx) => tx.events.insertIfNew(eventRow(org.id, { dedupeKey: "same" })))),
        );
        expect(results.filter(Boolean).length).toBe(1);
      });

      test("bodies are exact, and cut to maxChars characters when asked", async () => {
        const org = orgRow();
        const body = JSON.stringify({ name: "Zoë 🚀", n: 1.5e300, s: "x".repeat(50) });
        const short = eventRow(org.id, { body: "{}" });
        const long = eventRow(org.id, { body });
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          await tx.events.insertIfNew(short);
          await tx.events.insertIfNew(long);
        });
        const whole = await store.events.bodies([short.id, long.id, long.id, "evt_missing"]);
        expect(whole).toEqual(new Map([[short.id, { text: "{}", cut: false }], [long.id, { text: body, cut: false }]]));
        const cut = await store.events.bodies([long.id, short.id], 12);
        expect(cut.get(long.id)).toEqual({ text: body.slice(0, 12), cut: true });
        expect(cut.get(short.id)).toEqual({ text: "{}", cut: false });
        expect(await store.events.bodies([])).toEqual(new Map());
      });
    });

    describe("deliveries", () => {
      test("insertMany, get, listForEvent in creation order, forAttempt with the event's body", async () => {
        const org = orgRow();
        const endpoints = [endpointRow(org.id), endpointRow(org.id)];
        const event = eventRow(org.id, { isTest: true });
        const rows = endpoints.map((e) => newDelivery(event, e.id));
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          for (const e of endpoints) await tx.endpoints.insertWithinLimit(e, 10);
          await tx.events.insertIfNew(event);
          await tx.deliveries.insertMany(rows);
          await tx.deliveries.insertMany([]);
        });
        const expected = rows.map((d): DeliveryRow => ({
          id: d.id,
          orgId: d.orgId,
          eventId: d.eventId,
          endpointId: d.endpointId,
          eventType: d.eventType,
          status: "pending",
          attempts: 0,
          nextAttemptAt: d.dueAt,
          lastAttemptAt: null,
          lastStatusCode: null,
          lastDurationMs: null,
          lastErrorCode: null,
          lastErrorMessage: null,
          createdAt: d.createdAt,
          updatedAt: d.createdAt,
          // A store shared by nodes leases what it writes to its own node, until due plus the lease.
          leaseOwner: store.leases?.owner ?? null,
          leaseExpiresAt: store.leases ? d.dueAt + store.leases.leaseMs : null,
        }));
        expect(await store.deliveries.get(endpoints[1]!.id, rows[1]!.id)).toStrictEqual(expected[1]);
        expect(await store.deliveries.get(endpoints[0]!.id, rows[1]!.id)).toBeUndefined();
        expect(await store.deliveries.listForEvent(event.id)).toStrictEqual(expected);
        expect(await store.deliveries.forAttempt(rows[0]!.id)).toStrictEqual({
          id: rows[0]!.id,
          orgId: org.id,
          eventId: event.id,
          endpointId: endpoints[0]!.id,
          eventType: event.type,
          status: "pending",
          attempts: 0,
          body: event.body,
          isTest: true,
        });
        expect(await store.deliveries.forAttempt("dlv_missing")).toBeNull();
      });

      test("recordOutcome applies only while the row has the expected status; recordLastAttempt leaves status, attempts and due time", async () => {
        const { endpoint, delivery } = await published();
        const retry = outcome(delivery.id, { status: "pending", attempts: 1, nextAttemptAt: T0 + 99, lastStatusCode: null, lastErrorCode: "TIMEOUT", lastErrorMessage: "timed out" });
        const now = at();
        expect(await store.write((tx) => tx.deliveries.recordOutcome(retry, now, "pending"))).toBe(true);
        let row = (await store.deliveries.get(endpoint.id, delivery.id))!;
        expect(row).toMatchObject({ status: "pending", attempts: 1, nextAttemptAt: T0 + 99, lastStatusCode: null, lastErrorCode: "TIMEOUT", lastErrorMessage: "timed out", lastDurationMs: 12, updatedAt: now });
        const done = outcome(delivery.id, { attempts: 2 });
        expect(await store.write((tx) => tx.deliveries.recordOutcome(done, now, "failed"))).toBe(false);
        expect(await store.write((tx) => tx.deliveries.recordOutcome(done, now, "pending"))).toBe(true);
        expect(await store.write((tx) => tx.deliveries.recordOutcome(outcome(delivery.id, { status: "failed", attempts: 3 }), now, "pending"))).toBe(false);
        row = (await store.deliveries.get(endpoint.id, delivery.id))!;
        expect(row).toMatchObject({ status: "succeeded", attempts: 2, nextAttemptAt: null, lastStatusCode: 200, lastAttemptAt: done.lastAttemptAt });

        const replay = { id: delivery.id, lastAttemptAt: at(), lastStatusCode: 502, lastDurationMs: 7, lastErrorCode: null, lastErrorMessage: null };
        await store.write((tx) => tx.deliveries.recordLastAttempt(replay, replay.lastAttemptAt));
        row = (await store.deliveries.get(endpoint.id, delivery.id))!;
        expect(row).toMatchObject({ status: "succeeded", attempts: 2, nextAttemptAt: null, lastStatusCode: 502, lastDurationMs: 7, updatedAt: replay.lastAttemptAt });
      });

      describe("leases", () => {
        /** Far past every other test's times: the rows' own due times decide what is due. */
        const T1 = T0 + 1e9;
        const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);
        const claimQuotas = (owner: string, now: number, until: number, quotas: ClaimQuota[]) =>
          store.write((tx) => tx.deliveries.claimDue(owner, now, until, 1_000, quotas), "relaxed");

        /** `dues` rows of one endpoint, due at T1 + each, as free of leases as a table no node holds. */
        async function freeRows(dues: number[]) {
          const { org, endpoint, event } = await published({ dueAt: T1 + 1e6 });
          const rows = dues.map((dt) => newDelivery(event, endpoint.id, { dueAt: T1 + dt }));
          /** A claim of up to `limit` of this org's rows. */
          const claim = (owner: string, now: number, until: number, limit: number) => claimQuotas(owner, now, until, [{ orgId: org.id, limit }]);
          await store.write((tx) => tx.deliveries.insertMany(rows));
          const get = async (i: number) => (await store.deliveries.get(endpoint.id, rows[i]!.id))!;
          if (store.leases) {
            // The writer's lease: no other node claims the rows until it lapses.
            expect(await get(0)).toMatchObject({ leaseOwner: store.leases.owner, leaseExpiresAt: rows[0]!.dueAt + store.leases.leaseMs });
            expect(await claim("node-z", T1 + 1_000, T1 + 1e5, 100)).toEqual([]);
            await store.write((tx) => tx.deliveries.releaseLeases(store.leases!.owner, ids(rows)));
          }
          expect(await get(0)).toMatchObject({ leaseOwner: null, leaseExpiresAt: null });
          return { org, endpoint, rows, get, claim };
        }

        test("claimDue takes pending rows due by `until` whose lease is free or lapsed, in due order, each until max(due, now) + leaseMs", async () => {
          const { org, endpoint, rows, get, claim } = await freeRows([30, 10, 20, 500]);
          expect(await claim("node-a", T1 + 15, T1 + 25, 1)).toStrictEqual([{ id: rows[1]!.id, orgId: org.id, endpointId: endpoint.id, nextAttemptAt: T1 + 10 }]);
          expect(await get(1)).toMatchObject({ leaseOwner: "node-a", leaseExpiresAt: T1 + 15 + 1_000 });
          // node-a's live lease is passed over; a row not yet due is leased from its due time.
          expect(ids(await claim("node-b", T1 + 15, T1 + 25, 10))).toEqual([rows[2]!.id]);
          expect(await get(2)).toMatchObject({ leaseOwner: "node-b", leaseExpiresAt: T1 + 20 + 1_000 });
          expect(await claim("node-b", T1 + 15, T1 + 25, 10)).toEqual([]);
          // node-a's lease lapsed: node-b takes the row over, with rows[0] now due by `until`.
          expect(ids(await claim("node-b", T1 + 1_016, T1 + 40, 10))).toEqual([rows[1]!.id, rows[0]!.id]);
          expect(await get(1)).toMatchObject({ leaseOwner: "node-b", leaseExpiresAt: T1 + 1_016 + 1_000 });
          // Only pending rows are claimed: rows[3] is due but finished, the others' leases still live.
          await store.write((tx) => tx.deliveries.recordOutcome(outcome(rows[3]!.id), T1, "pending"));
          expect(await claim("node-c", T1 + 1_017, T1 + 1e5, 10)).toEqual([]);
        });

        test("renewLeases extends only the owner's pending rows, never shortening; releaseLeases frees only the owner's", async () => {
          const { rows, get, claim } = await freeRows([10, 20, 30]);
          await claim("node-a", T1, T1 + 20, 10);
          await claim("node-b", T1, T1 + 30, 10);
          const renewed = await store.write((tx) => tx.deliveries.renewLeases("node-a", ids(rows), T1 + 1_015));
          expect(renewed.sort()).toEqual(ids(rows.slice(0, 2)).sort());
          expect(await get(0)).toMatchObject({ leaseOwner: "node-a", leaseExpiresAt: T1 + 1_015 });
          expect(await get(1)).toMatchObject({ leaseOwner: "node-a", leaseExpiresAt: T1 + 1_020 });
          expect(await get(2)).toMatchObject({ leaseOwner: "node-b", leaseExpiresAt: T1 + 1_030 });
          expect(await store.write((tx) => tx.deliveries.renewLeases("node-a", [], T1))).toEqual([]);
          await store.write((tx) => tx.deliveries.releaseLeases("node-a", ids(rows)));
          expect(await get(0)).toMatchObject({ leaseOwner: null, leaseExpiresAt: null });
          expect(await get(2)).toMatchObject({ leaseOwner: "node-b" });
          expect(await store.write((tx) => tx.deliveries.renewLeases("node-a", ids(rows), T1 + 5_000))).toEqual([]);
          // A finished row is nobody's to renew.
          await store.write((tx) => tx.deliveries.recordOutcome(outcome(rows[2]!.id), T1, "pending"));
          expect(await store.write((tx) => tx.deliveries.renewLeases("node-b", ids(rows), T1 + 5_000))).toEqual([]);
        });

        test("a fenced outcome applies only while the row is the owner's: kept until keepUntil, or released; a late owner is refused", async () => {
          const { rows, get, claim } = await freeRows([10, 20]);
          await claim("node-a", T1 + 10, T1 + 20, 10);
          // node-a paused past its lease: node-b takes both rows over.
          expect(ids(await claim("node-b", T1 + 2_000, T1 + 2_000, 10))).toEqual(ids(rows));
          const retry = (id: string, nextAttemptAt: number) => outcome(id, { status: "pending", attempts: 1, nextAttemptAt, lastStatusCode: 500 });
          const record = (o: DeliveryOutcome, owner: string, keepUntil: number | null) =>
            store.write((tx) => tx.deliveries.recordOutcome(o, T1 + 2_100, "pending", { owner, keepUntil }));
          expect(await record(retry(rows[0]!.id, T1 + 2_500), "node-b", T1 + 3_500)).toBe(true);
          expect(await get(0)).toMatchObject({ status: "pending", attempts: 1, nextAttemptAt: T1 + 2_500, leaseOwner: "node-b", leaseExpiresAt: T1 + 3_500 });
          expect(await record(retry(rows[1]!.id, T1 + 90_000), "node-b", null)).toBe(true);
          expect(await get(1)).toMatchObject({ status: "pending", nextAttemptAt: T1 + 90_000, leaseOwner: null, leaseExpiresAt: null });
          // node-a wakes up: whatever it answers is refused, held by another or released, and no status goes backwards.
          expect(await record(outcome(rows[0]!.id, { status: "failed", attempts: 9 }), "node-a", null)).toBe(false);
          expect(await record(outcome(rows[1]!.id), "node-a", null)).toBe(false);
          expect(await get(0)).toMatchObject({ status: "pending", attempts: 1, leaseOwner: "node-b" });
          expect(await get(1)).toMatchObject({ status: "pending", attempts: 1, leaseOwner: null });
          // The owner's final outcome ends its lease; an unfenced one (a replay) applies whoever holds the row.
          expect(await record(outcome(rows[0]!.id, { attempts: 2 }), "node-b", null)).toBe(true);
          expect(await get(0)).toMatchObject({ status: "succeeded", attempts: 2, leaseOwner: null, leaseExpiresAt: null });
          expect(await store.write((tx) => tx.deliveries.recordOutcome(outcome(rows[1]!.id), T1, "pending"))).toBe(true);
        });

        test("claims running at once never return one row twice", async () => {
          const { rows, claim } = await freeRows(Array.from({ length: 40 }, (_, i) => i));
          const claims = await Promise.all(Array.from({ length: 6 }, (_, n) => claim(`node-${n}`, T1 + 100, T1 + 100, 10)));
          const rest = await claim("node-x", T1 + 100, T1 + 100, 100);
          const got = [...claims.flat(), ...rest].map((r) => r.id);
          expect(got.sort()).toEqual(ids(rows).sort());
        });

        test("claimDue takes each org's earliest free rows up to its own limit, however early another org's rows are due", async () => {
          const backlog = await freeRows(Array.from({ length: 30 }, (_, i) => i));
          const late = await freeRows([500, 400, 600]);
          const quiet = await freeRows([700]);
          const got = await claimQuotas("node-a", T1 + 1_000, T1 + 1_000, [
            { orgId: backlog.org.id, limit: 2 },
            { orgId: late.org.id, limit: 2 },
            { orgId: quiet.org.id, limit: 5 },
          ]);
          // In due order across orgs; each org's own earliest, within its limit.
          expect(ids(got)).toEqual([backlog.rows[0]!.id, backlog.rows[1]!.id, late.rows[1]!.id, late.rows[0]!.id, quiet.rows[0]!.id]);
          expect(got.map((r) => r.orgId)).toEqual([backlog.org.id, backlog.org.id, late.org.id, late.org.id, quiet.org.id]);
          expect(await late.get(2)).toMatchObject({ leaseOwner: null });
          expect(await claimQuotas("node-a", T1 + 1_000, T1 + 1_000, [])).toEqual([]);
        });
      });

      test("cancelPendingBatch cancels up to `limit` pending rows below the id bound; stoppedWithPending finds what is left", async () => {
        const { org, endpoint, event } = await published();
        const rows = Array.from({ length: 5 }, () => newDelivery(event, endpoint.id));
        await store.write((tx) => tx.deliveries.insertMany(rows));
        await store.write((tx) => tx.deliveries.recordOutcome(outcome(rows[0]!.id), at(), "pending"));
        const t = at();
        await store.write((tx) => tx.endpoints.update(org.id, endpoint.id, { enabled: false, disabledReason: "manual", disabledAt: t, updatedAt: t }));
        expect(await store.deliveries.stoppedWithPending()).toEqual([endpoint.id]);
        // Below rows[4]: the first published row and rows[1..3] are pending (rows[0] succeeded).
        expect(await store.write((tx) => tx.deliveries.cancelPendingBatch(endpoint.id, rows[4]!.id, t, 3))).toBe(3);
        expect(await store.write((tx) => tx.deliveries.cancelPendingBatch(endpoint.id, rows[4]!.id, t, 3))).toBe(1);
        expect(await store.write((tx) => tx.deliveries.cancelPendingBatch(endpoint.id, rows[4]!.id, t, 3))).toBe(0);
        const byId = new Map((await store.deliveries.listForEvent(event.id)).map((d) => [d.id, d]));
        expect(byId.get(rows[0]!.id)!.status).toBe("succeeded");
        expect(byId.get(rows[1]!.id)).toMatchObject({ status: "cancelled", nextAttemptAt: null, updatedAt: t });
        expect(byId.get(rows[4]!.id)!.status).toBe("pending");
        expect(await store.deliveries.stoppedWithPending()).toEqual([endpoint.id]);
        await store.write((tx) => tx.deliveries.cancelPendingBatch(endpoint.id, idBound("dlv", T0 + 1e12), t, 10));
        expect(await store.deliveries.stoppedWithPending()).toEqual([]);
      });

      test("due rows: pageDue and pageOrgDue page by the (due, id) cursor; orgNextDue and pendingOrgs", async () => {
        const orgA = orgRow();
        const orgB = orgRow();
        const epA = endpointRow(orgA.id);
        const epB = endpointRow(orgB.id);
        const evA = eventRow(orgA.id);
        const evB = eventRow(orgB.id);
        const due = (e: EventRow, ep: string, dueAt: number) => newDelivery(e, ep, { dueAt });
        const a = [due(evA, epA.id, T0 + 10), due(evA, epA.id, T0 + 10), due(evA, epA.id, T0 + 30), due(evA, epA.id, T0 + 50)];
        const b = [due(evB, epB.id, T0 + 20), due(evB, epB.id, T0 + 40)];
        await store.write(async (tx) => {
          for (const o of [orgA, orgB]) await tx.orgs.insert(o);
          for (const e of [epA, epB]) await tx.endpoints.insertWithinLimit(e, 10);
          for (const e of [evA, evB]) await tx.events.insertIfNew(e);
          await tx.deliveries.insertMany([...a, ...b]);
        });
        // Not pending: never due.
        await store.write((tx) => tx.deliveries.recordOutcome(outcome(a[3]!.id), at(), "pending"));
        const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

        const all = await store.deliveries.pageDue(0, "", T0 + 100, 100);
        expect(ids(all)).toEqual(ids([a[0]!, a[1]!, b[0]!, a[2]!, b[1]!]));
        expect(all[0]).toStrictEqual({ id: a[0]!.id, orgId: orgA.id, endpointId: epA.id, nextAttemptAt: T0 + 10 });
        expect(ids(await store.deliveries.pageDue(T0 + 10, a[0]!.id, T0 + 100, 2))).toEqual(ids([a[1]!, b[0]!]));
        expect(ids(await store.deliveries.pageDue(T0 + 10, a[1]!.id, T0 + 30, 10))).toEqual(ids([b[0]!, a[2]!]));
        expect(ids(await store.deliveries.pageOrgDue(orgA.id, 0, "", T0 + 100, 10))).toEqual(ids(a.slice(0, 3)));
        expect(ids(await store.deliveries.pageOrgDue(orgA.id, T0 + 10, a[0]!.id, T0 + 100, 1))).toEqual([a[1]!.id]);
        expect(await store.deliveries.orgNextDue(orgA.id, T0 + 10)).toBe(T0 + 30);
        expect(await store.deliveries.orgNextDue(orgA.id, T0 + 30)).toBeNull();
        expect(await store.deliveries.pendingOrgs()).toEqual(
          [
            { orgId: orgA.id, nextDue: T0 + 10 },
            { orgId: orgB.id, nextDue: T0 + 20 },
          ].sort((x, y) => (x.orgId < y.orgId ? -1 : 1)),
        );
      });

      test("the log: page newest first and countUpTo, under every filter", async () => {
        const { endpoint, event, delivery } = await published();
        const other = eventRow(event.orgId, { type: "order.paid" });
        await store.write((tx) => tx.events.insertIfNew(other));
        const rows = [
          newDelivery(event, endpoint.id),
          newDelivery(other, endpoint.id),
          newDelivery(event, endpoint.id),
          newDelivery(other, endpoint.id),
          newDelivery(event, endpoint.id),
        ];
        await store.write((tx) => tx.deliveries.insertMany(rows));
        const now = at();
        await store.write(async (tx) => {
          await tx.deliveries.recordOutcome(outcome(rows[0]!.id), now, "pending");
          await tx.deliveries.recordOutcome(outcome(rows[1]!.id, { status: "failed" }), now, "pending");
          await tx.deliveries.recordOutcome(outcome(rows[2]!.id, { status: "cancelled" }), now, "pending");
          await tx.deliveries.recordOutcome(outcome(rows[3]!.id), now, "pending");
        });
        // Statuses: delivery pending, rows: succeeded, failed, cancelled, succeeded, pending.
        const all = [delivery.id, ...rows.map((r) => r.id)];
        const page = async (f: Parameters<Store["deliveries"]["page"]>[1], offset = 0, limit = 10) =>
          (await store.deliveries.page(endpoint.id, f, offset, limit)).map((d) => d.id);
        expect(await page({})).toEqual([...all].reverse());
        expect(await page({}, 1, 2)).toEqual([all[4]!, all[3]!]);
        expect(await page({ success: true })).toEqual([all[4]!, all[1]!]);
        expect(await page({ success: false })).toEqual([all[3]!, all[2]!]);
        expect(await page({ status: "pending" })).toEqual([all[5]!, all[0]!]);
        expect(await page({ status: "pending", success: true })).toEqual([]);
        expect(await page({ eventType: "order.paid" })).toEqual([all[4]!, all[2]!]);
        expect(await page({ eventType: "order.paid", success: true })).toEqual([all[4]!]);
        expect(await page({ before: all[3]! })).toEqual([all[2]!, all[1]!, all[0]!]);
        expect(await page({ before: all[3]!, success: false })).toEqual([all[2]!]);
        const full = await store.deliveries.page(endpoint.id, {}, 0, 1);
        expect(full[0]).toMatchObject({ id: all[5]!, status: "pending", attempts: 0 });
        expect(await store.deliveries.page(orgRow().id, {}, 0, 10)).toEqual([]);

        const count = (f: Parameters<Store["deliveries"]["countUpTo"]>[1], cap = 100) => store.deliveries.countUpTo(endpoint.id, f, cap);
        expect(await count({})).toBe(6);
        expect(await count({}, 4)).toBe(4);
        expect(await count({ success: false })).toBe(2);
        expect(await count({ status: "succeeded", eventType: "user.created" })).toBe(1);
        expect(await count({ before: all[3]! })).toBe(3);
        expect(await count({ status: "failed", success: true })).toBe(0);
      });

      test("recover: countFailedSince and failedIdsSince page failed deliveries created since a time", async () => {
        const { endpoint, event } = await published();
        const rows = Array.from({ length: 4 }, () => newDelivery(event, endpoint.id));
        await store.write((tx) => tx.deliveries.insertMany(rows));
        const now = at();
        await store.write(async (tx) => {
          for (const r of rows) await tx.deliveries.recordOutcome(outcome(r.id, { status: "failed" }), now, "pending");
        });
        const since = rows[1]!.createdAt;
        expect(await store.deliveries.countFailedSince(endpoint.id, since, 100)).toBe(3);
        expect(await store.deliveries.countFailedSince(endpoint.id, since, 2)).toBe(2);
        expect(await store.deliveries.failedIdsSince(endpoint.id, since, "", 2)).toEqual([rows[1]!.id, rows[2]!.id]);
        expect(await store.deliveries.failedIdsSince(endpoint.id, since, rows[2]!.id, 10)).toEqual([rows[3]!.id]);
        expect(await store.deliveries.failedIdsSince(endpoint.id, rows[3]!.createdAt + 1, "", 10)).toEqual([]);
      });
    });

    describe("attempts", () => {
      test("insert round trip (headers as an object or null); latestForDelivery oldest first; latestFor each delivery's last", async () => {
        const { endpoint, event, delivery } = await published();
        const second = newDelivery(event, endpoint.id);
        await store.write((tx) => tx.deliveries.insertMany([second]));
        const attempts = [
          attemptRow(delivery.id, endpoint.id),
          attemptRow(delivery.id, endpoint.id, { attemptNumber: 2, statusCode: null, errorCode: "DNS", errorMessage: "no such host", responseHeaders: null, responseBody: null }),
          attemptRow(delivery.id, endpoint.id, { attemptNumber: 3, trigger: "replay", statusCode: 200 }),
          attemptRow(second.id, endpoint.id, { trigger: "test" }),
        ];
        await store.write(async (tx) => {
          for (const a of attempts) await tx.attempts.insert(a);
        });
        expect(await store.attempts.latestForDelivery(delivery.id, 10)).toStrictEqual(attempts.slice(0, 3));
        expect(await store.attempts.latestForDelivery(delivery.id, 2)).toStrictEqual(attempts.slice(1, 3));
        expect(await store.attempts.latestFor([delivery.id, second.id, "dlv_missing"])).toEqual(
          new Map([
            [delivery.id, attempts[2]!],
            [second.id, attempts[3]!],
          ]),
        );
        expect(await store.attempts.latestFor([])).toEqual(new Map());
      });
    });

    describe("idempotency", () => {
      test("claim, get, complete, release; expiry by deleteOlderThan", async () => {
        const t = at();
        expect(await store.write((tx) => tx.idempotency.claim("org_1", "k1", "h1", t))).toBe(true);
        expect(await store.write((tx) => tx.idempotency.claim("org_1", "k1", "h2", t))).toBe(false);
        expect(await store.write((tx) => tx.idempotency.claim("org_2", "k1", "h1", t))).toBe(true);
        expect(await store.idempotency.get("org_1", "k1")).toStrictEqual({
          scope: "org_1",
          key: "k1",
          requestHash: "h1",
          state: "in_progress",
          responseStatus: null,
          responseBody: null,
          createdAt: t,
        });
        await store.write((tx) => tx.idempotency.complete("org_1", "k1", 202, '{"ok":true}'));
        expect(await store.idempotency.get("org_1", "k1")).toMatchObject({ state: "done", responseStatus: 202, responseBody: '{"ok":true}' });
        await store.write((tx) => tx.idempotency.release("org_2", "k1"));
        expect(await store.idempotency.get("org_2", "k1")).toBeUndefined();
        expect(await store.write((tx) => tx.idempotency.claim("org_2", "k1", "h3", t + 10))).toBe(true);

        expect(await store.write((tx) => tx.idempotency.deleteOlderThan(t + 10))).toBe(1);
        expect(await store.idempotency.get("org_1", "k1")).toBeUndefined();
        expect(await store.write((tx) => tx.idempotency.claim("org_1", "k1", "h4", t + 20))).toBe(true);
      });

      test("concurrent claims of one key: exactly one wins", async () => {
        const t = at();
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.write((tx) => tx.idempotency.claim("org_1", "same", `h${i}`, t))));
        expect(results.filter(Boolean).length).toBe(1);
      });
    });

    describe("retention", () => {
      test("deleteBatch: old attempts; old finished deliveries (never pending); events and deleted endpoints nothing references", async () => {
        const { org, endpoint, event, delivery } = await published();
        const gone = endpointRow(org.id, { deletedAt: T0 });
        const lone = eventRow(org.id);
        const finished = newDelivery(event, endpoint.id);
        await store.write(async (tx) => {
          await tx.endpoints.insertWithinLimit(gone, 10);
          await tx.events.insertIfNew(lone);
          await tx.deliveries.insertMany([finished]);
          await tx.deliveries.recordOutcome(outcome(finished.id), at(), "pending");
          for (let i = 0; i < 3; i++) await tx.attempts.insert(attemptRow(finished.id, endpoint.id));
        });
        const cutoff = at();
        const del = (table: "attempts" | "deliveries" | "events" | "endpoints", limit = 10) => store.write((tx) => tx.retention.deleteBatch(table, cutoff, limit));
        expect(await del("attempts", 2)).toBe(2);
        expect(await del("attempts")).toBe(1);
        expect(await del("deliveries")).toBe(1);
        expect(await store.deliveries.get(endpoint.id, delivery.id)).toBeDefined();
        // The event still has its pending delivery; the lone one goes. The deleted endpoint has no deliveries.
        expect(await del("events")).toBe(1);
        expect(await store.events.get(org.id, event.id)).toBeDefined();
        expect(await store.events.get(org.id, lone.id)).toBeUndefined();
        expect(await del("endpoints")).toBe(1);
        expect(await store.endpoints.getById(gone.id)).toBeUndefined();
        expect(await store.endpoints.getById(endpoint.id)).toBeDefined();
        expect(await store.write((tx) => tx.retention.deleteBatch("deliveries", T0 - 1, 10))).toBe(0);
      });
    });

    describe("portal sessions", () => {
      const session = (orgId: string, over: Partial<PortalSessionRow> = {}): PortalSessionRow => {
        const createdAt = at();
        return {
          id: newId("ps", createdAt),
          orgId,
          readOnly: false,
          linkHash: `link-${createdAt}`,
          linkExpiresAt: createdAt + 600_000,
          sessionHash: null,
          expiresAt: createdAt + 3_600_000,
          returnUrl: null,
          createdBy: "key_x",
          createdAt,
          usedAt: null,
          revokedAt: null,
          ...over,
        };
      };

      test("a link is used once, however many use it at once; then it is found by its session", async () => {
        const org = orgRow();
        const row = session(org.id, { returnUrl: "https://app.example/back", readOnly: true });
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          await tx.portalSessions.insert(row);
        });
        expect(await store.portalSessions.findByLink(row.linkHash)).toStrictEqual(row);
        const now = row.createdAt + 1;
        const tries = await Promise.all(Array.from({ length: 6 }, (_, i) => store.write((tx) => tx.portalSessions.useLink(row.linkHash, `session-${i}`, now))));
        const won = tries.filter((t) => t !== undefined);
        expect(won).toHaveLength(1);
        expect(won[0]).toStrictEqual({ ...row, usedAt: now, sessionHash: won[0]!.sessionHash });
        expect(await store.portalSessions.findBySession(won[0]!.sessionHash!)).toStrictEqual(won[0]!);
      });

      test("an expired or revoked link is not used; ended sessions are deleted in batches", async () => {
        const org = orgRow();
        const expired = session(org.id);
        const revoked = session(org.id);
        await store.write(async (tx) => {
          await tx.orgs.insert(org);
          await tx.portalSessions.insert(expired);
          await tx.portalSessions.insert(revoked);
          await tx.portalSessions.revoke(revoked.id, revoked.createdAt + 1);
        });
        expect(await store.write((tx) => tx.portalSessions.useLink(expired.linkHash, "s", expired.linkExpiresAt))).toBeUndefined();
        expect(await store.write((tx) => tx.portalSessions.useLink(revoked.linkHash, "s", revoked.createdAt + 2))).toBeUndefined();
        const after = Math.max(expired.expiresAt, revoked.expiresAt) + 1;
        expect(await store.write((tx) => tx.portalSessions.deleteEnded(after, 1))).toBe(1);
        expect(await store.write((tx) => tx.portalSessions.deleteEnded(after, 10))).toBe(1);
        expect(await store.portalSessions.findByLink(expired.linkHash)).toBeUndefined();
      });
    });

    describe("delivery counts over time", () => {
      test("counts an endpoint's deliveries by status in buckets of their creation time", async () => {
        // Ids made at a time of our choosing without newId, whose ids are monotonic across the
        // process (one made for a future time would shift every later one): just above the bound.
        const base = at();
        const madeAt = (t: number) => `${idBound("dlv", t - 1)}0000000000000001`;
        const { endpoint, event } = await published();
        const delivery = newDelivery(event, endpoint.id, { id: madeAt(base), createdAt: base, dueAt: base });
        const later = newDelivery(event, endpoint.id, { id: madeAt(base + 1_000), createdAt: base + 1_000, dueAt: base + 1_000 });
        await store.write(async (tx) => {
          await tx.deliveries.insertMany([delivery, later]);
          await tx.deliveries.recordOutcome(outcome(later.id), at(), "pending");
        });
        const from = delivery.createdAt;
        const buckets = await store.deliveries.countsByBucket(endpoint.id, from, later.createdAt + 1, later.createdAt - from);
        expect(buckets).toStrictEqual([
          { start: from, counts: { pending: 1, succeeded: 0, failed: 0, cancelled: 0 } },
          { start: later.createdAt, counts: { pending: 0, succeeded: 1, failed: 0, cancelled: 0 } },
        ]);
        expect(await store.deliveries.countsByBucket("wh_none", from, from + 10, 5)).toStrictEqual([
          { start: from, counts: { pending: 0, succeeded: 0, failed: 0, cancelled: 0 } },
          { start: from + 5, counts: { pending: 0, succeeded: 0, failed: 0, cancelled: 0 } },
        ]);
      });
    });

    describe("exclusive", () => {
      test("runs the job and answers its value; the job's error passes through", async () => {
        expect(await store.exclusive("contract-job", async () => 42)).toBe(42);
        const error = await store.exclusive("contract-job", async () => Promise.reject(new Error("job failed"))).catch((e: Error) => e);
        expect((error as Error).message).toBe("job failed");
        // The failed run left nothing held.
        expect(await store.exclusive("contract-job", async () => "again")).toBe("again");
      });
    });

    describe("storage faults", () => {
      test("with the storage gone, writes, reads and checkWritable reject with the 503 STORAGE_UNAVAILABLE; after it is back they work again", async () => {
        if (!opened.fault) return;
        const org = orgRow();
        await store.write((tx) => tx.orgs.insert(org));
        const restore = await opened.fault();
        try {
          await expectStorageUnavailable(store.write((tx) => tx.orgs.insert(orgRow())));
          await expectStorageUnavailable(store.checkWritable());
          if (opened.faultSparesReads) expect(await store.orgs.get(org.id)).toStrictEqual(org);
          else await expectStorageUnavailable(store.orgs.get(org.id));
        } finally {
          await restore();
        }
        const again = orgRow();
        await untilResolves(() => store.write((tx) => tx.orgs.insert(again)));
        await store.checkWritable();
        expect(await store.orgs.get(again.id)).toStrictEqual(again);
      });
    });
  });
}

/** Retries `fn` until it resolves (connections cut by an outage may fail once more after it). */
export async function untilResolves<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await Bun.sleep(50);
    }
  }
}
