/** Deliveries over time, succeeded vs failed: uPlot (about 50 KB minified, no dependencies, canvas). */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { Stats } from "./api.ts";

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function DeliveryChart({ stats }: { stats: Stats }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = stats.buckets.map((b) => Date.parse(b.start) / 1000);
    const ok = stats.buckets.map((b) => b.counts.succeeded);
    const bad = stats.buckets.map((b) => b.counts.failed + b.counts.cancelled);
    // Two bars per bucket, side by side: succeeded to the left of its time, failed to the right.
    const left = uPlot.paths.bars!({ size: [0.4, 30], align: -1 });
    const right = uPlot.paths.bars!({ size: [0.4, 30], align: 1 });
    const text = cssVar("--text", "#1d2330");
    const grid = cssVar("--line", "#d9dde5");
    const plot = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height: 200,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [
          { stroke: text, grid: { stroke: grid } },
          { stroke: text, grid: { stroke: grid }, size: 50 },
        ],
        series: [
          {},
          { label: "Succeeded", stroke: cssVar("--ok", "#1a7f37"), fill: cssVar("--ok", "#1a7f37"), paths: left, points: { show: false } },
          { label: "Failed", stroke: cssVar("--bad", "#c5221f"), fill: cssVar("--bad", "#c5221f"), paths: right, points: { show: false } },
        ],
      },
      [xs, ok, bad],
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(300, el.clientWidth), height: 200 });
    addEventListener("resize", resize);
    return () => {
      removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [stats]);
  const total = stats.total;
  return (
    <figure class="chart">
      <div ref={box} role="img" aria-label={`Deliveries over time: ${total.succeeded} succeeded, ${total.failed + total.cancelled} failed, ${total.pending} pending`} />
      <figcaption class="muted">
        {total.succeeded} succeeded, {total.failed + total.cancelled} failed, {total.pending} pending
      </figcaption>
    </figure>
  );
}
