/** One delivery: the payload as sent, every attempt with the receiver's answer, and replay. */
import { useState } from "preact/hooks";
import { ApiError, type Attempt, type Delivery, type Endpoint, type Outcome } from "../api.ts";
import { Code, CopyButton, ErrorText, Headers, Section, StatusBadge, Time, useAction, useLoad } from "../components.tsx";
import type { Ctx } from "../context.ts";
import { OutcomeText } from "./endpoint.tsx";

/** Each trigger numbers its own attempts: the schedule's, replays, test sends. */
const TRIGGER: Record<Attempt["trigger"], string> = { scheduled: "Attempt", replay: "Replay", test: "Test send" };

function AttemptView({ attempt: a }: { attempt: Attempt }) {
  const name = `${TRIGGER[a.trigger]} ${a.attempt}`;
  return (
    <li class="attempt">
      <h3>
        {name} <Time value={a.createdAt} />
      </h3>
      <dl class="facts">
        <dt>URL</dt>
        <dd class="url">{a.url}</dd>
        <dt>Result</dt>
        <dd>
          {a.statusCode === null ? "no response" : `HTTP ${a.statusCode}`} in {a.durationMs} ms
        </dd>
        {a.error ? (
          <>
            <dt>Error</dt>
            <dd>
              <code>{a.error.code}</code> {a.error.message}
            </dd>
          </>
        ) : null}
      </dl>
      {a.request ? (
        <details>
          <summary>Request headers as sent</summary>
          <Headers headers={a.request.headers} />
          <p class="muted">The body sent is the payload above: every attempt signs and sends the same one.</p>
        </details>
      ) : null}
      {a.response ? (
        <details>
          <summary>Response headers and body</summary>
          <Headers headers={a.response.headers} />
          <Code text={a.response.body} label={`Response body of ${name.toLowerCase()}`} />
        </details>
      ) : null}
    </li>
  );
}

export function DeliveryView({ ctx, endpointId, id }: { ctx: Ctx; endpointId: string; id: string }) {
  const loaded = useLoad(() => ctx.api.get<Delivery & { attemptLog: Attempt[] }>(`/api/v1/webhooks/${endpointId}/deliveries/${id}`), [ctx.api, endpointId, id]);
  // A deleted endpoint's log stays readable (the delivery loads) while the endpoint is a 404.
  const deleted = useLoad(
    () => ctx.api.get<Endpoint>(`/api/v1/webhooks/${endpointId}`).then(
      () => false,
      (e: unknown) => (e instanceof ApiError && e.status === 404 ? true : Promise.reject(e)),
    ),
    [ctx.api, endpointId],
  ).data;
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const replay = useAction();
  const d = loaded.data;
  if (loaded.error) return <ErrorText error={loaded.error} />;
  if (!d) return <p class="muted">Loading…</p>;
  return (
    <>
      <p>{deleted ? <a href={`#${ctx.base}/deliveries`}>← All deliveries</a> : <a href={`#${ctx.base}/endpoints/${endpointId}`}>← Endpoint</a>}</p>
      <h1 tabIndex={-1}>
        Delivery <code>{d.id}</code>
      </h1>
      {deleted ? (
        <p class="notice" role="status">
          Its endpoint was deleted: nothing more is sent to it, and its deliveries cannot be replayed. The log stays readable until retention removes
          it.
        </p>
      ) : null}
      <Section
        title="Delivery"
        actions={
          ctx.readOnly || deleted !== false ? null : (
            <button
              type="button"
              class="primary"
              disabled={replay.busy}
              onClick={() =>
                replay.run(async () => {
                  setOutcome(null);
                  setOutcome(await ctx.api.post<Outcome>(`/api/v1/webhooks/${endpointId}/deliveries/${d.id}/replay`));
                  loaded.reload();
                })
              }
            >
              {replay.busy ? "Replaying…" : "Replay"}
            </button>
          )
        }
      >
        {outcome ? <OutcomeText outcome={outcome} /> : null}
        <ErrorText error={replay.error} />
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={d.status} />
          </dd>
          <dt>Event</dt>
          <dd>
            {d.event} <code>{d.eventId}</code> <CopyButton text={d.eventId} label="Copy event id" />
          </dd>
          <dt>Created</dt>
          <dd>
            <Time value={d.createdAt} />
          </dd>
          <dt>Next attempt</dt>
          <dd>
            <Time value={d.nextAttemptAt} />
          </dd>
        </dl>
      </Section>
      <Section title="Payload as sent">
        <Code text={d.payload} label="Payload" />
      </Section>
      <Section title={`Attempts (${d.attemptLog.length})`}>
        {d.attemptLog.length === 0 ? <p class="muted">No attempt yet.</p> : null}
        <ol class="attempts">
          {d.attemptLog.map((a) => (
            <AttemptView key={a.id} attempt={a} />
          ))}
        </ol>
      </Section>
    </>
  );
}
