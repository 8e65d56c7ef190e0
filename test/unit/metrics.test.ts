import { describe, expect, test } from "bun:test";
import { Metrics } from "../../src/lib/metrics.ts";

const series = (m: Metrics, name: string) => m.render().split("\n").filter((l) => l.startsWith(name));

describe("counter labels", () => {
  test("the same labels in any order are one series, sorted and escaped once", () => {
    const m = new Metrics();
    const c = m.counter("t_total", "test");
    c.inc({ b: "2", a: "1" });
    c.inc({ a: "1", b: "2" }, 3);
    c.inc({ a: 'q"\\\nx', b: "2" });
    expect(series(m, "t_total")).toEqual(['t_total{a="1",b="2"} 4', 't_total{a="q___x",b="2"} 1']);
  });

  test("no labels, and label sets past the key cache's size, still count exactly", () => {
    const m = new Metrics();
    const c = m.counter("u_total", "test");
    c.inc();
    c.inc({}, 2);
    for (let i = 0; i < 12_000; i++) c.inc({ n: String(i % 11_000) });
    const lines = series(m, "u_total");
    expect(lines[0]).toBe("u_total 3");
    expect(lines).toHaveLength(11_001);
    expect(lines).toContain('u_total{n="10999"} 1');
    expect(lines).toContain('u_total{n="0"} 2');
  });
});
