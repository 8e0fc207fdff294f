/**
 * Private input handling for the figure builders: Tensor / Mask / nested
 * arrays to row-major matrices, squeezing leading size-1 axes, label checks
 * and compact rounding.
 *
 * @module
 */

import { tensor } from "../tensor/tensor.ts";
import { mask } from "../tensor/mask.ts";
import { formatShape, sizeOf } from "../tensor/shape.ts";

/** A row-major matrix view: `data[i * cols + j]` is row i, column j. */
export interface _Matrix {
  rows: number;
  cols: number;
  data: ArrayLike<number>;
}

/**
 * What the builders read from a `Tensor`: float32 values and a row-major
 * shape. A `Tensor` of this library is one; so is any object of that form.
 */
export interface TensorLike {
  /** Row-major values. */
  readonly data: Float32Array;
  /** Size of each axis. */
  readonly shape: readonly number[];
}

/** What `maskHeatmap` reads from a `Mask`: bytes (1 = may attend) and a shape. */
export interface MaskLike {
  /** 1 where attention is allowed, 0 where it is blocked, row-major. */
  readonly data: Uint8Array;
  /** Size of each axis. */
  readonly shape: readonly number[];
}

/** Input a heatmap builder accepts: a `Tensor` or nested number arrays (`number[][]`). */
export type MatrixInput = TensorLike | readonly (readonly number[])[];

/** Input the head grids accept: `[H, Tq, Tk]`, `[1, H, Tq, Tk]`, or nested arrays of that shape. */
export type HeadsInput = TensorLike | readonly (readonly (readonly number[])[])[];

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/** Checks a typed array + shape pair and returns it. */
function typed<T extends Float32Array | Uint8Array>(
  input: { data: T; shape: readonly number[] },
  fn: string,
  arg: string,
): { data: T; shape: readonly number[] } {
  const { data, shape } = input;
  if (
    !Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0) ||
    sizeOf(shape) !== data.length
  ) {
    throw new RangeError(
      `${fn}: ${arg} has shape ${
        Array.isArray(shape) ? formatShape(shape) : String(shape)
      } that does not fit its ${data.length} values`,
    );
  }
  return input;
}

const isTyped = (v: unknown, ctor: typeof Float32Array | typeof Uint8Array): boolean =>
  typeof v === "object" && v !== null && (v as { data?: unknown }).data instanceof ctor &&
  "shape" in v;

function asTensor(input: unknown, fn: string, arg: string): TensorLike {
  if (isTyped(input, Float32Array)) return typed(input as TensorLike, fn, arg);
  if (Array.isArray(input)) {
    // tensor() validates that the arrays are rectangular and numeric; re-word its errors.
    try {
      return tensor(input as number[][]);
    } catch (e) {
      const msg = (e as Error).message.replace(/^tensor: values/, `${fn}: ${arg}`);
      throw e instanceof TypeError ? new TypeError(msg) : new RangeError(msg);
    }
  }
  throw new TypeError(
    `${fn}: ${arg} must be a Tensor or nested number arrays, got ${describe(input)}`,
  );
}

/**
 * The trailing `rank` axes of `shape` after dropping leading size-1 axes;
 * throws a RangeError naming `fn` when other axes remain.
 */
export function _squeezeTo(
  shape: readonly number[],
  rank: number,
  fn: string,
  arg: string,
  expected: string,
): number[] {
  if (shape.length < rank) {
    throw new RangeError(
      `${fn}: ${arg} must have shape ${expected}, got ${formatShape(shape)} (rank ${shape.length})`,
    );
  }
  const lead = shape.slice(0, shape.length - rank);
  if (lead.some((d) => d !== 1)) {
    throw new RangeError(
      `${fn}: ${arg} must have shape ${expected} (leading axes of size 1 are dropped), got ${
        formatShape(shape)
      }; select one element of the leading axes first`,
    );
  }
  return shape.slice(shape.length - rank);
}

/** A 2-D view of a matrix-like input (`[R, C]`, or `[1, …, 1, R, C]`). */
export function _toMatrix(input: unknown, fn: string, arg: string): _Matrix {
  const t = asTensor(input, fn, arg);
  const [rows, cols] = _squeezeTo(t.shape, 2, fn, arg, "[rows, cols]");
  return { rows, cols, data: t.data };
}

/** A 2-D view of a mask (`Mask`, nested booleans or 0/1 numbers). */
export function _toMaskMatrix(input: unknown, fn: string, arg: string): _Matrix {
  let m: MaskLike;
  if (isTyped(input, Uint8Array)) m = typed(input as MaskLike, fn, arg);
  else if (Array.isArray(input)) {
    try {
      m = mask(input as boolean[][]);
    } catch (e) {
      const msg = (e as Error).message.replace(/^mask: values/, `${fn}: ${arg}`);
      throw e instanceof TypeError ? new TypeError(msg) : new RangeError(msg);
    }
  } else {
    throw new TypeError(
      `${fn}: ${arg} must be a Mask or nested booleans (true = may attend), got ${describe(input)}`,
    );
  }
  const [rows, cols] = _squeezeTo(m.shape, 2, fn, arg, "[Tq, Tk]");
  return { rows, cols, data: m.data };
}

/** One matrix per head from `[H, Tq, Tk]` (or `[1, H, Tq, Tk]`). */
export function _toHeads(input: unknown, fn: string, arg: string): _Matrix[] {
  const t = asTensor(input, fn, arg);
  const [h, rows, cols] = _squeezeTo(t.shape, 3, fn, arg, "[H, Tq, Tk] or [1, H, Tq, Tk]");
  const size = rows * cols;
  const out: _Matrix[] = [];
  for (let i = 0; i < h; i++) {
    out.push({ rows, cols, data: t.data.subarray(i * size, (i + 1) * size) });
  }
  return out;
}

/** Checks optional labels: `n` entries, one per `axis` (`plural` of it), converted to strings. */
export function _labels(
  labels: readonly unknown[] | undefined,
  n: number,
  fn: string,
  arg: string,
  axis: string,
  plural = `${axis}s`,
): string[] | undefined {
  if (labels === undefined) return undefined;
  if (!Array.isArray(labels)) {
    throw new TypeError(`${fn}: ${arg} must be an array of strings, got ${describe(labels)}`);
  }
  if (labels.length !== n) {
    throw new RangeError(
      `${fn}: ${arg} must have one label per ${axis}: got ${labels.length} labels for ${n} ${plural}`,
    );
  }
  return labels.map(String);
}

/**
 * `v` rounded to 4 significant digits (float32 holds about 7): plenty for a
 * colour and a hover value, and about half the JSON of full precision.
 * Non-finite values become `null`, which plotly draws as a gap.
 */
export function _round(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  if (v === 0 || Number.isInteger(v)) return v;
  return Number(v.toPrecision(4));
}

/** The matrix as rounded nested rows, as plotly's `z` wants it. */
export function _rows(m: _Matrix): (number | null)[][] {
  const z: (number | null)[][] = new Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    const row: (number | null)[] = new Array(m.cols);
    const off = i * m.cols;
    for (let j = 0; j < m.cols; j++) row[j] = _round(m.data[off + j]);
    z[i] = row;
  }
  return z;
}

/** Smallest and largest finite values of the matrices, or `undefined` when none is finite. */
export function _finiteRange(ms: readonly _Matrix[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of ms) {
    for (let i = 0; i < m.rows * m.cols; i++) {
      const v = m.data[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/** Checks an optional finite number option. */
export function _finite(v: unknown, fn: string, arg: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new TypeError(`${fn}: ${arg} must be a finite number, got ${String(v)}`);
  }
  return v;
}
