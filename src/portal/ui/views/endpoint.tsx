/** One endpoint: its settings and actions, the signing secret, a test send, the chart and the delivery log. */
import { useState } from "preact/hooks";
import type { Endpoint, Outcome, Stats } from "../api.ts";
import { ConfirmButton, CopyButton, ErrorText, Section, StatusBadge, Time, useAction, useLoad } from "../components.tsx";
import type { Ctx } from "../context.ts";
import { DeliveryLog } from "./deliveries.tsx";
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
      <DeliveryLog ctx={ctx} endpoints={[e]} scope={e.id} refresh={refresh} />
      {ctx.readOnly ? null : <RecoverPanel ctx={ctx} endpoint={e} onDone={() => setRefresh((r) => r + 1)} />}
    </>
  );
}

