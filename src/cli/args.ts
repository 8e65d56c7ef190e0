/** A small argv parser: positionals, `--flag value`, `--flag=value`, and boolean flags alone. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string>;
}

/** `known` maps each accepted flag to whether it is boolean (may stand without a value). */
export function parseArgs(argv: string[], known: ReadonlyMap<string, boolean>): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const isBoolean = known.get(name);
    if (isBoolean === undefined) throw new UsageError(`unknown flag ${name}`);
    if (eq !== -1) flags[name] = arg.slice(eq + 1);
    else if (isBoolean && (argv[i + 1] === undefined || argv[i + 1]!.startsWith("--") || !/^(true|false|1|0|yes|no|on|off)$/i.test(argv[i + 1]!))) flags[name] = "true";
    else {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      flags[name] = value;
    }
  }
  return { positionals, flags };
}
