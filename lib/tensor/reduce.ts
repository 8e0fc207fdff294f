/**
 * Reductions over an axis or axes: {@link sum}, {@link mean} and {@link max},
 * with PyTorch's semantics (`torch.sum`, `torch.mean`, `torch.amax`).
 *
 * @module
 */

import { runKernel } from "../kernels/registry.ts";
import "../kernels/kernel_table.ts";
import { recordOp } from "./op.ts";
import { broadcastIndex, formatShape, sizeOf } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";
import { describeValue } from "./describe.ts";

/** Options of {@link sum}, {@link mean} and {@link max}. */
export interface ReduceOptions {
  /** Keep each reduced axis as size 1 (PyTorch's `keepdim`; default false). */
  keepDims?: boolean;
}

/** The axes a reduction takes: one, several, or (omitted) all of them. */
export type Axis = number | readonly number[];

type ReduceKernel = "sum" | "mean" | "max";

/**
 * Validates `axis` for `x` and returns the sorted, distinct, non-negative axes
 * (all of them when omitted or `[]`, as PyTorch does).
 */
function resolveAxes(fn: string, x: Tensor, axis: Axis | undefined): number[] {
  const rank = x.rank;
  if (axis === undefined) return [...x.shape.keys()];
  const list = typeof axis === "number" ? [axis] : axis;
  if (!Array.isArray(list)) {
    throw new TypeError(
      `${fn}: axis must be an integer or an array of integers, got ${describeValue(axis)}`,
    );
  }
  if (list.length === 0) return [...x.shape.keys()];
  // a 0-d tensor takes axis 0 or -1, as in PyTorch
  const span = Math.max(rank, 1);
  const seen = new Set<number>();
  for (const a of list) {
    if (typeof a !== "number" || !Number.isInteger(a)) {
      throw new TypeError(`${fn}: axis must hold integers, got ${describeValue(a)} in [${list}]`);
    }
    if (a < -span || a >= span) {
      throw new RangeError(
        `${fn}: axis ${a} is out of range for x=${formatShape(x.shape)}: it must be in [${-span}, ${
          span - 1
        }]`,
      );
    }
    const d = a < 0 ? a + span : a;
    if (seen.has(d)) {
      throw new RangeError(
        `${fn}: axis [${list}] names axis ${d} twice for x=${
          formatShape(x.shape)
        }: each axis may be reduced once`,
      );
    }
    seen.add(d);
  }
  return rank === 0 ? [] : [...seen].sort((p, q) => p - q);
}

/**
 * `t` (with size-1 axes, of the rank of `shape`) broadcast to `shape`, times `factor`.
 * The shapes a backward meets most (a full reduction, rows or columns reduced) are
 * written as fills and row copies: a broadcast index table per call costs more than
 * the arithmetic (5-9 ms for the mean of [8, 64, 512] against ~0.3 ms filled).
 */
function expand(t: Tensor, shape: readonly number[], factor: number): Tensor {
  const n = sizeOf(shape);
  const out = new Float32Array(n);
  const src = t.data, m = src.length;
  if (m === 1) {
    out.fill(src[0] * factor);
    return new Tensor(out, shape);
  }
  if (m === n) {
    for (let i = 0; i < n; i++) out[i] = src[i] * factor;
    return new Tensor(out, shape);
  }
  // [1, ..., 1, kept...]: whole trailing rows repeated; [kept..., 1, ..., 1]: each value
  // fills a block. Otherwise a broadcast index table.
  let lead = 0, trail = 0;
  while (lead < shape.length && t.shape[lead] === 1) lead++;
  while (trail < shape.length && t.shape[shape.length - 1 - trail] === 1) trail++;
  const rowsEqual = t.shape.every((d, i) => i < lead || d === shape[i]);
  const blocksEqual = t.shape.every((d, i) => i >= shape.length - trail || d === shape[i]);
  if (rowsEqual) {
    for (let r = 0; r < n; r += m) for (let j = 0; j < m; j++) out[r + j] = src[j] * factor;
  } else if (blocksEqual) {
    const w = n / m;
    for (let i = 0; i < m; i++) out.fill(src[i] * factor, i * w, i * w + w);
  } else {
    const idx = broadcastIndex(t.shape, shape);
    for (let i = 0; i < n; i++) out[i] = src[idx[i]] * factor;
  }
  return new Tensor(out, shape);
}

/** The gradient of max: dy shared evenly by the elements of each group equal to its maximum. */
function maxGradient(x: Tensor, yKept: Tensor, gKept: Tensor): Tensor {
  const idx = broadcastIndex(yKept.shape, x.shape);
  const ties = new Float64Array(yKept.size);
  const xd = x.data, yd = yKept.data, gd = gKept.data;
  for (let i = 0; i < xd.length; i++) if (xd[i] === yd[idx[i]]) ties[idx[i]]++;
  const out = new Float32Array(x.size);
  for (let i = 0; i < xd.length; i++) {
    const j = idx[i];
    if (xd[i] === yd[j]) out[i] = gd[j] / ties[j];
  }
  return new Tensor(out, x.shape);
}

/** Validate, run kernel `name` through the kernel table, record: the shared body of the three ops. */
function reduce(
  name: ReduceKernel,
  x: Tensor,
  axis: Axis | undefined,
  options: ReduceOptions,
): Tensor {
  checkTensor(x, name, "x");
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${name}: options must be an object, got ${describeValue(options)}`);
  }
  const keepDims = options.keepDims ?? false;
  if (typeof keepDims !== "boolean") {
    throw new TypeError(
      `${name}: options.keepDims must be a boolean, got ${describeValue(keepDims)}`,
    );
  }
  const axes = resolveAxes(name, x, axis);
  if (name === "max") {
    const empty = axes.find((d) => x.shape[d] === 0);
    if (empty !== undefined) {
      throw new RangeError(
        `max: axis ${empty} of x=${
          formatShape(x.shape)
        } has size 0: the maximum of an empty set is undefined`,
      );
    }
  }
  const shape = keepDims
    ? x.shape.map((s, d) => (axes.includes(d) ? 1 : s))
    : x.shape.filter((_, d) => !axes.includes(d));
  const out = new Float32Array(sizeOf(shape));
  runKernel(name, { x: x.data, shape: x.shape, axes, out });
  const y = new Tensor(out, shape);
  // the output with the reduced axes kept as size 1, to broadcast back against x
  const kept = x.shape.map((s, d) => (axes.includes(d) ? 1 : s));
  const count = axes.reduce((n, d) => n * x.shape[d], 1);
  return recordOp(name, [x], y, (g) => {
    const gk = g.reshape(kept);
    // sum:  dx_i = dy                       (every element of a group counts once)
    if (name === "sum") return [expand(gk, x.shape, 1)];
    // mean: dx_i = dy / n                   (n = elements per group)
    if (name === "mean") return [expand(gk, x.shape, 1 / count)];
    // max:  dx_i = dy / m where x_i = max, else 0   (m = how many tie, as torch.amax)
    return [maxGradient(x, y.reshape(kept), gk)];
  });
}

/**
 * $\sum$ of `x` over `axis` (a number, an array of numbers, negative from the
 * end; omitted: every axis, giving a scalar of shape `[]`), as `torch.sum`.
 * Accumulates in float64 and rounds once; the sum over an empty axis is 0.
 *
 * @throws {RangeError} When an axis is out of range or named twice.
 * @throws {TypeError} When `axis` or `keepDims` has the wrong type.
 *
 * @example Rows, columns, everything
 * ```ts
 * import { sum } from "./reduce.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * assert.deepEqual(sum(x, -1).toArray(), [6, 15]);
 * assert.deepEqual(sum(x, 0, { keepDims: true }).toArray(), [[5, 7, 9]]);
 * assert.equal(sum(x).toArray(), 21);
 * assert.deepEqual(sum(x).shape, []);
 * ```
 */
export function sum(x: Tensor, axis?: Axis, options: ReduceOptions = {}): Tensor {
  return reduce("sum", x, axis, options);
}

/**
 * The mean of `x` over `axis` (as in {@link sum}), as `torch.mean`: the
 * float64 sum divided by the count; the mean over an empty axis is NaN.
 *
 * @throws {RangeError} When an axis is out of range or named twice.
 * @throws {TypeError} When `axis` or `keepDims` has the wrong type.
 *
 * @example Per feature over a batch and time
 * ```ts
 * import { mean } from "./reduce.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[[1, 10], [3, 30]]]); // [1, 2, 2]
 * assert.deepEqual(mean(x, [0, 1]).toArray(), [2, 20]);
 * assert.ok(Number.isNaN(mean(tensor([[]]), 1).get(0)));
 * ```
 */
export function mean(x: Tensor, axis?: Axis, options: ReduceOptions = {}): Tensor {
  return reduce("mean", x, axis, options);
}

/**
 * The maximum of `x` over `axis` (as in {@link sum}), as `torch.amax`
 * (values only): any NaN in the reduced set gives NaN.
 *
 * @throws {RangeError} When an axis is out of range, named twice, or has size 0.
 * @throws {TypeError} When `axis` or `keepDims` has the wrong type.
 *
 * @example NaN propagates
 * ```ts
 * import { max } from "./reduce.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const y = max(tensor([[1, 5], [NaN, 2]]), 1);
 * assert.equal(y.get(0), 5);
 * assert.ok(Number.isNaN(y.get(1)));
 * assert.throws(() => max(tensor([[]]), 1), /max: axis 1 .* has size 0/);
 * ```
 */
export function max(x: Tensor, axis?: Axis, options: ReduceOptions = {}): Tensor {
  return reduce("max", x, axis, options);
}
