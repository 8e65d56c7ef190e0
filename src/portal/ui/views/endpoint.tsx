/** One endpoint: its settings and actions, the signing secret, a test send, the chart and the delivery log. */
import { useState } from "preact/hooks";
import type { Delivery, Endpoint, Outcome, Stats } from "../api.ts";
import { ConfirmButton, CopyButton, ErrorText, Pager, Section, StatusBadge, Time, useAction, useLoad } from "../components.tsx";
import type { Ctx } from "../context.ts";
import { DeliveryChart } from "../chart.tsx";
import { deliveryIdBound } from "../ids.ts";
import { navigate } from "../router.ts";
import { reasonText } from "./endpoints.tsx";

export function OutcomeText({ outcome }: { outcome: Outcome }) {
  return (
    <p class={outcome.success ? "ok" : "error"} role="status">
      {outcome.success ? "Delivered" : "Failed"}: {outcome.statusCode === null ? "no response" : `HTTP ${outcome.statusCode}`} in {outcome.durationMs} ms
      {outcome.error ? ` (${outcome.error.code}: ${outcome.error.message})` : ""}
    </p>
  );
}

function SecretPanel({ ctx, endpoint }: { ctx: Ctx; endpoint: Endpoint }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [grace, setGrace] = useState("0");
  const [note, setNote] = useState("");
  const { run, error } = useAction();
  return (
    <Section title="Signing secret">
      <p class="secret">
        <code data-testid="secret">{secret ?? endpoint.secret}</code>{" "}
        {secret ? (
          <>
            <CopyButton text={secret} label="Copy secret" />{" "}
            <button type="button" class="small" onClick={() => setSecret(null)}>
              Hide
            </button>
          </>
        ) : ctx.readOnly ? null : (
          <button type="button" class="small" onClick={() => run(async () => setSecret((await ctx.api.get<{ secret: string }>(`/api/v1/webhooks/${endpoint.id}/secret`)).secret))}>
            Reveal
          </button>
        )}
      </p>
      {ctx.readOnly ? null : (
        <div class="inline-form">
          <label for="grace">Keep the old secret signing for</label>
          <select id="grace" value={grace} onChange={(e) => setGrace((e.target as HTMLSelectElement).value)}>
            <option value="0">no time (stop at once)</option>
            <option value="3600">1 hour</option>
            <option value="86400">24 hours</option>
            <option value="604800">7 days</option>
          </select>
          <ConfirmButton
            label="Rotate secret"
            question="Make a new signing secret?"
            onConfirm={() =>
              run(async () => {
                const rotated = await ctx.api.post<Endpoint>(`/api/v1/webhooks/${endpoint.id}/rotate-secret`, { gracePeriodSeconds: Number(grace) });
                setSecret(rotated.secret);
                setNote(grace === "0" ? "Rotated: the old secret no longer signs." : "Rotated: deliveries carry signatures with both secrets until the grace period ends.");
              })
            }
          />
        </div>
      )}
      {note ? <p role="status">{note}</p> : null}
      <ErrorText error={error} />
    </Section>
  );
}

function TestPanel({ ctx, endpoint, onSent }: { ctx: Ctx; endpoint: Endpoint; onSent: () => void }) {
  const [type, setType] = useState(endpoint.events.find((e) => ctx.catalog.some((c) => c.name === e)) ?? ctx.catalog[0]?.name ?? "webhook.test");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const send = useAction();
  return (
    <Section title="Send a test event">
      <div class="inline-form">
        <label for="test-type">Event type</label>
        <select id="test-type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
          {ctx.catalog.map((c) => (
            <option key={c.name} value={c.name}>
              {c.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          class="primary"
          disabled={send.busy}
          onClick={() =>
            send.run(async () => {
              setOutcome(null);
              setOutcome(await ctx.api.post<Outcome>(`/api/v1/webhooks/${endpoint.id}/test`, { event: type }));
              onSent();
            })
          }
        >
          {send.busy ? "Sending…" : "Send test"}
        </button>
      </div>
      {outcome ? <OutcomeText outcome={outcome} /> : null}
      <ErrorText error={send.error} />
    </Section>
  );
}

const RANGES: Record<string, number> = { "1h": 3600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };

/** The delivery log: filters, the chart of the same range, keyset pages (newest first, then older). */
function Deliveries({ ctx, endpoint, refresh }: { ctx: Ctx; endpoint: Endpoint; refresh: number }) {
  const [status, setStatus] = useState("");
  const [event, setEvent] = useState("");
  const [range, setRange] = useState("24h");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  // The cursors of the pages shown before this one, so "Newer" goes back.
  const [cursors, setCursors] = useState<string[]>([]);
  const timeWindow = (): { since: number; until: number } | null => {
    if (range !== "custom") return { since: Date.now() - RANGES[range]!, until: Date.now() };
    const since = Date.parse(from);
    const until = to ? Date.parse(to) : Date.now();
    return Number.isFinite(since) && Number.isFinite(until) && since < until ? { since, until } : null;
  };
  const cursor = cursors.at(-1);
  const log = useLoad(async () => {
    const w = timeWindow();
    if (!w) throw new Error("Choose a start time before the end time.");
    const q = new URLSearchParams({ limit: "20" });
    if (status) q.set("status", status);
    if (event) q.set("event", event);
    q.set("before", cursor ?? deliveryIdBound(w.until - 1));
    const [page, stats] = await Promise.all([
      ctx.api.page<Delivery>(`/api/v1/webhooks/${endpoint.id}/deliveries?${q}`),
      ctx.api.get<Stats>(`/api/v1/webhooks/${endpoint.id}/stats?since=${new Date(w.since).toISOString()}&until=${new Date(w.until).toISOString()}&buckets=24`),
    ]);
    // The API pages by id; the range's start cuts the list here.
    const rows = page.data.filter((d) => Date.parse(d.createdAt) >= w.since);
    const more = Boolean(page.pagination.hasMore) && rows.length === page.data.length;
    return { rows, next: more ? (page.pagination.nextBefore as string) : null, stats };
  }, [ctx.api, endpoint.id, status, event, range, from, to, cursor, refresh]);
  const reset = () => setCursors([]);
  return (
    <Section title="Deliveries">
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter deliveries">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => (setStatus((e.target as HTMLSelectElement).value), reset())}>
            <option value="">any</option>
            <option value="succeeded">succeeded</option>
            <option value="failed">failed</option>
            <option value="pending">pending</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <label>
          Event type{" "}
          <select value={event} onChange={(e) => (setEvent((e.target as HTMLSelectElement).value), reset())}>
            <option value="">any</option>
            {[...ctx.catalog.map((c) => c.name), "webhook.test"].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Time{" "}
          <select value={range} onChange={(e) => (setRange((e.target as HTMLSelectElement).value), reset())}>
            <option value="1h">last hour</option>
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
            <option value="custom">custom…</option>
          </select>
        </label>
        {range === "custom" ? (
          <>
            <label>
              From <input type="datetime-local" value={from} onChange={(e) => (setFrom((e.target as HTMLInputElement).value), reset())} />
            </label>
            <label>
              To <input type="datetime-local" value={to} onChange={(e) => (setTo((e.target as HTMLInputElement).value), reset())} />
            </label>
          </>
        ) : null}
      </form>
      {log.data ? <DeliveryChart stats={log.data.stats} /> : null}
      <ErrorText error={log.error} />
      {log.data && log.data.rows.length === 0 ? <p class="muted">No deliveries match.</p> : null}
      {log.data && log.data.rows.length > 0 ? (
        <table class="list" data-testid="deliveries">
          <thead>
            <tr>
              <th scope="col">Delivery</th>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Last response</th>
              <th scope="col">Attempts</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {log.data.rows.map((d) => (
              <tr key={d.id}>
                <td>
                  <a href={`#${ctx.base}/endpoints/${endpoint.id}/deliveries/${d.id}`} class="mono">
                    {d.id}
                  </a>
                </td>
                <td>{d.event}</td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.statusCode === null ? (d.error ? d.error.code : "–") : `HTTP ${d.statusCode}`}</td>
                <td>{d.attempts}</td>
                <td>
                  <Time value={d.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="actions">
        <Pager cursors={cursors} onChange={setCursors} next={log.data?.next} />
        <button type="button" onClick={() => (reset(), log.reload())}>
          Refresh
        </button>
      </div>
    </Section>
  );
}

function RecoverPanel({ ctx, endpoint, onDone }: { ctx: Ctx; endpoint: Endpoint; onDone: () => void }) {
  const [since, setSince] = useState("");
  const [count, setCount] = useState<number | null>(null);
  const [result, setResult] = useState<string>("");
  const { run, error } = useAction();
  const sinceMs = Date.parse(since);
  return (
    <Section title="Recover failed deliveries">
      <div class="inline-form">
        <label for="recover-since">Re-send every failed delivery since</label>
        <input id="recover-since" type="datetime-local" value={since} onChange={(e) => (setSince((e.target as HTMLInputElement).value), setCount(null), setResult(""))} />
        <button
          type="button"
          disabled={!Number.isFinite(sinceMs)}
          onClick={() =>
            run(async () => {
              const s = await ctx.api.get<Stats>(`/api/v1/webhooks/${endpoint.id}/stats?since=${new Date(sinceMs).toISOString()}&buckets=1`);
              setCount(s.total.failed);
            })
          }
        >
          Count them
        </button>
      </div>
      {count !== null ? (
        <p role="status">
          {count === 0 ? (
            "No failed deliveries since then."
          ) : (
            <>
              {count} failed {count === 1 ? "delivery" : "deliveries"} since then.{" "}
              <ConfirmButton
                label="Recover"
                question={`Re-send ${count} ${count === 1 ? "delivery" : "deliveries"}?`}
                onConfirm={() =>
                  run(async () => {
                    const r = await ctx.api.post<{ deliveries: number }>(`/api/v1/webhooks/${endpoint.id}/recover`, { since: new Date(sinceMs).toISOString() });
                    setResult(`${r.deliveries} being re-sent.`);
                    setCount(null);
                    onDone();
                  })
                }
              />
            </>
          )}
        </p>
      ) : null}
      {result ? <p role="status">{result}</p> : null}
      <ErrorText error={error} />
    </Section>
  );
}

export function EndpointView({ ctx, id }: { ctx: Ctx; id: string }) {
  const loaded = useLoad(() => ctx.api.get<Endpoint>(`/api/v1/webhooks/${id}`), [ctx.api, id]);
  const { run, error, busy } = useAction();
  const [refresh, setRefresh] = useState(0);
  const e = loaded.data;
  if (loaded.error) return <ErrorText error={loaded.error} />;
  if (!e) return <p class="muted">Loading…</p>;
  const toggle = () =>
    run(async () => {
      await ctx.api.patch(`/api/v1/webhooks/${e.id}`, { isActive: !e.isActive });
      loaded.reload();
    });
  return (
    <>
      <p>
        <a href={`#${ctx.base}/`}>← Endpoints</a>
      </p>
      <h1 tabIndex={-1} class="url">
        {e.url}
      </h1>
      <Section
        title="Endpoint"
        actions={
          ctx.readOnly ? null : (
            <>
              <button type="button" onClick={() => navigate(`${ctx.base}/endpoints/${e.id}/edit`)}>
                Edit
              </button>
              <button type="button" onClick={toggle} disabled={busy}>
                {e.isActive ? "Disable" : "Enable"}
              </button>
              <ConfirmButton
                danger
                label="Delete"
                question="Delete this endpoint? Nothing more is sent to it."
                onConfirm={() =>
                  run(async () => {
                    await ctx.api.del(`/api/v1/webhooks/${e.id}`);
                    navigate(`${ctx.base}/`);
                  })
                }
              />
            </>
          )
        }
      >
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={e.status} /> {reasonText(e.disabledReason)} {e.disabledAt ? <Time value={e.disabledAt} /> : null}
          </dd>
          <dt>Id</dt>
          <dd>
            <code>{e.id}</code> <CopyButton text={e.id} label="Copy id" />
          </dd>
          <dt>Description</dt>
          <dd>{e.description ?? <span class="muted">none</span>}</dd>
          <dt>Events</dt>
          <dd>{e.events.join(", ")}</dd>
          <dt>Failures in a row</dt>
          <dd>{e.consecutiveFailures}</dd>
          <dt>Last delivery</dt>
          <dd>
            <Time value={e.lastTriggeredAt} />
          </dd>
          <dt>Created</dt>
          <dd>
            <Time value={e.createdAt} />
          </dd>
        </dl>
        <ErrorText error={error} />
      </Section>
      <SecretPanel ctx={ctx} endpoint={e} />
      {ctx.readOnly ? null : <TestPanel ctx={ctx} endpoint={e} onSent={() => (setRefresh((r) => r + 1), loaded.reload())} />}
      <Deliveries ctx={ctx} endpoint={e} refresh={refresh} />
      {ctx.readOnly ? null : <RecoverPanel ctx={ctx} endpoint={e} onDone={() => setRefresh((r) => r + 1)} />}
    </>
  );
}

