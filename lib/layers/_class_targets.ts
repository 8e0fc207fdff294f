/**
 * Class-index targets shared by the classification losses ({@link crossEntropy},
 * {@link nllLoss}): parsing, validation and the reduction option.
 *
 * @module
 */

import { formatShape, sameShape, sizeOf } from "../tensor/shape.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _describe, _oneOf, _options } from "./_validate.ts";

/**
 * Class indices, one per row of the input (`[...]` for an input `[..., C]`): a flat
 * `number[]` or `Int32Array` of length N = the product of the leading sizes, or a
 * Tensor of exactly the leading shape holding integers (PyTorch's int64 target).
 */
export type ClassTargets = readonly number[] | Int32Array | Tensor;

/** How a loss reduces its per-element values: PyTorch's `reduction`. */
export type LossReduction = "mean" | "sum" | "none";

/** The reductions a loss accepts. */
export const LOSS_REDUCTIONS: readonly LossReduction[] = ["mean", "sum", "none"];

/** The checked `reduction` option (default "mean"). */
export function _reduction(value: unknown, fn: string): LossReduction {
  return value === undefined ? "mean" : _oneOf(value, LOSS_REDUCTIONS, fn, "reduction");
}

/** The checked options object of a loss. */
export function _lossOptions<T extends object>(value: T | undefined, fn: string): T {
  return _options(value, fn, "options");
}

/** The checked `ignoreIndex` option (default −100, PyTorch's). */
export function _ignoreIndex(value: unknown, fn: string): number {
  if (value === undefined) return -100;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(`${fn}: ignoreIndex must be an integer, got ${_describe(value)}`);
  }
  return value;
}

/**
 * The input `[..., C]` split into N rows of C classes, checked: rank >= 1 and C >= 1.
 */
export function _rows(input: Tensor, fn: string, arg: string): { n: number; c: number } {
  checkTensor(input, fn, arg);
  if (input.rank < 1 || input.shape[input.rank - 1] < 1) {
    throw new RangeError(
      `${fn}: ${arg} must be [..., C] with the classes on the last axis and C >= 1, got ${
        formatShape(input.shape)
      }`,
    );
  }
  const c = input.shape[input.rank - 1];
  return { n: input.size / c, c };
}

/**
 * The targets as an Int32Array of N class indices, each an integer in [0, C) or
 * `ignoreIndex`; a RangeError names the first bad index and its value.
 */
export function _classTargets(
  target: ClassTargets,
  input: Tensor,
  c: number,
  ignoreIndex: number,
  fn: string,
): Int32Array {
  const lead = input.shape.slice(0, -1);
  const n = sizeOf(lead);
  let values: ArrayLike<number>;
  if (target instanceof Tensor) {
    if (!sameShape(target.shape, lead)) {
      throw new RangeError(
        `${fn}: target has shape ${formatShape(target.shape)}, but input ${
          formatShape(input.shape)
        } needs one class index per row, shape ${formatShape(lead)}`,
      );
    }
    values = target.data;
  } else if (Array.isArray(target) || target instanceof Int32Array) {
    if (target.length !== n) {
      throw new RangeError(
        `${fn}: target has ${target.length} class indices, but input ${
          formatShape(input.shape)
        } has ${n} rows (the product of its leading sizes); pass one per row`,
      );
    }
    values = target;
  } else {
    throw new TypeError(
      `${fn}: target must be a number[], an Int32Array or a Tensor of class indices, got ${
        _describe(target)
      }`,
    );
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const ok = typeof v === "number" && Number.isInteger(v) &&
      (v === ignoreIndex || (v >= 0 && v < c));
    if (!ok) {
      throw new RangeError(
        `${fn}: target[${i}] = ${
          _describe(v)
        } is not a class index in [0, ${c}) (C = ${c}) nor ignoreIndex ${ignoreIndex}`,
      );
    }
    out[i] = v;
  }
  return out;
}

/**
 * The loss from per-row values (`perRow[i]` for row i; ignored rows hold 0):
 * `[...lead]` for "none", else a scalar, the sum, divided by the `count` of rows
 * not ignored for "mean" (NaN when every row is ignored, as PyTorch).
 */
export function _reduceRows(
  perRow: Float64Array,
  lead: readonly number[],
  reduction: LossReduction,
  count: number,
): Tensor {
  if (reduction === "none") return new Tensor(Float32Array.from(perRow), lead);
  let total = 0;
  for (let i = 0; i < perRow.length; i++) total += perRow[i];
  return new Tensor(Float32Array.of(reduction === "mean" ? total / count : total), []);
}

/** The upstream gradient that reaches row i: g_i for "none", g / count for "mean", g for "sum". */
export function _rowScale(
  g: Float32Array,
  i: number,
  reduction: LossReduction,
  count: number,
): number {
  return reduction === "none" ? g[i] : reduction === "mean" ? g[0] / count : g[0];
}
