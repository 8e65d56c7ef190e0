/**
 * The README's curl walk-through, pasted into bash as it is (only the two ports swapped for free
 * ones), against the compiled binary in an empty folder: every block runs, in order, and answers
 * as the README says.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { installBinary, REPO, type Installed } from "../helpers/binary.ts";

let installed: Installed;
beforeAll(() => {
  installed = installBinary();
});
afterAll(() => installed.cleanup());

function walkThrough(): string {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Walk-through with curl"), readme.indexOf("The same from the command line:"));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join("\n");
}

async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

test("the README walk-through runs as written and answers as documented", async () => {
  const [api, receiver] = [await freePort(), await freePort()];
  const script = walkThrough().replaceAll("localhost:8080", `localhost:${api}`).replaceAll("9000", String(receiver));
  expect(script).toContain("./webhookd serve");
  const proc = Bun.spawn(["bash", "-c", `set -e\n${script}`], {
    cwd: installed.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", WEBHOOKD_PORT: String(api) },
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  clearTimeout(killer);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  expect(out).toContain('"deliveries":1,"duplicate":false');
  expect(out).toContain('"status":"succeeded"');
  expect(out).toMatch(/"deliveryId":"dlv_[^"]+","success":true/);
  expect(out).toContain('"enabled_events":["call.ended","contact.created"]');
  expect(out).toMatch(/\{"data":\{"success":true,"message_id":"evt_/);
  expect(out).toMatch(/(^|\})204$/m); // the DELETE's status line
  expect(out).toContain(`"url":"http://localhost:${api}/portal/login?token=`);
  // The receiver printed the event it got, with its webhook-id.
  expect(out).toMatch(/evt_\S+ \{"event":"call.ended"/);
}, 90_000);
