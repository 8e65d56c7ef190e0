/** The operator's screens (admin key): orgs and their keys, portal links, and the server's health. */
import { useState } from "preact/hooks";
import type { Api, ApiKey, Org } from "../api.ts";
import { ConfirmButton, CopyButton, ErrorText, Pager, Section, Time, useAction, useLoad } from "../components.tsx";
import { navigate } from "../router.ts";

const SCOPES = ["webhooks:read", "webhooks:write", "events:write"];
/** Names of the orgs seen in the list (the API has no GET of one org), for the org screen's heading. */
const orgNames = new Map<string, string>();

export function OrgsView({ api }: { api: Api }) {
  const [after, setAfter] = useState<string[]>([]);
  const list = useLoad(async () => {
    const page = await api.page<Org>(`/api/v1/orgs?limit=50${after.length ? `&after=${after.at(-1)}` : ""}`);
    for (const o of page.data) orgNames.set(o.id, o.name);
    return page;
  }, [api, after]);
  const [name, setName] = useState("");
  const create = useAction();
  return (
    <>
      <h1 tabIndex={-1}>Organizations</h1>
      <Section title="New organization">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run(async () => {
              const org = await api.post<Org>("/api/v1/orgs", { name });
              setName("");
              orgNames.set(org.id, org.name);
              navigate(`/orgs/${org.id}`);
            });
          }}
        >
          <label for="org-name">Name</label>
          <input id="org-name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <button type="submit" class="primary" disabled={create.busy}>
            Create organization
          </button>
        </form>
        <ErrorText error={create.error} />
      </Section>
      <Section title="Organizations">
        <ErrorText error={list.error} />
        {list.data ? (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((o) => (
                <tr key={o.id}>
                  <td>
                    <a href={`#/orgs/${o.id}`}>{o.name}</a>
                  </td>
                  <td>
                    <code>{o.id}</code>
                  </td>
                  <td>
                    <Time value={o.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        <div class="actions">
          <Pager cursors={after} onChange={setAfter} next={list.data?.pagination.nextAfter as string | null | undefined} labels={["Previous", "Next"]} />
        </div>
      </Section>
    </>
  );
}

function KeysPanel({ api, orgId }: { api: Api; orgId: string }) {
  const keys = useLoad(() => api.page<ApiKey>(`/api/v1/orgs/${orgId}/keys`), [api, orgId]);
  const [scopes, setScopes] = useState<string[]>(SCOPES);
  const [name, setName] = useState("");
  const [made, setMade] = useState<ApiKey | null>(null);
  const action = useAction();
  return (
    <Section title="API keys">
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            setMade(await api.post<ApiKey>(`/api/v1/orgs/${orgId}/keys`, { name: name || null, scopes }));
            setName("");
            keys.reload();
          });
        }}
      >
        <label for="key-name">Name</label>
        <input id="key-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <fieldset class="scopes">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label class="check" key={s}>
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes((e.target as HTMLInputElement).checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      {made?.key ? (
        <div class="notice" role="status">
          <p>The new key, shown this once: store it now.</p>
          <p class="secret">
            <code data-testid="new-key">{made.key}</code> <CopyButton text={made.key} label="Copy key" />
          </p>
        </div>
      ) : null}
      <ErrorText error={action.error ?? keys.error} />
      {keys.data ? (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.data.map((k) => (
              <tr key={k.id}>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.name ?? ""}</td>
                <td>{k.scopes.join(", ")}</td>
                <td>
                  <Time value={k.createdAt} />
                </td>
                <td>
                  {k.revokedAt ? (
                    <span class="muted">
                      revoked <Time value={k.revokedAt} />
                    </span>
                  ) : (
                    <ConfirmButton
                      danger
                      label="Revoke"
                      question={`Revoke ${k.prefix}…?`}
                      onConfirm={() =>
                        action.run(async () => {
                          await api.del(`/api/v1/orgs/${orgId}/keys/${k.id}`);
                          keys.reload();
                        })
                      }
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

/** A portal link for the org, made with the admin key: what a backend does with POST /api/v1/portal/sessions. */
function LinkPanel({ api, orgId }: { api: Api; orgId: string }) {
  const [readOnly, setReadOnly] = useState(false);
  const [hours, setHours] = useState("1");
  const [link, setLink] = useState<{ url: string; readOnly: boolean; linkExpiresAt: string } | null>(null);
  const create = useAction();
  return (
    <Section title="Portal link">
      <p>A single-use link that opens this portal as the organization's customer. It must be opened within 10 minutes.</p>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run(async () => setLink(await api.inOrg(orgId).post("/api/v1/portal/sessions", { readOnly, expiresInSeconds: Number(hours) * 3600 })));
        }}
      >
        <label class="check">
          <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly((e.target as HTMLInputElement).checked)} /> Read-only
        </label>
        <label for="link-hours">Session lasts</label>
        <select id="link-hours" value={hours} onChange={(e) => setHours((e.target as HTMLSelectElement).value)}>
          <option value="1">1 hour</option>
          <option value="8">8 hours</option>
          <option value="24">24 hours</option>
        </select>
        <button type="submit" class="primary" disabled={create.busy}>
          Create portal link
        </button>
      </form>
      {link ? (
        <div class="notice" role="status">
          <p>
            {link.readOnly ? "Read-only link" : "Link"}, to open once before <Time value={link.linkExpiresAt} />:
          </p>
          <p class="secret">
            <code data-testid="portal-link">{link.url}</code> <CopyButton text={link.url} label="Copy link" />
          </p>
        </div>
      ) : null}
      <ErrorText error={create.error} />
    </Section>
  );
}

export function OrgView({ api, orgId }: { api: Api; orgId: string }) {
  return (
    <>
      <p>
        <a href="#/">← Organizations</a>
      </p>
      <h1 tabIndex={-1}>{orgNames.get(orgId) ?? "Organization"}</h1>
      <p>
        <code>{orgId}</code> <CopyButton text={orgId} label="Copy id" /> · <a href={`#/orgs/${orgId}/`}>Endpoints and deliveries</a> · <a href={`#/orgs/${orgId}/deliveries`}>All deliveries</a>
      </p>
      <KeysPanel api={api} orgId={orgId} />
      <LinkPanel api={api} orgId={orgId} />
    </>
  );
}

/** The figures of /metrics an operator looks at first. */
const FIGURES: [string, string][] = [
  ["webhookd_due_queue_depth", "Due queue depth"],
  ["webhookd_deliveries_in_memory", "Deliveries in memory"],
  ["webhookd_scheduled_retries", "Retries waiting"],
];

export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const name = line.slice(0, space);
    out.set(name, (out.get(name) ?? 0) + Number(line.slice(space + 1)));
  }
  return out;
}

/** Sums a family's samples whose labels include `label`. */
const sum = (m: Map<string, number>, family: string, label = "") =>
  [...m].filter(([k]) => (k === family || k.startsWith(family + "{")) && k.includes(label)).reduce((a, [, v]) => a + v, 0);

export function HealthView() {
  const data = useLoad(async () => {
    const [metrics, ready] = await Promise.all([fetch("/metrics").then((r) => r.text()), fetch("/readyz").then((r) => r.ok)]);
    return { m: parseMetrics(metrics), ready };
  }, []);
  if (data.error) return <ErrorText error={data.error} />;
  if (!data.data) return <p class="muted">Loading…</p>;
  const { m, ready } = data.data;
  const waits = sum(m, "webhookd_storage_lock_wait_seconds_count");
  const waitSeconds = sum(m, "webhookd_storage_lock_wait_seconds_sum");
  return (
    <>
      <h1 tabIndex={-1}>Server health</h1>
      <div class="tiles">
        <div class="tile">
          <div class="tile-label">Database</div>
          <div class={`tile-value ${ready ? "ok" : "error"}`}>{ready ? "writable" : "NOT writable"}</div>
        </div>
        {FIGURES.map(([name, label]) => (
          <div class="tile" key={name}>
            <div class="tile-label">{label}</div>
            <div class="tile-value">{sum(m, name)}</div>
          </div>
        ))}
        <div class="tile">
          <div class="tile-label">Storage waits</div>
          <div class="tile-value">{waits}</div>
          <div class="muted">{waits ? `${((waitSeconds / waits) * 1000).toFixed(1)} ms on average` : "none"}</div>
        </div>
        <div class="tile">
          <div class="tile-label">Deliveries succeeded / failed</div>
          <div class="tile-value">
            {sum(m, "webhookd_deliveries_total", 'outcome="succeeded"')} / {sum(m, "webhookd_deliveries_total", 'outcome="failed"')}
          </div>
        </div>
        <div class="tile">
          <div class="tile-label">Events published</div>
          <div class="tile-value">{sum(m, "webhookd_events_published_total")}</div>
        </div>
      </div>
      <p class="muted">Since the server started. <button type="button" class="small" onClick={data.reload}>Refresh</button></p>
    </>
  );
}

