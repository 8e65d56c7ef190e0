/** The event catalog: every type endpoints can subscribe to, what it means, and an example. */
import { Code, Section } from "../components.tsx";
import type { Ctx } from "../context.ts";

export function CatalogView({ ctx }: { ctx: Ctx }) {
  return (
    <>
      <h1 tabIndex={-1}>Event catalog</h1>
      {ctx.catalog.map((t) => (
        <Section key={t.name} title={t.name}>
          <p>{t.description}</p>
          <Code text={JSON.stringify({ event: t.name, timestamp: "2025-01-15T10:30:00.000Z", data: t.example })} label={`Example ${t.name} payload`} />
        </Section>
      ))}
    </>
  );
}
