/**
 * The portal as people use it (issue 13, item 4), in a real headless Chromium: an operator signs
 * in with the admin key, creates an org, a key and a portal link; the customer opens the link,
 * creates an endpoint against a loopback receiver, sends a test event, sees a delivery published
 * through the API with its attempts, makes the receiver fail and replays, rotates the secret
 * with a grace period, disables the endpoint. A read-only link changes nothing (no buttons, and
 * the server refuses), a reused link is refused, hostile text renders as text, axe finds no
 * serious or critical violation, and no page breaks its CSP.
 *
 * Screenshots of each main screen go to artifacts/portal/ (git-ignored); with
 * WEBHOOKD_README_SCREENSHOTS=1 the README's go to docs/screenshots/ as well.
 * Needs /usr/bin/chromium (`.ci/run` installs it): without it the suite fails in CI and is
 * skipped, loudly, elsewhere.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";
import { ADMIN_KEY, startTestServer, type TestServer } from "../helpers/server.ts";
import { eventually, startReceiver, type Receiver } from "../helpers/receiver.ts";
import { REPO } from "../helpers/binary.ts";
import { selfSignedCert } from "../helpers/tls.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);
if (!haveChromium) console.warn(`SKIPPED test/e2e/portal-browser.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);

const ARTIFACTS = join(REPO, "artifacts", "portal");
const README_SHOTS = process.env.WEBHOOKD_README_SCREENSHOTS === "1" ? join(REPO, "docs", "screenshots") : null;
const AXE = await Bun.file(join(REPO, "node_modules", "axe-core", "axe.min.js")).text();

const HOSTILE_IMG = "<img src=x onerror=alert(1)>";
const HOSTILE_SCRIPT = "</script><script>alert(2)</script>";

/** What must never happen on any page: a dialog (the hostile payloads' alert), a CSP violation, an uncaught error. */
const incidents: string[] = [];

function watch(page: Page): Page {
  // Well inside the test timeout, so a failing wait reports what it waited for.
  page.setDefaultTimeout(10_000);
  page.on("dialog", (d) => {
    incidents.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => incidents.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) incidents.push(`console: ${m.text()}`);
  });
  return page;
}

/** The screens the README shows (docs/screenshots/, committed): the main ones, not every state. */
const README_SCREENS = new Set(["customer-endpoints", "customer-endpoint", "customer-delivery", "operator-org", "operator-health"]);

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  if (README_SHOTS && README_SCREENS.has(name)) await page.screenshot({ path: join(README_SHOTS, `${name}.png`), fullPage: false });
}

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(page: Page): Promise<string[]> {
  // evaluate runs through the DevTools protocol, outside the page's CSP (which refuses inline script).
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run((globalThis as any).document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, where: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}) at ${v.where.join(", ")}`);
}

describe.skipIf(!haveChromium)("the portal in Chromium", () => {
  let browser: Browser;
  let server: TestServer;
  let receiver: Receiver;
  let operator: Page;
  let customerContext: BrowserContext;
  let customer: Page;
  const shared = { orgId: "", key: "", link: "", endpointId: "" };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    if (README_SHOTS) mkdirSync(README_SHOTS, { recursive: true });
    // One quick retry, so a failing receiver makes a failed delivery within the test; a logo, as an operator would brand it.
    const logo = join(ARTIFACTS, "logo.svg");
    writeFileSync(logo, "<svg xmlns='http://www.w3.org/2000/svg' width='28' height='28'><circle cx='14' cy='14' r='12' fill='#2457c5'/></svg>");
    server = await startTestServer({ WEBHOOKD_RETRY_SCHEDULE: "100ms", WEBHOOKD_PORTAL_LOGO: logo });
    receiver = startReceiver();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    operator = watch(await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage());
    customerContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ["clipboard-read", "clipboard-write"] });
    customer = watch(await customerContext.newPage());
  });
  afterAll(async () => {
    await browser?.close();
    receiver?.stop();
    await server?.stop();
  });

  test("the operator signs in with the admin key, creates an org, a key and a portal link", async () => {
    await operator.goto(`${server.url}/portal`);
    // A wrong key is refused on the form, and nothing is kept.
    await operator.getByLabel("Admin API key").fill("sk_admin_" + "x".repeat(40));
    await operator.getByRole("button", { name: "Sign in" }).click();
    await operator.getByRole("alert").filter({ hasText: "UNAUTHORIZED" }).waitFor();
    expect(await operator.evaluate(() => (globalThis as any).sessionStorage.length)).toBe(0);
    await operator.getByLabel("Admin API key").fill(ADMIN_KEY);
    await shot(operator, "operator-sign-in");
    await operator.getByRole("button", { name: "Sign in" }).click();
    await operator.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();

    await operator.getByLabel("Name").fill(`Acme ${HOSTILE_IMG}`);
    await operator.getByRole("button", { name: "Create organization" }).click();
    await operator.getByRole("heading", { name: `Acme ${HOSTILE_IMG}`, level: 1 }).waitFor();
    shared.orgId = /#\/orgs\/(org_\w+)/.exec(operator.url())![1]!;

    await operator.getByLabel("Name", { exact: true }).fill("backend");
    await operator.getByRole("button", { name: "Create key" }).click();
    shared.key = (await operator.getByTestId("new-key").innerText()).trim();
    expect(shared.key).toMatch(/^sk_live_/);

    await operator.getByRole("button", { name: "Create portal link" }).click();
    shared.link = (await operator.getByTestId("portal-link").innerText()).trim();
    expect(shared.link).toStartWith(`${server.url}/portal/login?token=`);
    await shot(operator, "operator-org");
    expect(await axeViolations(operator)).toEqual([]);

    // The key works through the API (what the backend will publish with).
    const list = await server.api("GET", "/api/v1/webhooks", { key: shared.key });
    expect(list.status).toBe(200);
  });

  test("the operator sees the orgs and the server's health", async () => {
    await operator.goto(`${server.url}/portal#/`);
    await operator.getByRole("link", { name: `Acme ${HOSTILE_IMG}` }).waitFor();
    await shot(operator, "operator-orgs");
    expect(await axeViolations(operator)).toEqual([]);
    await operator.getByRole("link", { name: "Health" }).click();
    await operator.getByText("Due queue depth").waitFor();
    await expect(operator.locator(".tile").first().innerText()).resolves.toContain("writable");
    await shot(operator, "operator-health-at-start");
    expect(await axeViolations(operator)).toEqual([]);
  });

  test("the customer opens the link: a session cookie, and the token leaves the address bar", async () => {
    // A mail or chat scanner fetches the link first: that GET uses nothing.
    const scanned = await fetch(shared.link, { redirect: "manual" });
    expect(scanned.status).toBe(200);
    expect(scanned.headers.get("set-cookie")).toBeNull();
    const posted: Request[] = [];
    const seeLogin = (r: Request) => {
      if (r.method() === "POST" && r.url() === `${server.url}/portal/login`) posted.push(r);
    };
    customer.on("request", seeLogin);
    await customer.goto(shared.link);
    await customer.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
    // Unsubscribed once seen: the page's later tests need no request events (and once, with them,
    // playwright-core lost track of a request whose response then came in).
    customer.off("request", seeLogin);
    expect(customer.url()).toBe(`${server.url}/portal`);
    // The link page's script posted the token: the address bar and the history never keep it.
    expect(posted).toHaveLength(1);
    // What the login CSRF check sees from Chromium (Referrer-Policy no-referrer makes a form's Origin "null").
    expect(await posted[0]!.allHeaders()).toMatchObject({ origin: "null", "sec-fetch-site": "same-origin" });
    await customer.goBack();
    expect(customer.url()).not.toContain("token=");
    await customer.goto(`${server.url}/portal`);
    await customer.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
    const cookies = await customerContext.cookies();
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }))).toEqual([{ name: "webhookd_portal", httpOnly: true, sameSite: "Strict" }]);
    // The org's name, hostile as it is, shows as text.
    await expect(customer.locator(".who").innerText()).resolves.toContain(HOSTILE_IMG);
    // The operator's logo, served by webhookd itself.
    await eventually(async () => (await customer.locator("header img.logo").evaluate((img) => (img as any).naturalWidth)) === 28);
  });

  test("without script, the link page's button opens the portal", async () => {
    const link = await server.api("POST", "/api/v1/portal/sessions", { key: shared.key, body: { readOnly: true } });
    // The page's script never arrives (blocked here; a browser with script off is the same to the page).
    const context = await browser.newContext();
    await context.route("**/portal/assets/login.js", (route) => route.abort());
    const page = watch(await context.newPage());
    await page.goto(link.body.data.url);
    await page.getByRole("heading", { name: /^Opening / }).waitFor();
    await shot(page, "link-page-no-script");
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole("button", { name: /^Open / }).click();
    await page.waitForURL(`${server.url}/portal`);
    expect((await context.cookies()).map((c) => c.name)).toEqual(["webhookd_portal"]);
    await context.close();
  });

  test("a reused link is refused with a clear page", async () => {
    const other = watch(await (await browser.newContext()).newPage());
    const res = await other.goto(shared.link);
    expect(res?.status()).toBe(410);
    await other.getByRole("heading", { name: "This link was already used" }).waitFor();
    await shot(other, "link-reused");
    expect(await axeViolations(other)).toEqual([]);
    await other.context().close();
  });

  test("the customer adds an endpoint from the catalog's types, with inline validation", async () => {
    await customer.getByRole("button", { name: "Add endpoint" }).click();
    await customer.getByRole("heading", { name: "Add an endpoint" }).waitFor();
    await customer.getByLabel("Endpoint URL").fill("ftp://nowhere");
    await customer.getByLabel("call.ended").check();
    await customer.getByRole("button", { name: "Create endpoint" }).click();
    // The API's own message, beside the field.
    await customer.locator("#url-error").waitFor();
    await customer.getByLabel("Endpoint URL").fill(`${receiver.url}/hook`);
    await customer.getByLabel("Description (optional)").fill(`Prod ${HOSTILE_SCRIPT} ${HOSTILE_IMG}`);
    await customer.getByLabel("Every contact.* event").check();
    await shot(customer, "customer-add-endpoint");
    expect(await axeViolations(customer)).toEqual([]);
    await customer.getByRole("button", { name: "Create endpoint" }).click();
    const secret = (await customer.getByTestId("new-secret").innerText()).trim();
    expect(secret).toStartWith("whsec_");
    await customer.getByRole("button", { name: "Go to the endpoint" }).click();
    await customer.getByRole("heading", { name: `${receiver.url}/hook`, level: 1 }).waitFor();
    shared.endpointId = /endpoints\/(wh_\w+)/.exec(customer.url())![1]!;
    const ep = await server.api("GET", `/api/v1/webhooks/${shared.endpointId}`, { key: shared.key });
    expect(ep.body.data).toMatchObject({ events: ["call.ended", "contact.*"], description: `Prod ${HOSTILE_SCRIPT} ${HOSTILE_IMG}` });
  });

  test("a test send shows its outcome; the receiver got it", async () => {
    const before = receiver.received.length;
    await customer.getByLabel("Event type").first().selectOption("call.ended");
    await customer.getByRole("button", { name: "Send test" }).click();
    await customer.getByText(/Delivered: HTTP 200 in \d+ ms/).waitFor();
    await receiver.waitFor(before + 1);
    expect(JSON.parse(receiver.received.at(-1)!.body).event).toBe("call.ended");
  });

  test("an event published through the API shows in the log with its attempts; hostile data stays text", async () => {
    const published = await server.api("POST", "/api/v1/events", {
      key: shared.key,
      body: { event: "call.ended", data: { note: HOSTILE_IMG, script: HOSTILE_SCRIPT } },
    });
    expect(published.status).toBe(202);
    await eventually(() => receiver.received.some((r) => r.body.includes("onerror")));
    await customer.getByRole("button", { name: "Refresh" }).click();
    await customer.getByTestId("deliveries").locator("tbody tr").nth(1).waitFor();
    await customer.locator("canvas").first().waitFor();
    await shot(customer, "customer-endpoint");
    expect(await axeViolations(customer)).toEqual([]);

    // The newest delivery is the published one.
    await customer.getByTestId("deliveries").locator("tbody tr").first().getByRole("link").click();
    await customer.getByRole("heading", { name: /^Delivery dlv_/ }).waitFor();
    await expect(customer.getByLabel("Payload").innerText()).resolves.toContain(HOSTILE_IMG);
    await expect(customer.getByLabel("Payload").innerText()).resolves.toContain(HOSTILE_SCRIPT);
    await customer.getByRole("heading", { name: /^Attempt 1 / }).waitFor();
    // The request headers as sent, the signatures the receiver checked among them.
    const got = receiver.received.find((r) => r.body.includes("onerror"))!;
    const first = customer.locator(".attempt").first();
    await first.getByText("Request headers as sent").click();
    const sentTable = first.locator("details", { hasText: "Request headers as sent" }).locator("table.kv");
    for (const name of ["x-webhook-signature", "webhook-signature", "webhook-id", "webhook-timestamp", "user-agent"]) {
      const row = sentTable.locator("tr").filter({ has: customer.locator("th", { hasText: new RegExp(`^${name}$`) }) });
      await expect(row.locator("td").innerText()).resolves.toBe(got.headers[name]!);
    }
    await customer.getByText("Response headers and body").first().click();
    await expect(customer.getByLabel("Response body of attempt 1").innerText()).resolves.toBe("ok");
    await shot(customer, "customer-delivery");
    expect(await axeViolations(customer)).toEqual([]);
    // Nothing hostile became markup.
    expect(await customer.locator("img:not(.logo)").count()).toBe(0);
  });

  test("the receiver fails; a replay shows the failure as a new attempt", async () => {
    receiver.respond(() => ({ status: 500, body: HOSTILE_IMG, headers: { "x-hostile": HOSTILE_SCRIPT } }));
    await customer.getByRole("button", { name: "Replay" }).click();
    await customer.getByText(/Failed: HTTP 500 in \d+ ms/).waitFor();
    await customer.getByRole("heading", { name: /^Replay 1 / }).waitFor();
    const second = customer.locator(".attempt").nth(1);
    await second.getByText("Response headers and body").click();
    await expect(customer.getByLabel("Response body of replay 1").innerText()).resolves.toBe(HOSTILE_IMG);
    await expect(second.locator("details", { hasText: "Response headers and body" }).locator("table.kv").innerText()).resolves.toContain(HOSTILE_SCRIPT);
    expect(await customer.locator("img:not(.logo)").count()).toBe(0);
  });

  test("a delivery that fails every attempt is failed; recover counts it first, then re-sends it", async () => {
    // Still answering 500: the one retry (WEBHOOKD_RETRY_SCHEDULE=100ms) fails too.
    const published = await server.api("POST", "/api/v1/events", { key: shared.key, body: { event: "contact.created", data: { id: "con_1" } } });
    const eventId = published.body.data.id;
    await eventually(async () => (await server.api("GET", `/api/v1/events/${eventId}`, { key: shared.key })).body.data.deliveries?.[0]?.status === "failed");
    receiver.respond(() => ({ status: 200 }));
    await customer.getByRole("link", { name: "← Endpoint" }).click();
    await customer.getByLabel("Re-send every failed delivery since").fill("2020-01-01T00:00");
    await customer.getByRole("button", { name: "Count them" }).click();
    await customer.getByText("1 failed delivery since then.").waitFor();
    await customer.getByRole("button", { name: "Recover" }).click();
    await customer.getByRole("button", { name: "Yes, recover" }).click();
    await customer.getByText("1 being re-sent.").waitFor();
    await eventually(async () => (await server.api("GET", `/api/v1/events/${eventId}`, { key: shared.key })).body.data.deliveries?.[0]?.status === "succeeded");
  });

  test("the customer filters the log by status and event type", async () => {
    const filters = customer.getByRole("form", { name: "Filter deliveries" });
    await filters.getByLabel("Event type").selectOption("call.ended");
    await filters.getByLabel("Status").selectOption("succeeded");
    await eventually(async () => (await customer.getByTestId("deliveries").locator("tbody tr").count()) === 2);
    await filters.getByLabel("Status").selectOption("failed");
    await customer.getByText("No deliveries match.").waitFor();
    await filters.getByLabel("Status").selectOption("");
    await filters.getByLabel("Event type").selectOption("");
  });

  test("the secret is revealed on click and rotated with a grace period", async () => {
    const masked = (await customer.getByTestId("secret").innerText()).trim();
    expect(masked).toContain("••••");
    await customer.getByRole("button", { name: "Reveal" }).click();
    await eventually(async () => (await customer.getByTestId("secret").innerText()).trim().startsWith("whsec_") && !(await customer.getByTestId("secret").innerText()).includes("•"));
    const old = (await customer.getByTestId("secret").innerText()).trim();
    await customer.getByRole("button", { name: "Copy secret" }).click();
    await customer.getByRole("button", { name: "Copied" }).waitFor();
    expect(await customer.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(old);
    await customer.getByRole("button", { name: "Hide" }).click();
    await customer.getByLabel("Keep the old secret signing for").selectOption("3600");
    await customer.getByRole("button", { name: "Rotate secret" }).click();
    await customer.getByRole("button", { name: "Yes, rotate secret" }).click();
    await customer.getByText("Rotated: deliveries carry signatures with both secrets").waitFor();
    const rotated = (await customer.getByTestId("secret").innerText()).trim();
    expect(rotated).toStartWith("whsec_");
    expect(rotated).not.toBe(old);
    // The grace period holds: the next delivery is signed with both secrets.
    const before = receiver.received.length;
    await server.api("POST", "/api/v1/events", { key: shared.key, body: { event: "call.ended", data: { after: "rotation" } } });
    const [got] = (await receiver.waitFor(before + 1)).slice(before);
    expect(got!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
  });

  test("the customer disables the endpoint; the server agrees", async () => {
    await customer.getByRole("button", { name: "Disable" }).click();
    await customer.getByRole("button", { name: "Enable" }).waitFor();
    await expect(customer.locator(".facts .badge").first().innerText()).resolves.toBe("disabled");
    const ep = await server.api("GET", `/api/v1/webhooks/${shared.endpointId}`, { key: shared.key });
    expect(ep.body.data).toMatchObject({ isActive: false, disabledReason: "manual" });
    await customer.getByRole("link", { name: "← Endpoints" }).click();
    await customer.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
    await expect(customer.locator("table.list").innerText()).resolves.toContain("disabled by hand");
    await expect(customer.locator("table.list").innerText()).resolves.toContain(HOSTILE_SCRIPT);
    await shot(customer, "customer-endpoints");
    expect(await axeViolations(customer)).toEqual([]);
  });

  test("the operator sees the org's endpoints and deliveries through the admin key (X-Org-Id)", async () => {
    await operator.goto(`${server.url}/portal#/orgs/${shared.orgId}`);
    await operator.getByRole("link", { name: "Endpoints and deliveries" }).click();
    await operator.getByRole("link", { name: `${receiver.url}/hook` }).click();
    await operator.getByTestId("deliveries").locator("tbody tr").first().waitFor();
    expect(await operator.getByTestId("deliveries").locator("tbody tr").count()).toBeGreaterThanOrEqual(3);
    await shot(operator, "operator-org-endpoint");
    // The health figures now count the customer's deliveries.
    await operator.getByRole("link", { name: "Health" }).click();
    const published = operator.locator(".tile").filter({ hasText: "Events published" });
    await expect(published.locator(".tile-value").innerText()).resolves.not.toBe("0");
    await shot(operator, "operator-health");
  });

  test("the event catalog shows each type with its description and example", async () => {
    await customer.getByRole("link", { name: "Event catalog" }).click();
    await customer.getByRole("heading", { name: "call.ended", level: 2 }).waitFor();
    await expect(customer.getByLabel("Example call.ended payload").innerText()).resolves.toContain('"duration": 45');
    await shot(customer, "customer-catalog");
    expect(await axeViolations(customer)).toEqual([]);
  });

  test("all deliveries: the org's log across its endpoints, reached with the keyboard alone", async () => {
    // Tab from the top of the page to the navigation link, then Enter: no mouse.
    await customer.getByRole("link", { name: "All deliveries" }).focus();
    await customer.keyboard.press("Enter");
    await customer.getByRole("heading", { name: "All deliveries", level: 1 }).waitFor();
    // The new screen's heading has the focus, so a keyboard or screen reader user lands on it.
    await eventually(async () => (await customer.evaluate(() => (globalThis as any).document.activeElement?.textContent)) === "All deliveries");
    const rows = customer.getByTestId("deliveries").locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBeGreaterThanOrEqual(4);
    await expect(rows.first().innerText()).resolves.toContain(`${receiver.url}/hook`);
    await customer.locator("canvas").first().waitFor();
    await shot(customer, "customer-all-deliveries");
    expect(await axeViolations(customer)).toEqual([]);
    // Tab moves through the filters in order.
    await customer.getByRole("form", { name: "Filter deliveries" }).getByLabel("Status").focus();
    await customer.keyboard.press("Tab");
    await expect(customer.evaluate(() => (globalThis as any).document.activeElement?.closest("label")?.textContent)).resolves.toContain("Event type");
  });

  test("a deleted endpoint's deliveries stay in the org's log, marked; the detail opens and offers no replay", async () => {
    const old = await server.api("POST", "/api/v1/webhooks", { key: shared.key, body: { url: `${receiver.url}/old`, events: ["contact.updated"] } });
    expect(old.status).toBe(201);
    await server.api("POST", "/api/v1/events", { key: shared.key, body: { event: "contact.updated", data: { id: "c_1" } } });
    await eventually(async () => (await server.api("GET", `/api/v1/webhooks/${old.body.data.id}/deliveries?status=succeeded`, { key: shared.key })).body.data.length === 1);
    expect((await server.api("DELETE", `/api/v1/webhooks/${old.body.data.id}`, { key: shared.key })).status).toBe(204);

    await customer.getByRole("button", { name: "Refresh" }).click();
    const row = customer.getByTestId("deliveries").locator("tbody tr").filter({ hasText: `${receiver.url}/old` });
    await expect(row.locator(".badge-deleted").innerText()).resolves.toBe("deleted");
    await row.getByRole("link").click();
    await customer.getByRole("heading", { name: /^Delivery dlv_/ }).waitFor();
    await customer.getByText("Its endpoint was deleted").waitFor();
    await customer.getByRole("heading", { name: /^Attempt 1 / }).waitFor();
    expect(await customer.getByRole("button", { name: "Replay" }).count()).toBe(0);
    await shot(customer, "customer-deleted-endpoint-delivery");
    expect(await axeViolations(customer)).toEqual([]);
    await customer.getByRole("link", { name: "← All deliveries" }).click();
    await customer.getByRole("heading", { name: "All deliveries", level: 1 }).waitFor();
  });

  test("a read-only link shows everything, offers no change, and the server refuses one", async () => {
    const link = await server.api("POST", "/api/v1/portal/sessions", { key: shared.key, body: { readOnly: true } });
    // In a dark-mode browser: the dark theme meets the same contrast checks.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
    const page = watch(await context.newPage());
    await page.goto(link.body.data.url);
    await page.getByText("read-only", { exact: true }).waitFor();
    await page.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
    expect(await page.getByRole("button", { name: "Add endpoint" }).count()).toBe(0);
    await page.getByRole("link", { name: `${receiver.url}/hook` }).click();
    await page.getByRole("heading", { name: "Deliveries" }).waitFor();
    for (const name of ["Edit", "Enable", "Disable", "Delete", "Reveal", "Rotate secret", "Send test", "Count them"]) {
      expect([name, await page.getByRole("button", { name, exact: true }).count()]).toEqual([name, 0]);
    }
    await shot(page, "customer-read-only-dark");
    expect(await axeViolations(page)).toEqual([]);
    // Forcing it from the page, with the session's own CSRF token, is refused by the server.
    const status = await page.evaluate(async (id) => {
      const me = (await (await fetch("/api/v1/portal/session")).json()) as { data: { csrfToken: string } };
      const res = await fetch(`/api/v1/webhooks/${id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", "x-csrf-token": me.data.csrfToken },
        body: JSON.stringify({ isActive: true }),
      });
      return res.status;
    }, shared.endpointId);
    expect(status).toBe(403);
    const ep = await server.api("GET", `/api/v1/webhooks/${shared.endpointId}`, { key: shared.key });
    expect(ep.body.data.isActive).toBe(false);
    // The session ends behind the page's back (here: signed out by another tab): the next step says so.
    const other = await context.newPage();
    await other.goto(`${server.url}/portal`);
    await other.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: "← Endpoints" }).click();
    await page.getByText("Your session has ended.").waitFor();
    await context.close();
  });

  test("signing out ends the session; nothing hostile ran on any page, and no page broke its CSP", async () => {
    await customer.getByRole("button", { name: "Sign out" }).click();
    await customer.getByRole("heading", { name: "Operator sign-in" }).waitFor();
    const status = await customer.evaluate(async () => (await fetch("/api/v1/webhooks")).status);
    expect(status).toBe(401);
    expect(incidents).toEqual([]);
  });

  test("embedding: an origin WEBHOOKD_PORTAL_FRAME_ANCESTORS names shows the portal in an iframe; any other is refused", async () => {
    // The customer's app: a page on another origin (another port) with the README's iframe.
    let frameSrc = "";
    const app = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response(`<!DOCTYPE html><title>App</title><iframe src="${frameSrc}" title="Webhooks" width="1200" height="800"></iframe>`, { headers: { "content-type": "text/html" } }),
    });
    const appOrigin = `http://127.0.0.1:${app.port}`;
    const embedding = await startTestServer({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: `'self' ${appOrigin}` });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const tenant = await embedding.newTenant();
      frameSrc = (await embedding.api("POST", "/api/v1/portal/sessions", { key: tenant.key, body: {} })).body.data.url;
      const page = watch(await context.newPage());
      await page.goto(appOrigin);
      const frame = page.frameLocator("iframe");
      await frame.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
      await frame.getByRole("button", { name: "Add endpoint" }).waitFor();
      await shot(page, "embedded");

      // The suite's own server keeps the default, 'self': the same page cannot frame it.
      frameSrc = (await server.api("POST", "/api/v1/portal/sessions", { key: shared.key, body: {} })).body.data.url;
      const refused = await context.newPage();
      const messages: string[] = [];
      refused.on("console", (m) => messages.push(m.text()));
      await refused.goto(appOrigin);
      await eventually(() => messages.some((m) => m.includes("frame-ancestors")));
      expect(await refused.frameLocator("iframe").getByRole("heading", { name: "Endpoints" }).count()).toBe(0);
    } finally {
      await context.close();
      await embedding.stop();
      app.stop(true);
    }
  });

  test("embedding from another site over https (third-party cookies phased out): the partitioned cookie works in the iframe", async () => {
    // Two sites on loopback: app.test frames portal.test, each behind its own TLS server (the
    // portal's is a TLS proxy that says X-Forwarded-Proto: https, as one in production would).
    // This Chromium blocks third-party cookies that are not partitioned, as Chrome's phase-out does:
    // the same cookie without Partitioned is refused here (tried: the frame's first API call is a 401).
    const cert = selfSignedCert(["DNS:app.test", "DNS:portal.test"]);
    const strictBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors", "--host-resolver-rules=MAP app.test 127.0.0.1, MAP portal.test 127.0.0.1", "--test-third-party-cookie-phaseout"],
    });
    let frameSrc = "";
    const app = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: cert.cert, key: cert.key },
      fetch: () => new Response(`<!DOCTYPE html><title>App</title><iframe src="${frameSrc}" title="Webhooks" width="1200" height="800"></iframe>`, { headers: { "content-type": "text/html" } }),
    });
    const embedding = await startTestServer({ WEBHOOKD_PORTAL_FRAME_ANCESTORS: `'self' https://app.test:${app.port}` });
    const proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: cert.cert, key: cert.key },
      async fetch(req) {
        const url = new URL(req.url);
        const headers = new Headers(req.headers);
        headers.set("x-forwarded-proto", "https");
        const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
        const answer = await fetch(`${embedding.url}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: "manual" });
        // fetch has decoded a gzipped body: pass it on as what it now is.
        const passed = new Headers(answer.headers);
        passed.delete("content-encoding");
        passed.delete("content-length");
        return new Response(answer.body, { status: answer.status, headers: passed });
      },
    });
    const context = await strictBrowser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const tenant = await embedding.newTenant();
      const path = (await embedding.api("POST", "/api/v1/portal/sessions", { key: tenant.key, body: {} })).body.data.path;
      frameSrc = `https://portal.test:${proxy.port}${path}`;
      const page = watch(await context.newPage());
      await page.goto(`https://app.test:${app.port}/`);
      const frame = page.frameLocator("iframe");
      await frame.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
      const [cookie] = await context.cookies(`https://portal.test:${proxy.port}`);
      expect(cookie).toMatchObject({ name: "webhookd_portal", sameSite: "None", secure: true, httpOnly: true });
      expect(cookie!.partitionKey).toContain("app.test");
      // A change made in the frame: the cookie, the CSRF token and the Origin check all pass.
      await frame.getByRole("button", { name: "Add endpoint" }).click();
      await frame.getByLabel("Endpoint URL").fill(`${receiver.url}/embedded`);
      await frame.getByLabel("call.ended").check();
      await frame.getByRole("button", { name: "Create endpoint" }).click();
      await frame.getByTestId("new-secret").waitFor();
      const list = await embedding.api("GET", "/api/v1/webhooks", { key: tenant.key });
      expect(list.body.data.map((e: { url: string }) => e.url)).toEqual([`${receiver.url}/embedded`]);
    } finally {
      await context.close();
      await strictBrowser.close();
      proxy.stop(true);
      await embedding.stop();
      app.stop(true);
    }
  });

  test("the watch above does see a CSP violation: markup injected into a portal page runs nothing and is reported", async () => {
    const page = await browser.newPage();
    const seen: string[] = [];
    page.on("console", (m) => seen.push(m.text()));
    page.on("dialog", (d) => (seen.push(`dialog ${d.message()}`), void d.dismiss()));
    await page.goto(`${server.url}/portal`);
    // Runs in the page: `document` is the browser's (this file is typed without the DOM library).
    await page.evaluate((html) => (globalThis as any).document.body.insertAdjacentHTML("beforeend", html), HOSTILE_IMG);
    await eventually(() => seen.some((t) => /Content Security Policy/.test(t)));
    expect(seen.some((t) => t.startsWith("dialog"))).toBe(false);
    await page.close();
  });
});
