/**
 * Elementwise closeness checks for tests, after `torch.testing.assert_close`:
 * {@link assertClose} fails with a message that names how many elements
 * differ, the worst one's index and values, and the tolerances; the helpers
 * {@link maxAbsDiff} and {@link maxRelDiff} report the worst error as a number.
 *
 * @module
 */

import { formatShape, sameShape } from "../tensor/shape.ts";
import { flattenNested, type NestedArray, Tensor } from "../tensor/tensor.ts";
import { Mask, type NestedBool } from "../tensor/mask.ts";

interface AssertionErrorOptions {
  message: string;
  actual: unknown;
  expected: unknown;
  operator: string;
  // deno-lint-ignore ban-types
  stackStartFn: Function;
}
type AssertionErrorClass = new (options: AssertionErrorOptions) => Error;

/**
 * `node:assert`'s AssertionError (what test runners format), looked up when a
 * check fails rather than imported: the library then imports no `node:`
 * module, and a browser bundle of it loads. A host without it gets an Error
 * of that name.
 */
function assertionError(options: AssertionErrorOptions): Error {
  const proc = (globalThis as {
    process?: { getBuiltinModule?: (id: string) => { AssertionError?: AssertionErrorClass } };
  }).process;
  const Ctor = proc?.getBuiltinModule?.("node:assert")?.AssertionError;
  if (Ctor) return new Ctor(options);
  const error = new Error(options.message);
  error.name = "AssertionError";
  return error;
}

/**
 * What {@link assertClose} compares: a {@link Tensor}, a {@link Mask} (as 0/1),
 * a `Float32Array`/`Float64Array`, flat or nested number arrays (booleans count
 * as 0/1), or a single number (shape `[]`).
 */
export type CloseInput =
  | Tensor
  | Mask
  | Float32Array
  | Float64Array
  | NestedArray
  | NestedBool
  | readonly number[];

/** Options for {@link assertClose}. */
export interface AssertCloseOptions {
  /** Relative tolerance, scaled by `|expected|`; default `1e-5` (torch's float32 default). */
  rtol?: number;
  /** Absolute tolerance; default `1e-8`. */
  atol?: number;
  /** Count two NaNs at the same index as equal; default `false`. */
  equalNan?: boolean;
  /** Text put before the generated failure message. */
  message?: string;
}

/** Flat values plus the shape they came with; `flat` marks inputs that carry only a length. */
interface _Values {
  values: ArrayLike<number>;
  shape: readonly number[];
  flat: boolean;
}

/**
 * Asserts that `actual` and `expected` are elementwise close:
 * `|actual - expected| <= atol + rtol * |expected|` at every index.
 *
 * Infinities must match exactly (same sign); a NaN fails unless `equalNan`
 * is set and both sides are NaN there. Shapes must be equal, except that
 * flat inputs (a typed array or a 1-D number array) are only compared by
 * length, so a `Tensor` of shape `[2, 3]` may be checked against six numbers.
 *
 * @param actual The value computed by the code under test.
 * @param expected The reference value; `rtol` scales with its magnitude.
 * @param options Tolerances, NaN handling and a message prefix.
 * @throws {AssertionError} When the shapes differ or any element is not close; the
 *   message gives the mismatch count, the worst element's index, both values there,
 *   the absolute and relative difference, and the tolerances.
 * @throws {TypeError} When an input is of an unsupported kind or an option has the wrong type.
 * @throws {RangeError} When `rtol` or `atol` is negative or not finite.
 *
 * @example Pass within tolerance, fail outside it
 * ```ts
 * import { assertClose } from "./assert_close.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 *
 * assertClose(tensor([[1, 2], [3, 4]]), [[1, 2], [3, 4 + 1e-6]]);
 * assert.throws(
 *   () => assertClose(tensor([[1, 2], [3, 4]]), [[1, 2], [3, 5]]),
 *   /1 of 4 elements.*index \[1, 1\]: actual=4, expected=5/s,
 * );
 * ```
 */
export function assertClose(
  actual: CloseInput,
  expected: CloseInput,
  options: AssertCloseOptions = {},
): void {
  const { rtol, atol, equalNan, message } = _checkOptions(options);
  const a = _toValues(actual, "assertClose", "actual");
  const e = _toValues(expected, "assertClose", "expected");
  const prefix = message === undefined ? "" : `${message}\n`;
  const shape = _commonShape(a, e);
  if (shape === null) {
    throw assertionError({
      message: `${prefix}assertClose: shapes differ: actual ${_describeShape(a)}, expected ${
        _describeShape(e)
      }`,
      actual,
      expected,
      operator: "assertClose",
      stackStartFn: assertClose,
    });
  }
  const n = a.values.length;
  let mismatches = 0;
  let worst = -1;
  let worstRatio = -1;
  let worstDiff = -1;
  for (let i = 0; i < n; i++) {
    const x = a.values[i];
    const y = e.values[i];
    if (_isClose(x, y, rtol, atol, equalNan)) continue;
    mismatches++;
    // The worst element is the one furthest outside its own tolerance, measured
    // in multiples of it (scale-free), ties going to the larger absolute error.
    // NaN and infinity mismatches count as infinitely far; the first one wins.
    const d = _absDiff(x, y);
    const diff = Number.isNaN(d) ? Infinity : d;
    const allowed = atol + rtol * Math.abs(y);
    const ratio = allowed > 0 && Number.isFinite(allowed) ? diff / allowed : Infinity;
    if (ratio > worstRatio || (ratio === worstRatio && diff > worstDiff)) {
      worst = i;
      worstRatio = ratio;
      worstDiff = diff;
    }
  }
  if (mismatches === 0) return;

  const x = a.values[worst];
  const y = e.values[worst];
  const abs = _absDiff(x, y);
  const pct = (100 * mismatches / n).toPrecision(3);
  throw assertionError({
    message: `${prefix}assertClose: ${mismatches} of ${n} elements (${pct}%) are not close ` +
      `(allowed |actual - expected| <= atol + rtol * |expected| with rtol=${rtol}, atol=${atol}` +
      `${equalNan ? ", equalNan" : ""}).\n` +
      `Worst at index ${formatShape(_unravel(worst, shape))}: actual=${x}, expected=${y}, ` +
      `absolute difference ${abs}, relative difference ${_relDiff(x, y)}, ` +
      `allowed ${atol + rtol * Math.abs(y)}.`,
    actual,
    expected,
    operator: "assertClose",
    stackStartFn: assertClose,
  });
}

/**
 * The largest `|actual - expected|` over all elements: `0` for empty inputs,
 * `NaN` if either side has a NaN, `Infinity` where infinities differ
 * (equal infinities count as `0`).
 *
 * @param actual Values to measure.
 * @param expected Reference values, of the same shape (or length, for flat inputs).
 * @returns The worst absolute error.
 * @throws {RangeError} When the shapes differ.
 * @throws {TypeError} When an input is of an unsupported kind.
 *
 * @example Report the worst error
 * ```ts
 * import { maxAbsDiff } from "./assert_close.ts";
 * import assert from "node:assert/strict";
 * assert.equal(maxAbsDiff([1, 2, 3], [1, 2.5, 2]), 1);
 * ```
 */
export function maxAbsDiff(actual: CloseInput, expected: CloseInput): number {
  const [a, e] = _pair(actual, expected, "maxAbsDiff");
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = _absDiff(a[i], e[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > worst) worst = d;
  }
  return worst;
}

/**
 * The largest `|actual - expected| / |expected|` over all elements: `0` for
 * empty inputs and where both sides are `0`, `Infinity` where `expected` is
 * `0` and `actual` is not, `NaN` if either side has a NaN.
 *
 * @param actual Values to measure.
 * @param expected Reference values, of the same shape (or length, for flat inputs).
 * @returns The worst relative error.
 * @throws {RangeError} When the shapes differ.
 * @throws {TypeError} When an input is of an unsupported kind.
 *
 * @example Relative error is measured against the expected value
 * ```ts
 * import { maxRelDiff } from "./assert_close.ts";
 * import assert from "node:assert/strict";
 * assert.equal(maxRelDiff([110, 1], [100, 1]), 0.1);
 * ```
 */
export function maxRelDiff(actual: CloseInput, expected: CloseInput): number {
  const [a, e] = _pair(actual, expected, "maxRelDiff");
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = _relDiff(a[i], e[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > worst) worst = d;
  }
  return worst;
}

function _isClose(x: number, y: number, rtol: number, atol: number, equalNan: boolean): boolean {
  if (x === y) return true; // also equal infinities, and -0 vs 0
  if (Number.isNaN(x) || Number.isNaN(y)) return equalNan && Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) <= atol + rtol * Math.abs(y);
}

function _absDiff(x: number, y: number): number {
  return x === y ? 0 : Math.abs(x - y);
}

function _relDiff(x: number, y: number): number {
  if (x === y) return 0;
  return Math.abs(x - y) / Math.abs(y); // Infinity when y is 0, NaN when either is NaN
}

function _pair(
  actual: unknown,
  expected: unknown,
  fn: string,
): [ArrayLike<number>, ArrayLike<number>] {
  const a = _toValues(actual, fn, "actual");
  const e = _toValues(expected, fn, "expected");
  if (_commonShape(a, e) === null) {
    throw new RangeError(
      `${fn}: shapes differ: actual ${_describeShape(a)}, expected ${_describeShape(e)}`,
    );
  }
  return [a.values, e.values];
}

/** The shape to index errors with, or `null` when the inputs cannot be compared. */
function _commonShape(a: _Values, e: _Values): readonly number[] | null {
  if (a.flat || e.flat) {
    if (a.values.length !== e.values.length) return null;
    return a.flat ? e.shape : a.shape;
  }
  return sameShape(a.shape, e.shape) ? a.shape : null;
}

function _describeShape(v: _Values): string {
  return v.flat ? `of length ${v.values.length}` : formatShape(v.shape);
}

/** Row-major multi-index of flat index `i` in `shape`. */
function _unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let ax = shape.length - 1; ax >= 0; ax--) {
    idx[ax] = i % shape[ax];
    i = Math.floor(i / shape[ax]);
  }
  return idx;
}

function _toValues(x: unknown, fn: string, arg: string): _Values {
  if (x instanceof Tensor || x instanceof Mask) {
    return { values: x.data, shape: x.shape, flat: false };
  }
  if (x instanceof Float32Array || x instanceof Float64Array) {
    return { values: x, shape: [x.length], flat: true };
  }
  if (typeof x === "number") return { values: [x], shape: [], flat: false };
  if (Array.isArray(x)) {
    const { flat, shape } = flattenNested(x, fn, arg, (v, path) => {
      if (typeof v === "number") return v;
      if (typeof v === "boolean") return v ? 1 : 0;
      throw new TypeError(`${fn}: ${path} must be a number or boolean, got ${_describe(v)}`);
    });
    return { values: flat, shape, flat: shape.length === 1 };
  }
  throw new TypeError(
    `${fn}: ${arg} must be a Tensor, Mask, Float32Array, Float64Array, number array or number, got ${
      _describe(x)
    }`,
  );
}

function _checkOptions(
  options: AssertCloseOptions,
): Required<Omit<AssertCloseOptions, "message">> & {
  message: string | undefined;
} {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`assertClose: options must be an object, got ${_describe(options)}`);
  }
  const { rtol = 1e-5, atol = 1e-8, equalNan = false, message } = options;
  for (const [name, v] of [["rtol", rtol], ["atol", atol]] as const) {
    if (typeof v !== "number") {
      throw new TypeError(`assertClose: options.${name} must be a number, got ${_describe(v)}`);
    }
    if (!(v >= 0) || v === Infinity) {
      throw new RangeError(
        `assertClose: options.${name} must be finite and non-negative, got ${v}`,
      );
    }
  }
  if (typeof equalNan !== "boolean") {
    throw new TypeError(
      `assertClose: options.equalNan must be a boolean, got ${_describe(equalNan)}`,
    );
  }
  if (message !== undefined && typeof message !== "string") {
    throw new TypeError(`assertClose: options.message must be a string, got ${_describe(message)}`);
  }
  return { rtol, atol, equalNan, message };
}

function _describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  if (typeof v === "string") {
    return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  }
  return `${typeof v} ${String(v)}`;
}
