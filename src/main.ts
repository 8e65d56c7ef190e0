#!/usr/bin/env bun
/** The CLI: serve | migrate | orgs | keys | admin-key | version. Exit 2 on a usage error, 1 on a failure. */
import { parseArgs, UsageError } from "./cli/args.ts";
import { HELP } from "./cli/help.ts";
import { ConfigError, loadConfig, serveFlags } from "./config.ts";
import { buildServices, startApp } from "./app.ts";
import { silentLogger } from "./lib/logger.ts";
import { AppError } from "./lib/errors.ts";
import { VERSION } from "./version.ts";
import { MAX_LIST_PAGE } from "./api/paging.ts";

const COMMAND_FLAGS: Record<string, ReadonlyMap<string, boolean>> = {
  keys: new Map([...serveFlags, ["--org", false], ["--scopes", false], ["--name", false], ["--mode", false]]),
};

function print(line: string): void {
  process.stdout.write(line.endsWith("\n") ? line : line + "\n");
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    print(HELP.main!());
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    print(`webhookd ${VERSION}`);
    return 0;
  }
  const help = Object.hasOwn(HELP, command) ? HELP[command] : undefined; // not "toString" & co.
  if (!help) throw new UsageError(command.startsWith("-") ? `unknown flag ${command}` : `unknown command "${command}"`);
  if (rest.includes("--help") || rest.includes("-h")) {
    print(help());
    return 0;
  }
  if (command === "version") {
    print(`webhookd ${VERSION}`);
    return 0;
  }
  const { positionals, flags } = parseArgs(rest, COMMAND_FLAGS[command] ?? serveFlags);
  const config = loadConfig(process.env, flags);

  switch (command) {
    case "serve": {
      if (positionals.length) throw new UsageError(`serve takes no arguments, got "${positionals[0]}"`);
      // Handlers go in before "listening" is logged: a signal right after it is a clean stop, not a kill.
      const signalled = new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      const app = await startApp(config);
      if (app.generatedAdminKey) {
        print(`\nGenerated the admin API key (shown once, store it now):\n\n  ${app.generatedAdminKey}\n`);
      }
      await signalled;
      await app.stop();
      return 0;
    }
    case "migrate": {
      await (await buildServices(config, { logger: silentLogger })).store.close();
      print("migrations applied");
      return 0;
    }
    case "orgs": {
      const [sub, name, extra] = positionals;
      const services = await buildServices(config, { logger: silentLogger });
      try {
        if (sub === "create" && name && !extra) {
          const org = await services.orgs.createOrg(name);
          print(JSON.stringify({ id: org.id, name: org.name }));
          return 0;
        }
        if (sub === "list" && !name) {
          for (let after: string | null = null; ; ) {
            const { items, pagination } = await services.orgs.listOrgs({ after, limit: MAX_LIST_PAGE });
            for (const org of items) print(`${org.id}\t${org.name}`);
            if ((after = pagination.nextAfter) === null) break;
          }
          return 0;
        }
      } finally {
        await services.store.close();
      }
      throw new UsageError("expected 'orgs create <name>' or 'orgs list'");
    }
    case "keys": {
      const [sub, extra] = positionals;
      const org = flags["--org"];
      const scopes = flags["--scopes"]?.split(",").map((s) => s.trim()).filter(Boolean);
      const mode = flags["--mode"] ?? "live";
      if (sub !== "create" || extra || !org || !scopes?.length) {
        throw new UsageError("expected 'keys create --org <id> --scopes <a,b> [--name <n>] [--mode live|test]'");
      }
      if (mode !== "live" && mode !== "test") throw new UsageError("--mode is live or test");
      const services = await buildServices(config, { logger: silentLogger });
      try {
        const { row, key } = await services.orgs.createKey(org, { scopes, name: flags["--name"] ?? null, mode });
        print(JSON.stringify({ id: row.id, orgId: row.orgId, scopes: row.scopes, key }));
        return 0;
      } finally {
        await services.store.close();
      }
    }
    case "admin-key": {
      const [sub, extra] = positionals;
      if ((sub !== "rotate" && sub !== "revoke") || extra) throw new UsageError("expected 'admin-key rotate' or 'admin-key revoke'");
      const services = await buildServices(config, { logger: silentLogger });
      try {
        if (sub === "rotate") {
          const { row, key } = await services.adminKeys.rotate();
          print(JSON.stringify({ id: row.id, key }));
        } else {
          print(JSON.stringify({ revoked: await services.adminKeys.revokeAll() }));
        }
        return 0;
      } finally {
        await services.store.close();
      }
    }
    default:
      print(help());
      return 2;
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`webhookd: ${err.message}\nRun 'webhookd --help' for usage.\n`);
    process.exitCode = 2;
  } else if (err instanceof ConfigError) {
    process.stderr.write(`webhookd: invalid configuration: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof AppError) {
    process.stderr.write(`webhookd: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`webhookd: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  }
}
