/**
 * Reduction kernels (sum, mean, max over a set of axes) on raw Float32Arrays.
 * Not exported from the package: `lib/tensor/reduce.ts` validates the axes and
 * runs them through the kernel table (`kernel_table.ts`).
 *
 * One pass over the input in memory order: every element is added to (or
 * compared with) its output, whose index drops the reduced axes. Sums
 * accumulate in float64 and round to float32 once; the maximum propagates NaN.
 *
 * @module
 */

/** Operands of one reduction. */
export interface ReduceArgs {
  /** Input, row-major, of shape `shape`. */
  x: Float32Array;
  shape: readonly number[];
  /** Axes to reduce: sorted, distinct, each in `[0, shape.length)`. */
  axes: readonly number[];
  /** Output, the kept axes in order (product of their sizes); overwritten. */
  out: Float32Array;
}

/**
 * Adds (`max` false) or takes the NaN-propagating maximum of (`max` true)
 * every element of `x` into its output slot of `acc` (prefilled by the caller).
 */
function walk(args: ReduceArgs, acc: Float64Array, max: boolean): void {
  const { x, shape, axes } = args;
  if (x.length === 0) return;
  const rank = shape.length;
  // output strides per input axis: 0 along reduced axes
  const outStride = new Array<number>(rank).fill(0);
  for (let d = rank - 1, s = 1; d >= 0; d--) {
    if (!axes.includes(d)) {
      outStride[d] = s;
      s *= shape[d];
    }
  }
  const inner = rank === 0 ? 1 : shape[rank - 1], step = rank === 0 ? 0 : outStride[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let base = 0; base < x.length; base += inner) {
    if (step === 0) {
      // the last axis is reduced: the same steps in the same order, in a local (acc[o]
      // updated per element waits on a store and a reload each time: 3.1 -> 0.6 ms on 1M)
      let s = acc[o];
      if (max) {
        for (let t = 0; t < inner; t++) {
          const v = x[base + t];
          if (v > s || v !== v) s = v;
        }
      } else {
        for (let t = 0; t < inner; t++) s += x[base + t];
      }
      acc[o] = s;
    } else if (max) {
      for (let t = 0, q = o; t < inner; t++, q += step) {
        const v = x[base + t];
        // v !== v: a NaN wins and stays (NaN > v and v > NaN are both false)
        if (v > acc[q] || v !== v) acc[q] = v;
      }
    } else {
      for (let t = 0, q = o; t < inner; t++, q += step) acc[q] += x[base + t];
    }
    // the next row of the last axis: odometer over the other axes
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      o += outStride[d];
      if (idx[d] < shape[d]) break;
      o -= outStride[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Elements reduced into each output (1 when no axis is reduced). */
function reducedCount(args: ReduceArgs): number {
  return args.axes.reduce((n, d) => n * args.shape[d], 1);
}

/**
 * Σ over `axes` into `out`, accumulated in float64 (0 over an empty set).
 *
 * @example Rows of a `[2, 3]` matrix
 * ```ts
 * import { sumReference } from "./reduce.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(2);
 * sumReference({ x: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3], axes: [1], out });
 * assert.deepEqual([...out], [6, 15]);
 * ```
 */
export function sumReference(args: ReduceArgs): void {
  const acc = new Float64Array(args.out.length);
  walk(args, acc, false);
  args.out.set(acc);
}

/**
 * The mean over `axes` into `out`: the float64 sum divided by the count
 * (NaN over an empty set, 0/0).
 *
 * @example Columns of a `[2, 3]` matrix
 * ```ts
 * import { meanReference } from "./reduce.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(3);
 * meanReference({ x: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3], axes: [0], out });
 * assert.deepEqual([...out], [2.5, 3.5, 4.5]);
 * ```
 */
export function meanReference(args: ReduceArgs): void {
  const acc = new Float64Array(args.out.length);
  walk(args, acc, false);
  const count = reducedCount(args);
  for (let i = 0; i < acc.length; i++) args.out[i] = acc[i] / count;
}

/**
 * The maximum over `axes` into `out`; NaN when any reduced value is NaN
 * (as `torch.amax`). The reduced set must not be empty (callers check).
 *
 * @example A NaN wins
 * ```ts
 * import { maxReference } from "./reduce.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(2);
 * maxReference({ x: Float32Array.of(1, NaN, 3, 4), shape: [2, 2], axes: [1], out });
 * assert.ok(Number.isNaN(out[0]));
 * assert.equal(out[1], 4);
 * ```
 */
export function maxReference(args: ReduceArgs): void {
  const acc = new Float64Array(args.out.length).fill(-Infinity);
  walk(args, acc, true);
  args.out.set(acc);
}
