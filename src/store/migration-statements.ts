/** drizzle-kit writes a migration as statements separated by this marker; each runs on its own. */
const BREAKPOINT = "--> statement-breakpoint";

export function statementsOf(migrationSql: string): string[] {
  return migrationSql.split(BREAKPOINT).filter((statement) => statement.trim() !== "");
}
