/**
 * The SQLite and PostgreSQL schemas describe the same tables: the same columns (name, nullability,
 * default present, primary key), the same indexes (name, columns, unique) and foreign keys. A
 * change to one that is not made to the other fails here.
 */
import { describe, expect, test } from "bun:test";
import { getTableConfig as sqliteConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { getTableConfig as pgConfig, type PgTable } from "drizzle-orm/pg-core";
import * as sqlite from "../../src/store/sqlite/schema.ts";
import * as postgres from "../../src/store/postgres/schema.ts";
import type { ApiKeyRow, AttemptRow, DeliveryRow, EndpointRow, EventRow, IdempotencyRow, OrgRow, PortalSessionRow } from "../../src/store/port.ts";

/** Both schemas store the port's domain rows, field for field: a drift fails `bun run typecheck`. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type RowsOf<S extends typeof sqlite | typeof postgres> = [
  Same<S["orgs"]["$inferSelect"], OrgRow>,
  Same<S["apiKeys"]["$inferSelect"], ApiKeyRow>,
  Same<S["endpoints"]["$inferSelect"], EndpointRow>,
  Same<S["events"]["$inferSelect"], EventRow>,
  Same<S["deliveries"]["$inferSelect"], DeliveryRow>,
  Same<S["attempts"]["$inferSelect"], AttemptRow>,
  Same<S["idempotencyRecords"]["$inferSelect"], IdempotencyRow>,
  Same<S["portalSessions"]["$inferSelect"], PortalSessionRow>,
];
const sqliteRowsAreDomainRows: RowsOf<typeof sqlite> = [true, true, true, true, true, true, true, true];
const postgresRowsAreDomainRows: RowsOf<typeof postgres> = [true, true, true, true, true, true, true, true];

interface Shape {
  columns: string[];
  indexes: string[];
  foreignKeys: string[];
  primaryKey: string[];
}

type AnyConfig = ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>;

function shapeOf(config: AnyConfig): Shape {
  const columns = (config.columns as Array<{ name: string; notNull: boolean; hasDefault: boolean; primary: boolean }>).map(
    (c) => `${c.name}${c.notNull ? " not null" : ""}${c.hasDefault ? " default" : ""}${c.primary ? " primary" : ""}`,
  );
  const indexes = (config.indexes as Array<{ config: { name?: string; unique: boolean; columns: Array<{ name?: string }>; where?: unknown } }>).map(
    (i) => `${i.config.name}(${i.config.columns.map((c) => c.name).join(",")})${i.config.unique ? " unique" : ""}${i.config.where ? " partial" : ""}`,
  );
  const foreignKeys = (config.foreignKeys as Array<{ reference(): { columns: Array<{ name: string }>; foreignColumns: Array<{ name: string }> } }>).map((fk) => {
    const r = fk.reference();
    return `${r.columns.map((c) => c.name).join(",")} -> ${r.foreignColumns.map((c) => c.name).join(",")}`;
  });
  const primaryKey = (config.primaryKeys as Array<{ columns: Array<{ name: string }> }>).map((pk) => pk.columns.map((c) => c.name).join(","));
  return { columns: columns.sort(), indexes: indexes.sort(), foreignKeys: foreignKeys.sort(), primaryKey };
}

const isTable = (value: unknown) => typeof value === "object" && value !== null && Symbol.for("drizzle:IsDrizzleTable") in value;
const sqliteTables = Object.fromEntries(Object.entries(sqlite).filter(([, v]) => isTable(v)));
const pgTables = Object.fromEntries(Object.entries(postgres).filter(([, v]) => isTable(v)));

describe("the SQLite and PostgreSQL schemas", () => {
  test("store the port's domain rows (checked by the type checker)", () => {
    expect([...sqliteRowsAreDomainRows, ...postgresRowsAreDomainRows].every(Boolean)).toBe(true);
  });

  test("have the same tables", () => {
    expect(Object.keys(pgTables).sort()).toEqual(Object.keys(sqliteTables).sort());
    expect(Object.keys(sqliteTables).length).toBeGreaterThan(5);
  });

  test.each(Object.keys(sqliteTables))("%s has the same columns, keys and indexes", (name) => {
    const lite = sqliteConfig(sqliteTables[name] as SQLiteTable);
    const pg = pgConfig(pgTables[name] as PgTable);
    expect(pg.name).toBe(lite.name);
    expect(shapeOf(pg)).toEqual(shapeOf(lite));
  });
});
