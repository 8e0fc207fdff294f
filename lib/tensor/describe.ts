/**
 * How error messages show a value the caller passed: numbers as they are, any
 * other type quoted or named, so that `"8"` (a string) and `8` never read alike.
 * Shared by every layer's argument checks.
 *
 * @module
 */

/**
 * A value as an error message shows it: numbers as they are (`8`, `NaN`), any
 * other type with quotes or its type: `"8" (a string)`, `true (a boolean)`,
 * `null`, `undefined`, `an object (Map)`.
 *
 * @example A string and a number read differently
 * ```ts
 * import { describeValue } from "./describe.ts";
 * import assert from "node:assert/strict";
 * assert.equal(describeValue(8), "8");
 * assert.equal(describeValue("8"), '"8" (a string)');
 * assert.equal(describeValue(false), "false (a boolean)");
 * ```
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
      return String(value);
    case "string":
      return `${JSON.stringify(value)} (a string)`;
    case "boolean":
      return `${value} (a boolean)`;
    case "bigint":
      return `${value}n (a bigint)`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    default:
      if (value === null) return "null";
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      return `an object (${(value as object).constructor?.name ?? "Object"})`;
  }
}
