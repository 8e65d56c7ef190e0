/** The endpoint list and the add/edit form. */
import { useState } from "preact/hooks";
import { ApiError, type Endpoint, type Stats } from "../api.ts";
import { CopyButton, ErrorText, percent, Section, StatusBadge, Time, useAction, useLoad } from "../components.tsx";
import type { Ctx } from "../context.ts";
import { navigate } from "../router.ts";

const REASONS: Record<string, string> = {
  manual: "disabled by hand",
  too_many_failures: "disabled after too many failed deliveries",
  gone: "disabled: the receiver answered 410 Gone",
};
export const reasonText = (r: string | null) => (r ? REASONS[r] ?? r : "");

export function EndpointsView({ ctx }: { ctx: Ctx }) {
  const list = useLoad(async () => {
    const endpoints = await ctx.api.get<Endpoint[]>("/api/v1/webhooks");
    // The success rate over the last 24 h: one count per status, index-only on the server.
    const stats = await Promise.all(endpoints.map((e) => ctx.api.get<Stats>(`/api/v1/webhooks/${e.id}/stats?buckets=1`).catch(() => null)));
    return endpoints.map((e, i) => ({ endpoint: e, stats: stats[i] ?? null }));
  }, [ctx.api]);
  return (
    <>
      <h1 tabIndex={-1}>Endpoints</h1>
      <Section
        title="Your webhook endpoints"
        actions={
          ctx.readOnly ? null : (
            <button type="button" class="primary" onClick={() => navigate(`${ctx.base}/endpoints/new`)}>
              Add endpoint
            </button>
          )
        }
      >
        <ErrorText error={list.error} />
        {list.loading && !list.data ? <p class="muted">Loading…</p> : null}
        {list.data && list.data.length === 0 ? <p class="muted">No endpoints yet.{ctx.readOnly ? "" : " Add one to start receiving webhooks."}</p> : null}
        {list.data && list.data.length > 0 ? (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Status</th>
                <th scope="col">Success (24 h)</th>
                <th scope="col">Last delivery</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map(({ endpoint: e, stats }) => (
                <tr key={e.id}>
                  <td>
                    <a href={`#${ctx.base}/endpoints/${e.id}`} class="url">
                      {e.url}
                    </a>
                    {e.description ? <div class="muted">{e.description}</div> : null}
                  </td>
                  <td>
                    <StatusBadge status={e.status} />
                    {e.disabledReason ? <div class="muted small-text">{reasonText(e.disabledReason)}</div> : null}
                  </td>
                  <td>
                    {percent(stats?.successRate ?? null)}
                    {stats ? <div class="muted small-text">{stats.total.succeeded + stats.total.failed + stats.total.cancelled} finished</div> : null}
                  </td>
                  <td>
                    <Time value={e.lastTriggeredAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
    </>
  );
}

/** The catalog's types grouped by prefix ("call", "contact"), for the event chooser. */
function groups(names: string[]): [string, string[]][] {
  const by = new Map<string, string[]>();
  for (const n of names) {
    const prefix = n.includes(".") ? n.slice(0, n.indexOf(".")) : n;
    by.set(prefix, [...(by.get(prefix) ?? []), n]);
  }
  return [...by];
}

function EventChooser({ ctx, value, onChange, error }: { ctx: Ctx; value: string[]; onChange: (v: string[]) => void; error?: string }) {
  const all = value.includes("*");
  const toggle = (name: string, on: boolean) => onChange(on ? [...value.filter((v) => v !== name), name] : value.filter((v) => v !== name));
  return (
    <fieldset class="events" aria-describedby={error ? "events-error" : undefined}>
      <legend>Events to receive</legend>
      <label class="check">
        <input type="checkbox" checked={all} onChange={(ev) => onChange((ev.target as HTMLInputElement).checked ? ["*"] : [])} /> All events (<code>*</code>)
      </label>
      {groups(ctx.catalog.map((c) => c.name)).map(([prefix, names]) => {
        const wildcard = `${prefix}.*`;
        const whole = value.includes(wildcard);
        return (
          <div class="event-group" key={prefix}>
            <label class="check">
              <input type="checkbox" disabled={all} checked={all || whole} onChange={(ev) => toggle(wildcard, (ev.target as HTMLInputElement).checked)} /> Every <code>{wildcard}</code> event
            </label>
            <div class="event-names">
              {names.map((n) => (
                <label class="check" key={n} title={ctx.catalog.find((c) => c.name === n)?.description}>
                  <input type="checkbox" disabled={all || whole} checked={all || whole || value.includes(n)} onChange={(ev) => toggle(n, (ev.target as HTMLInputElement).checked)} /> {n}
                </label>
              ))}
            </div>
          </div>
        );
      })}
      {error ? (
        <p class="error" id="events-error">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/** Add (no `endpoint`) or edit. The API's validation errors show beside the field they name. */
export function EndpointForm({ ctx, endpoint }: { ctx: Ctx; endpoint?: Endpoint }) {
  const [url, setUrl] = useState(endpoint?.url ?? "");
  const [description, setDescription] = useState(endpoint?.description ?? "");
  const [events, setEvents] = useState<string[]>(endpoint?.events ?? []);
  const { run, error, busy } = useAction();
  const [created, setCreated] = useState<Endpoint | null>(null);
  const fieldError = (field: string) => (error instanceof ApiError && error.path?.split(/[.[]/)[0] === field ? error.message : undefined);
  const otherError = error instanceof ApiError && ["url", "description", "events"].includes(error.path?.split(/[.[]/)[0] ?? "") ? null : error;

  if (created) {
    return (
      <>
        <h1 tabIndex={-1}>Endpoint created</h1>
        <Section title="Your signing secret">
          <p>Configure your receiver with this secret to verify signatures. You can reveal it again from the endpoint's page.</p>
          <p class="secret">
            <code data-testid="new-secret">{created.secret}</code> <CopyButton text={created.secret} label="Copy secret" />
          </p>
          <button type="button" class="primary" onClick={() => navigate(`${ctx.base}/endpoints/${created.id}`)}>
            Go to the endpoint
          </button>
        </Section>
      </>
    );
  }

  function submit(ev: Event) {
    ev.preventDefault();
    void run(async () => {
      const body = { url, description: description.trim() === "" ? null : description, ...(events.length ? { events } : {}) };
      if (endpoint) {
        await ctx.api.patch<Endpoint>(`/api/v1/webhooks/${endpoint.id}`, body);
        navigate(`${ctx.base}/endpoints/${endpoint.id}`);
      } else {
        // The API would take none as ["*"]: a person who ticked nothing more likely forgot.
        if (events.length === 0) throw new ApiError(400, "VALIDATION_ERROR", "Choose at least one event type.", "events");
        setCreated(await ctx.api.post<Endpoint>("/api/v1/webhooks", body));
      }
    });
  }

  return (
    <>
      <h1 tabIndex={-1}>{endpoint ? "Edit endpoint" : "Add an endpoint"}</h1>
      <form class="card form" onSubmit={submit} noValidate>
        <label for="url">Endpoint URL</label>
        <input id="url" name="url" type="url" required value={url} placeholder="https://example.com/webhooks" aria-invalid={!!fieldError("url")} aria-describedby={fieldError("url") ? "url-error" : undefined} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
        {fieldError("url") ? (
          <p class="error" id="url-error">
            {fieldError("url")}
          </p>
        ) : null}
        <label for="description">Description (optional)</label>
        <input id="description" name="description" value={description} maxLength={500} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        {fieldError("description") ? <p class="error">{fieldError("description")}</p> : null}
        <EventChooser ctx={ctx} value={events} onChange={setEvents} error={fieldError("events")} />
        <ErrorText error={otherError} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {endpoint ? "Save" : "Create endpoint"}
          </button>
          <a href={`#${ctx.base}${endpoint ? `/endpoints/${endpoint.id}` : "/"}`}>Cancel</a>
        </div>
      </form>
    </>
  );
}

export function EditEndpointView({ ctx, id }: { ctx: Ctx; id: string }) {
  const loaded = useLoad(() => ctx.api.get<Endpoint>(`/api/v1/webhooks/${id}`), [ctx.api, id]);
  if (loaded.error) return <ErrorText error={loaded.error} />;
  if (!loaded.data) return <p class="muted">Loading…</p>;
  return <EndpointForm ctx={ctx} endpoint={loaded.data} />;
}
