import { options } from "../config.ts";

const configLines = () =>
  Object.values(options)
    .map((o) => `  ${(o.flag + " <value>").padEnd(36)} ${o.env}${o.default !== undefined ? ` (default ${o.default})` : ""}\n      ${o.help}`)
    .join("\n");

export const HELP: Record<string, () => string> = {
  main: () => `webhookd: self-hosted webhook delivery

Usage: webhookd <command> [options]

Commands:
  serve                      Start the API server and the delivery engine
  migrate                    Apply database migrations and exit
  orgs create <name>         Create an organization
  orgs list                  List organizations
  keys create --org <id> --scopes <a,b> [--name <n>] [--mode live|test]
                             Create an org API key (printed once)
  admin-key rotate           Make a new admin key (printed once) and revoke the stored ones
  admin-key revoke           Revoke every stored admin key
  version                    Print the version

Run 'webhookd <command> --help' for a command's options.
`,
  serve: () => `Usage: webhookd serve [options]

Starts the API (Swagger UI at /docs) and the delivery engine. Every option is also an
environment variable; a flag wins over its variable.

${configLines()}
`,
  migrate: () => `Usage: webhookd migrate [--data-dir <dir>]

Applies the embedded migrations to <data dir>/webhookd.db and exits. 'serve' does this too.
`,
  orgs: () => `Usage: webhookd orgs create <name> [--data-dir <dir>]
       webhookd orgs list [--data-dir <dir>]
`,
  keys: () => `Usage: webhookd keys create --org <orgId> --scopes <scope,scope> [--name <name>] [--mode live|test] [--data-dir <dir>]

Scopes: webhooks:read, webhooks:write, events:write. The key is printed once; only its hash is stored.
`,
  "admin-key": () => `Usage: webhookd admin-key rotate [--data-dir <dir>]
       webhookd admin-key revoke [--data-dir <dir>]

rotate prints {"id", "key"}: a new admin key, shown once; every other stored admin key is
revoked, and a running server refuses them on their next request. Refused while
WEBHOOKD_ADMIN_KEY is set: that variable is then the only admin key (change it and restart).
revoke prints {"revoked": n}; the next start without WEBHOOKD_ADMIN_KEY generates a new key.
`,
  version: () => "Usage: webhookd version\n",
};
