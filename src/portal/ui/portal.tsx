/**
 * The portal's entry: finds out who is looking (a customer's session cookie, or an operator's
 * admin key in this tab's sessionStorage), then shows their screens. Preact renders every value
 * as text; nothing here builds HTML from strings.
 */
import "uplot/dist/uPlot.min.css";
import "./portal.css";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { createApi, SIGNED_OUT_EVENT, type Api, type EventType, type SessionInfo } from "./api.ts";
import { ErrorText, useLoad } from "./components.tsx";
import type { Ctx } from "./context.ts";
import { match, usePath } from "./router.ts";
import { EditEndpointView, EndpointForm, EndpointsView } from "./views/endpoints.tsx";
import { EndpointView } from "./views/endpoint.tsx";
import { DeliveryView } from "./views/delivery.tsx";
import { CatalogView } from "./views/catalog.tsx";
import { OrgDeliveriesView } from "./views/deliveries.tsx";
import { HealthView, OrgView, OrgsView } from "./views/operator.tsx";

const ADMIN_KEY_ITEM = "webhookd.adminKey";
const root = document.getElementById("app")!;
const TITLE = root.dataset.title || "Webhooks";
/** The operator's logo (WEBHOOKD_PORTAL_LOGO), served by webhookd itself. */
function Brand({ suffix = "" }: { suffix?: string }) {
  return (
    <span class="brand">
      {root.dataset.logo ? <img src={root.dataset.logo} alt="" class="logo" /> : null}
      {TITLE}
      {suffix}
    </span>
  );
}
// The brand colour comes from the server's settings; set through the CSSOM, which the CSP allows (no inline style).
if (root.dataset.brand) document.documentElement.style.setProperty("--brand", root.dataset.brand);

type Who = { kind: "loading" } | { kind: "customer"; api: Api; session: SessionInfo } | { kind: "operator"; api: Api } | { kind: "signed-out"; expired: boolean };

async function whoIsLooking(): Promise<Who> {
  const res = await fetch("/api/v1/portal/session", { credentials: "same-origin" });
  if (res.ok) {
    const session = (await res.json()).data as SessionInfo;
    return { kind: "customer", session, api: createApi({ kind: "session", csrfToken: session.csrfToken }) };
  }
  const key = sessionStorage.getItem(ADMIN_KEY_ITEM);
  if (key) return { kind: "operator", api: createApi({ kind: "admin", key, orgId: null }) };
  return { kind: "signed-out", expired: false };
}

/** The customer screens, for a session or for an operator inside an org. */
function CustomerRoutes({ ctx, path }: { ctx: Ctx; path: string }) {
  const rest = path.slice(ctx.base.length) || "/";
  let m: Record<string, string> | null;
  if (rest === "/" || rest === "/endpoints") return <EndpointsView ctx={ctx} />;
  if (rest === "/endpoints/new") return ctx.readOnly ? <p>This session is read-only.</p> : <EndpointForm ctx={ctx} />;
  if ((m = match("/endpoints/:id/edit", rest))) return <EditEndpointView ctx={ctx} id={m.id!} />;
  if ((m = match("/endpoints/:id/deliveries/:dlv", rest))) return <DeliveryView ctx={ctx} endpointId={m.id!} id={m.dlv!} />;
  if ((m = match("/endpoints/:id", rest))) return <EndpointView ctx={ctx} id={m.id!} />;
  if (rest === "/catalog") return <CatalogView ctx={ctx} />;
  if (rest === "/deliveries") return <OrgDeliveriesView ctx={ctx} />;
  return <p>Nothing here. <a href={`#${ctx.base}/`}>Back to the endpoints</a></p>;
}

function useCatalog() {
  return useLoad(() => fetch("/api/v1/event-types").then(async (r) => (await r.json()).data as EventType[]), []);
}

function Customer({ who, signOut }: { who: Extract<Who, { kind: "customer" }>; signOut: () => void }) {
  const path = usePath();
  const catalog = useCatalog();
  const ctx = useMemo<Ctx>(() => ({ api: who.api, base: "", readOnly: who.session.readOnly, catalog: catalog.data ?? [] }), [who, catalog.data]);
  return (
    <>
      <header class="top">
        <Brand />
        <nav aria-label="Main">
          <a href="#/" aria-current={path === "/" || path.startsWith("/endpoints") ? "page" : undefined}>Endpoints</a>
          <a href="#/deliveries" aria-current={path === "/deliveries" ? "page" : undefined}>All deliveries</a>
          <a href="#/catalog" aria-current={path === "/catalog" ? "page" : undefined}>Event catalog</a>
        </nav>
        <span class="who">
          {who.session.orgName}
          {who.session.readOnly ? <span class="badge badge-readonly">read-only</span> : null}
          {who.session.returnUrl ? <a href={who.session.returnUrl}>Back to the app</a> : null}
          <button type="button" class="small" onClick={signOut}>Sign out</button>
        </span>
      </header>
      <main>{catalog.data ? <CustomerRoutes ctx={ctx} path={path} /> : <ErrorText error={catalog.error} />}</main>
    </>
  );
}

function Operator({ who, signOut }: { who: Extract<Who, { kind: "operator" }>; signOut: () => void }) {
  const path = usePath();
  const catalog = useCatalog();
  const inOrg = /^\/orgs\/(org_[0-9A-Z]+)\/(.*)$/.exec(path);
  const orgId = inOrg?.[1] ?? null;
  const ctx = useMemo<Ctx | null>(
    () => (orgId ? { api: who.api.inOrg(orgId), base: `/orgs/${orgId}`, readOnly: false, catalog: catalog.data ?? [] } : null),
    [who, orgId, catalog.data],
  );
  let screen;
  let m: Record<string, string> | null;
  if (ctx && catalog.data) screen = <CustomerRoutes ctx={ctx} path={path} />;
  else if (path === "/health") screen = <HealthView />;
  else if (path === "/catalog" && catalog.data) screen = <CatalogView ctx={{ api: who.api, base: "", readOnly: true, catalog: catalog.data }} />;
  else if ((m = match("/orgs/:orgId", path))) screen = <OrgView api={who.api} orgId={m.orgId!} />;
  else screen = <OrgsView api={who.api} />;
  return (
    <>
      <header class="top">
        <Brand suffix=" · operator" />
        <nav aria-label="Main">
          <a href="#/" aria-current={path === "/" ? "page" : undefined}>Organizations</a>
          <a href="#/health" aria-current={path === "/health" ? "page" : undefined}>Health</a>
          <a href="#/catalog" aria-current={path === "/catalog" ? "page" : undefined}>Event catalog</a>
        </nav>
        <span class="who">
          {orgId ? <a href={`#/orgs/${orgId}`}>Org {orgId}</a> : null}
          <button type="button" class="small" onClick={signOut}>Sign out</button>
        </span>
      </header>
      <main>{screen}</main>
    </>
  );
}

function SignIn({ expired, onKey }: { expired: boolean; onKey: (key: string) => Promise<void> }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  return (
    <main class="narrow">
      <h1 tabIndex={-1}>{TITLE}</h1>
      {expired ? <p role="alert">Your session has ended. Open the portal again from your application (operators: sign in again).</p> : null}
      <p>Customers: open the portal from the link your application gives you.</p>
      <form
        class="card form"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            await onKey(key.trim());
          } catch (err) {
            setError(err);
          }
        }}
      >
        <h2>Operator sign-in</h2>
        <label for="admin-key">Admin API key</label>
        <input id="admin-key" type="password" autoComplete="off" required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <p class="muted small-text">Kept in this tab only (sessionStorage) and sent as X-API-Key; closing the tab forgets it.</p>
        <ErrorText error={error} />
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function App() {
  const [who, setWho] = useState<Who>({ kind: "loading" });
  useEffect(() => {
    whoIsLooking().then(setWho, () => setWho({ kind: "signed-out", expired: false }));
    // A session that ends (expiry, sign-out in another tab) turns every call into a 401: say so.
    const onSignedOut = () => {
      sessionStorage.removeItem(ADMIN_KEY_ITEM);
      // Not on the sign-in form itself: a mistyped admin key is its own error there.
      setWho((w) => (w.kind === "signed-out" ? w : { kind: "signed-out", expired: true }));
    };
    addEventListener(SIGNED_OUT_EVENT, onSignedOut);
    return () => removeEventListener(SIGNED_OUT_EVENT, onSignedOut);
  }, []);
  useEffect(() => {
    document.title = who.kind === "customer" ? `${TITLE} · ${who.session.orgName}` : TITLE;
  }, [who]);

  if (who.kind === "loading") return <p class="muted">Loading…</p>;
  if (who.kind === "customer") {
    return (
      <Customer
        who={who}
        signOut={async () => {
          await who.api.del("/api/v1/portal/session").catch(() => {});
          setWho({ kind: "signed-out", expired: false });
        }}
      />
    );
  }
  if (who.kind === "operator") {
    return (
      <Operator
        who={who}
        signOut={() => {
          sessionStorage.removeItem(ADMIN_KEY_ITEM);
          setWho({ kind: "signed-out", expired: false });
        }}
      />
    );
  }
  return (
    <SignIn
      expired={who.expired}
      onKey={async (key) => {
        const api = createApi({ kind: "admin", key, orgId: null });
        // The admin's own route: a key that is not the admin key is refused here, not later.
        await api.get("/api/v1/orgs?limit=1");
        sessionStorage.setItem(ADMIN_KEY_ITEM, key);
        setWho({ kind: "operator", api });
      }}
    />
  );
}

render(<App />, root);
