/**
 * JSON numbers that would not reach a receiver as sent. JSON.parse turns every number into an
 * IEEE-754 double: 12345678901234567890 and 9007199254740993 come out rounded, 1e400 as Infinity
 * (which JSON.stringify writes as null). Delivering those would change a customer's data without
 * saying so, so such a body is refused, naming the number and where it stands.
 */

/** Sign, significant digits (no leading or trailing zeros) and exponent of a decimal literal. */
function decimalValue(literal: string): { negative: boolean; digits: string; exponent: number } | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return null;
  const fraction = m[3] ?? "";
  let digits = (m[2]! + fraction).replace(/^0+/, "");
  let exponent = Number(m[4] ?? 0) - fraction.length;
  const trailing = digits.length - digits.replace(/0+$/, "").length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  if (digits === "") return { negative: false, digits: "", exponent: 0 };
  return { negative: m[1] === "-", digits, exponent };
}

/** Whether a double carries this literal's exact decimal value (as JavaScript prints it back). */
export function survivesAsDouble(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  const sent = decimalValue(literal);
  const kept = decimalValue(String(value).replace("e+", "e"));
  return sent !== null && kept !== null && sent.negative === kept.negative && sent.digits === kept.digits && sent.exponent === kept.exponent;
}

/** The first number literal in a JSON text that a double would not carry exactly, or null. */
export function firstInexactNumber(text: string): string | null {
  // Most bodies have no long digit run and no exponent: one cheap scan settles them.
  if (!/\d{16}|\d[eE]|\d\.\d{15}/.test(text)) return null;
  const numbers = /"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  for (let m = numbers.exec(text); m; m = numbers.exec(text)) {
    const literal = m[1];
    // Short literals are always exact: at most 15 significant digits and a small exponent.
    if (literal === undefined || (literal.length <= 15 && !/[eE]/.test(literal))) continue;
    if (!survivesAsDouble(literal)) return literal;
  }
  return null;
}

/** Where in a parsed body a number stands (`data.amounts[2]`), for the error's path. */
export function pathOfNumber(value: unknown, target: number, at = ""): string | null {
  if (typeof value === "number") return Object.is(value, target) ? at : null;
  if (value === null || typeof value !== "object") return null;
  for (const [key, child] of Object.entries(value)) {
    const path = pathOfNumber(child, target, Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${key}` : key);
    if (path !== null) return path;
  }
  return null;
}
