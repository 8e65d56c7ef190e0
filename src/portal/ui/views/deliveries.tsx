/**
 * The delivery log of one endpoint, or of the whole org: filters, a chart of the same range
 * (succeeded vs failed; the org's is the sum of its endpoints'), keyset pages newest first.
 */
import { useState } from "preact/hooks";
import type { Delivery, Endpoint, Stats, StatusCounts } from "../api.ts";
import { DeliveryChart } from "../chart.tsx";
import { ErrorText, Pager, Section, StatusBadge, Time, useLoad } from "../components.tsx";
import type { Ctx } from "../context.ts";
import { deliveryIdBound } from "../ids.ts";

const RANGES: Record<string, number> = { "1h": 3600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };

/** Adds the endpoints' counts bucket by bucket (they share since, until and bucket count). */
function sumStats(all: Stats[]): Stats {
  const add = (a: StatusCounts, b: StatusCounts): StatusCounts => ({
    pending: a.pending + b.pending,
    succeeded: a.succeeded + b.succeeded,
    failed: a.failed + b.failed,
    cancelled: a.cancelled + b.cancelled,
  });
  return all.reduce((sum, s) => ({
    ...sum,
    total: add(sum.total, s.total),
    buckets: sum.buckets.map((b, i) => ({ start: b.start, counts: add(b.counts, s.buckets[i]!.counts) })),
  }));
}

/** `scope`: an endpoint's id, or "org" for every endpoint in `endpoints` (GET /api/v1/deliveries). */
export function DeliveryLog({ ctx, endpoints, scope, refresh }: { ctx: Ctx; endpoints: Endpoint[]; scope: string; refresh: number }) {
  const org = scope === "org";
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
    const span = `since=${new Date(w.since).toISOString()}&until=${new Date(w.until).toISOString()}&buckets=24`;
    const charted = org ? endpoints : endpoints.filter((e) => e.id === scope);
    const [page, stats] = await Promise.all([
      ctx.api.page<Delivery>(org ? `/api/v1/deliveries?${q}` : `/api/v1/webhooks/${scope}/deliveries?${q}`),
      Promise.all(charted.map((e) => ctx.api.get<Stats>(`/api/v1/webhooks/${e.id}/stats?${span}`))),
    ]);
    // The API pages by id; the range's start cuts the list here.
    const rows = page.data.filter((d) => Date.parse(d.createdAt) >= w.since);
    const more = Boolean(page.pagination.hasMore) && rows.length === page.data.length;
    return { rows, next: more ? (page.pagination.nextBefore as string) : null, stats: stats.length ? sumStats(stats) : null };
  }, [ctx.api, scope, endpoints.map((e) => e.id).join(), status, event, range, from, to, cursor, refresh]);
  const urlOf = new Map(endpoints.map((e) => [e.id, e.url]));
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
      {log.data?.stats ? <DeliveryChart stats={log.data.stats} /> : null}
      <ErrorText error={log.error} />
      {log.data && log.data.rows.length === 0 ? <p class="muted">No deliveries match.</p> : null}
      {log.data && log.data.rows.length > 0 ? (
        <table class="list" data-testid="deliveries">
          <thead>
            <tr>
              <th scope="col">Delivery</th>
              {org ? <th scope="col">Endpoint</th> : null}
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
                  <a href={`#${ctx.base}/endpoints/${d.endpointId ?? scope}/deliveries/${d.id}`} class="mono">
                    {d.id}
                  </a>
                </td>
                {org ? (
                  <td class="url">
                    {d.endpointUrl ?? urlOf.get(d.endpointId ?? "") ?? d.endpointId}
                    {d.endpointDeleted ? (
                      <>
                        {" "}
                        <StatusBadge status="deleted" />
                      </>
                    ) : null}
                  </td>
                ) : null}
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


/** Every delivery of the org, across its endpoints. */
export function OrgDeliveriesView({ ctx }: { ctx: Ctx }) {
  const endpoints = useLoad(() => ctx.api.get<Endpoint[]>("/api/v1/webhooks"), [ctx.api]);
  return (
    <>
      <h1 tabIndex={-1}>All deliveries</h1>
      <ErrorText error={endpoints.error} />
      {endpoints.data ? <DeliveryLog ctx={ctx} endpoints={endpoints.data} scope="org" refresh={0} /> : null}
    </>
  );
}
