/**
 * The publish baseline, in its own process: a bare Bun.serve that parses the same JSON body as
 * POST /api/v1/events and answers 202 with an envelope of the same shape. Prints `{"url": ...}`.
 */
import { exitWithParent, report } from "./payload.ts";

let seq = 0;
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = (await req.json()) as { event: string };
    const data = { id: `evt_${++seq}`, event: body.event, timestamp: new Date().toISOString(), deliveries: 1, duplicate: false };
    return Response.json({ data }, { status: 202 });
  },
});
report({ url: `http://127.0.0.1:${server.port}` });
exitWithParent();
