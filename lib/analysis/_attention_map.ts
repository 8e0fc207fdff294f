/**
 * Private checks shared by the head scores: an attention map `[H, T, S]` or
 * `[B, H, T, S]` whose weights lie in [0, 1] (NaN passes, so that it reaches the score).
 *
 * @module
 */

import { _describe } from "../layers/_validate.ts";
import { formatShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/** An attention map viewed as `[B, H, T, S]`. */
export interface AttentionMapView {
  data: Float32Array;
  b: number;
  h: number;
  t: number;
  s: number;
}

/** Checks `weights` (`[H, T, S]` or `[B, H, T, S]`, entries in [0, 1]) and views it as 4-D. */
export function attentionMap(
  weights: unknown,
  fn: string,
  arg: string,
  layout: string,
): AttentionMapView {
  if (!(weights instanceof Tensor)) {
    throw new TypeError(`${fn}: ${arg} must be a Tensor ${layout}, got ${_describe(weights)}`);
  }
  const shape = weights.shape;
  if (shape.length !== 3 && shape.length !== 4) {
    throw new RangeError(
      `${fn}: ${arg} must be ${layout} (rank 3 or 4), got shape ${formatShape(shape)}`,
    );
  }
  const [b, h, t, s] = shape.length === 4 ? shape : [1, ...shape];
  if (h === 0 || t === 0 || s === 0) {
    throw new RangeError(
      `${fn}: ${arg} needs at least one head, query and key, got shape ${formatShape(shape)}`,
    );
  }
  const data = weights.data;
  for (let i = 0; i < data.length; i++) {
    // attention weights are probabilities (a fully masked row is all 0); NaN is let through
    if (data[i] < 0 || data[i] > 1 + 1e-6) {
      throw new RangeError(
        `${fn}: ${arg} must hold attention weights in [0, 1], got ${data[i]} at flat index ${i} ` +
          `of shape ${formatShape(shape)}`,
      );
    }
  }
  return { data, b, h, t, s };
}

/** Per-head means `[H]` of `sums[h] / counts[h]`, in float64 then stored as a Tensor. */
export function perHead(sums: Float64Array, count: number): Tensor {
  return new Tensor(Float32Array.from(sums, (v) => v / count), [sums.length]);
}
