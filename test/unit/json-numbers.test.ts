import { describe, expect, test } from "bun:test";
import { firstInexactNumber, pathOfNumber, survivesAsDouble } from "../../src/http/json-numbers.ts";

describe("survivesAsDouble", () => {
  test.each([
    ["0", true],
    ["-0", true],
    ["42", true],
    ["9007199254740991", true], // 2^53 - 1
    ["9007199254740992", true], // 2^53, exact
    ["9007199254740993", false], // rounds to 2^53
    ["12345678901234567890", false],
    ["150000000000000000000", true], // 1.5e20 is exact
    ["1.5e20", true],
    ["1E+2", true],
    ["0.1", true],
    ["0.10", true],
    ["1.0", true],
    ["3.141592653589793", true],
    ["0.1000000000000000055511151231257827", false],
    ["1e400", false],
    ["-1e400", false],
    ["1e-400", false], // underflows to 0
    ["5e-324", true],
  ])("%s -> %p", (literal, exact) => {
    expect(survivesAsDouble(literal)).toBe(exact as boolean);
  });
});

describe("firstInexactNumber", () => {
  test("finds numbers outside strings only", () => {
    expect(firstInexactNumber('{"a":"12345678901234567890","b":1}')).toBeNull();
    expect(firstInexactNumber('{"a":"x\\"12345678901234567890","b":12345678901234567890}')).toBe("12345678901234567890");
    expect(firstInexactNumber('{"n":[1,2,9007199254740993]}')).toBe("9007199254740993");
    expect(firstInexactNumber('{"n":1e400}')).toBe("1e400");
  });
});

describe("pathOfNumber", () => {
  test("names the field", () => {
    const body = JSON.parse('{"event":"x","data":{"ids":[1,12345678901234567890]}}');
    expect(pathOfNumber(body, Number("12345678901234567890"))).toBe("data.ids[1]");
    expect(pathOfNumber({ a: Infinity }, Infinity)).toBe("a");
  });
});
