/** A minimal Prometheus registry: counters and gauges with labels, and histograms. */
type Labels = Record<string, string>;

const canonicalKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, "_")}"`)
    .join(",");

/**
 * Label sets repeat (a few outcomes, routes, statuses) and counters tick on every attempt, so
 * the sorted, escaped key is looked up by a cheap concatenation instead of rebuilt each time.
 */
const KNOWN_KEYS_MAX = 10_000;
const knownKeys = new Map<string, string>();
function labelKey(labels: Labels): string {
  let raw = "";
  for (const k in labels) raw += `${k}\u0001${labels[k]}\u0002`;
  let key = knownKeys.get(raw);
  if (key === undefined) {
    key = canonicalKey(labels);
    if (knownKeys.size < KNOWN_KEYS_MAX) knownKeys.set(raw, key);
  }
  return key;
}

interface Family {
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(name: string): string[];
}

export class Metrics {
  private families = new Map<string, Family>();

  counter(name: string, help: string) {
    const values = new Map<string, number>();
    this.families.set(name, {
      help,
      type: "counter",
      render: (n) => [...values].map(([k, v]) => `${n}${k ? `{${k}}` : ""} ${v}`),
    });
    return {
      inc(labels: Labels = {}, by = 1) {
        const k = labelKey(labels);
        values.set(k, (values.get(k) ?? 0) + by);
      },
    };
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number) {
    this.families.set(name, { help, type: "gauge", render: (n) => [`${n} ${read()}`] });
  }

  histogram(name: string, help: string, buckets: number[]) {
    const counts = new Array<number>(buckets.length).fill(0);
    let sum = 0;
    let total = 0;
    this.families.set(name, {
      help,
      type: "histogram",
      render: (n) => [
        ...buckets.map((b, i) => `${n}_bucket{le="${b}"} ${counts[i]}`),
        `${n}_bucket{le="+Inf"} ${total}`,
        `${n}_sum ${sum}`,
        `${n}_count ${total}`,
      ],
    });
    return {
      observe(value: number) {
        sum += value;
        total++;
        for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) counts[i]!++;
      },
    };
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, f] of this.families) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.render(name));
    }
    return lines.join("\n") + "\n";
  }
}

/** Storage waits: sub-millisecond when healthy, seconds when a disk stalls. */
const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The product's metrics, in one place so every module reports to the same names. */
export function createWebhookdMetrics() {
  const registry = new Metrics();
  const commit = registry.histogram(
    "webhookd_storage_commit_seconds",
    "Group commits (one transaction for every write queued in a tick), BEGIN to COMMIT, on the event loop",
    STORAGE_BUCKETS,
  );
  const flush = registry.histogram(
    "webhookd_storage_flush_seconds",
    "Flushes of the write-ahead log to disk that published events wait for before their 202 (off the event loop)",
    STORAGE_BUCKETS,
  );
  const lockWait = registry.histogram(
    "webhookd_storage_lock_wait_seconds",
    "Waits of queued writes for a write lock another connection held (a checkpoint, another process)",
    STORAGE_BUCKETS,
  );
  return {
    registry,
    eventsPublished: registry.counter("webhookd_events_published_total", "Events accepted by publish"),
    deliveries: registry.counter("webhookd_deliveries_total", "Deliveries finished, by outcome (succeeded, failed, cancelled)"),
    attempts: registry.counter("webhookd_attempts_total", "Delivery attempts, by outcome (ok or the error code) and trigger"),
    attemptDuration: registry.histogram(
      "webhookd_attempt_duration_seconds",
      "Duration of delivery attempts",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    retriesScheduled: registry.counter("webhookd_retries_scheduled_total", "Retries scheduled after a failed attempt"),
    httpRequests: registry.counter("webhookd_http_requests_total", "API requests, by route and status"),
    /** For the store's write batcher. */
    storage: {
      committed: (seconds: number) => commit.observe(seconds),
      flushed: (seconds: number) => flush.observe(seconds),
      lockWaited: (seconds: number) => lockWait.observe(seconds),
    },
  };
}
export type WebhookdMetrics = ReturnType<typeof createWebhookdMetrics>;
