/**
 * /docs as a person uses it, in a real headless Chromium: Authorize with a key, then Try it out ->
 * Execute with the defaults on the key operations of all three dialects. Needs /usr/bin/chromium
 * (`.ci/run` installs it); without it the suite fails in CI and is skipped, loudly, elsewhere.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);
if (!haveChromium) console.warn(`SKIPPED test/e2e/docs-browser.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);

/** Screenshots of what a person sees, for looking at. */
const SHOTS = process.env.WEBHOOKD_SCREENSHOTS;

async function openDocs(browser: Browser, server: TestServer, key: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${server.url}/docs`);
  await page.locator(".opblock").first().waitFor();
  await page.locator("button.authorize").first().click();
  // The first scheme is X-API-Key.
  const apiKey = page.locator(".dialog-ux .auth-container").first();
  await apiKey.locator("input").fill(key);
  await apiKey.locator("button.authorize").click();
  await apiKey.locator("button.btn-done").click();
  return page;
}

function operation(page: Page, method: string, path: string): Locator {
  return page.locator(`.opblock.opblock-${method.toLowerCase()}`).filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
}

/** Try it out -> Execute with the defaults (path parameters filled in as a person would); the status and body shown. */
async function tryItOut(page: Page, method: string, path: string, params: Record<string, string> = {}, shot?: string) {
  const op = operation(page, method, path);
  await op.locator(".opblock-summary").click();
  await op.getByRole("button", { name: "Try it out" }).click();
  for (const [name, value] of Object.entries(params)) await op.locator(`tr[data-param-name="${name}"] input`).fill(value);
  await op.getByRole("button", { name: "Execute" }).click();
  const row = op.locator(".live-responses-table tbody tr.response").first();
  await row.waitFor();
  const status = Number((await row.locator(".response-col_status").innerText()).trim());
  const text = await row.locator(".response-col_description pre").first().innerText();
  if (SHOTS && shot) await op.screenshot({ path: join(SHOTS, `${shot}.png`) });
  await op.locator(".opblock-summary").click(); // collapse, so the next one is in view
  return { status, body: text ? JSON.parse(text) : null };
}

describe.skipIf(!haveChromium)("/docs in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(() => browser?.close());

  describe("with the probe off", () => {
    let server: TestServer;
    let page: Page;
    beforeAll(async () => {
      server = await startTestServer();
      const { key } = await server.newTenant();
      page = await openDocs(browser, server, key);
    });
    afterAll(async () => {
      await page?.close();
      await server?.stop();
    });

    test("the canonical API: create, list, publish, rotate the secret, test every endpoint", async () => {
      const created = await tryItOut(page, "POST", "/api/v1/webhooks", {}, "api-create");
      expect(created.status).toBe(201);
      expect(created.body.data).toMatchObject({ url: "https://your-receiver.example/webhook", events: ["call.ended"] });
      const id = created.body.data.id as string;

      const list = await tryItOut(page, "GET", "/api/v1/webhooks");
      expect(list.status).toBe(200);
      expect(list.body.data.map((e: { id: string }) => e.id)).toEqual([id]);

      const published = await tryItOut(page, "POST", "/api/v1/events", {}, "api-publish");
      expect(published).toMatchObject({ status: 202, body: { success: true, data: { event: "call.ended", deliveries: 1, duplicate: false } } });

      // The optional body is sent as shown: a grace period.
      const rotated = await tryItOut(page, "POST", "/api/v1/webhooks/{id}/rotate-secret", { id }, "api-rotate");
      expect(rotated.status).toBe(200);
      expect(rotated.body.data.secret).toStartWith("whsec_");

      const tested = await tryItOut(page, "POST", "/api/v1/webhooks/test");
      expect(tested).toMatchObject({ status: 200, body: { data: { success: true, deliveries: 1 } } });

      const types = await tryItOut(page, "GET", "/api/v1/event-types");
      expect(types.status).toBe(200);
    });

    test("the placeholder id of the example answers 404, as its description says", async () => {
      const op = operation(page, "GET", "/api/v1/webhooks/{id}");
      await op.locator(".opblock-summary").click();
      await expect(op.locator('tr[data-param-name="id"]').innerText()).resolves.toContain("placeholder");
      await op.locator(".opblock-summary").click();
      const got = await tryItOut(page, "GET", "/api/v1/webhooks/{id}", { id: "wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E" });
      expect(got).toMatchObject({ status: 404, body: { success: false, error: { code: "NOT_FOUND" } } });
    });

    test("seed 003's /v1/webhook_endpoints: create, rotate_secret", async () => {
      const created = await tryItOut(page, "POST", "/v1/webhook_endpoints", {}, "seed003-create");
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ enabled_events: ["call.ended", "call.failed"], status: "enabled" });
      const rotated = await tryItOut(page, "POST", "/v1/webhook_endpoints/{id}/rotate_secret", { id: created.body.id });
      expect(rotated.status).toBe(200);
      expect(rotated.body.signing_secret).toStartWith("whsec_");
    });

    test("seed 004's /v1/backend/webhooks: create, test, get the secret", async () => {
      const created = await tryItOut(page, "POST", "/v1/backend/webhooks", {}, "seed004-create");
      expect(created.status).toBe(201);
      expect(created.body.data).toMatchObject({ event_types: ["call.ended"], enabled: true });
      const tested = await tryItOut(page, "POST", "/v1/backend/webhooks/test");
      expect(tested).toMatchObject({ status: 200, body: { data: { success: true } } });
      const secret = await tryItOut(page, "GET", "/v1/backend/webhooks/{id}/secret", { id: created.body.data.id });
      expect(secret.body.data.secret).toBe(created.body.data.secret);
    });
  });

  // A fresh `webhookd serve` probes every new URL: the example's placeholder is refused, and says why.
  describe("with the probe on (the default)", () => {
    let server: TestServer;
    let page: Page;
    beforeAll(async () => {
      server = await startTestServer({ WEBHOOKD_PROBE: "true" });
      const { key } = await server.newTenant();
      page = await openDocs(browser, server, key);
    });
    afterAll(async () => {
      await page?.close();
      await server?.stop();
    });

    for (const path of ["/api/v1/webhooks", "/v1/webhook_endpoints", "/v1/backend/webhooks"]) {
      test(`POST ${path}: the placeholder URL fails the probe, as the operation says`, async () => {
        const op = operation(page, "POST", path);
        await op.locator(".opblock-summary").click();
        await expect(op.locator(".opblock-description-wrapper").first().innerText()).resolves.toContain("placeholder that answers nothing, so it is refused with 400 URL_PROBE_FAILED");
        await op.locator(".opblock-summary").click();
        const created = await tryItOut(page, "POST", path, {}, `probe-${path.replaceAll("/", "_")}`);
        expect(created.status).toBe(400);
        expect(created.body.error.code).toBe("URL_PROBE_FAILED");
      });
    }
  });
});
