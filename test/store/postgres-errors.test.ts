/** Which PostgreSQL failures are storage faults (the 503) and which pass through as they are. */
import { describe, expect, test } from "bun:test";
import { ServiceUnavailableError, ValidationError } from "../../src/lib/errors.ts";
import { asStorageFault, isRetryable, storageFault, unstorableText } from "../../src/store/postgres/errors.ts";

const server = (errno: string) => Object.assign(new Error(`server said ${errno}`), { code: "ERR_POSTGRES_SERVER_ERROR", errno });
const driver = (code: string) => Object.assign(new Error(code), { code });

describe("PostgreSQL storage faults", () => {
  test.each([
    ["connection refused", driver("ERR_POSTGRES_CONNECTION_REFUSED")],
    ["connection closed (terminated)", driver("ERR_POSTGRES_CONNECTION_CLOSED")],
    ["connection timeout", driver("ERR_POSTGRES_CONNECTION_TIMEOUT")],
    ["admin shutdown 57P01", server("57P01")],
    ["crash shutdown 57P02", server("57P02")],
    ["cannot connect now 57P03", server("57P03")],
    ["disk full 53100", server("53100")],
    ["too many connections 53300", server("53300")],
    ["connection failure 08006", server("08006")],
    ["read-only transaction 25006", server("25006")],
    ["lock timeout 55P03", server("55P03")],
    ["statement timeout 57014", server("57014")],
    ["I/O error 58030", server("58030")],
  ])("%s is the 503 STORAGE_UNAVAILABLE", (_, error) => {
    const fault = storageFault(error);
    expect(fault).toBeInstanceOf(ServiceUnavailableError);
    expect(fault!.code).toBe("STORAGE_UNAVAILABLE");
    expect(fault!.status).toBe(503);
    expect(asStorageFault(error)).toEqual(fault!);
  });

  test.each([
    ["unique violation 23505", server("23505")],
    ["foreign key violation 23503", server("23503")],
    ["syntax error", driver("ERR_POSTGRES_SYNTAX_ERROR")],
    ["a plain error", new Error("boom")],
    ["a non-error", "boom"],
  ])("%s passes through", (_, error) => {
    expect(storageFault(error)).toBeNull();
    expect(asStorageFault(error)).toBe(error);
  });

  test("deadlocks and serialization failures are retryable; nothing else is", () => {
    expect(isRetryable(server("40P01"))).toBe(true);
    expect(isRetryable(server("40001"))).toBe(true);
    expect(isRetryable(server("23505"))).toBe(false);
    expect(isRetryable(driver("ERR_POSTGRES_CONNECTION_CLOSED"))).toBe(false);
  });
});

describe("text PostgreSQL cannot store", () => {
  test.each([
    ["the NUL character 22021", server("22021")],
    ["bytes with no UTF-8 form 22P05", server("22P05")],
  ])("%s is the request's fault: a 400 VALIDATION_ERROR", (_, error) => {
    const refused = asStorageFault(error) as ValidationError;
    expect(refused).toBeInstanceOf(ValidationError);
    expect(refused.status).toBe(400);
    expect(refused.message).toContain("U+0000");
    expect(unstorableText(server("23505"))).toBeNull();
  });
});
