/**
 * The backward of broadcasting: a gradient of the broadcast shape summed back
 * to the shape of the operand that was broadcast.
 *
 * @module
 */

import { sum } from "./reduce.ts";
import type { Tensor } from "./tensor.ts";

/**
 * Sums `grad` over the axes that broadcasting added or stretched, so that it
 * takes `shape` again: leading axes that `shape` lacks, and axes where `shape`
 * has size 1. If y = broadcast(x), then dL/dx = sumToShape(dL/dy, x.shape).
 *
 * @example A bias [3] broadcast over 2 rows gets the column sums
 * ```ts
 * import { sumToShape } from "./sum_to_shape.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const g = tensor([[1, 2, 3], [10, 20, 30]]);
 * assert.deepEqual(sumToShape(g, [3]).toArray(), [11, 22, 33]);
 * assert.deepEqual(sumToShape(g, [2, 1]).toArray(), [[6], [60]]);
 * ```
 */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < grad.rank; d++) {
    if (d < lead || (shape[d - lead] === 1 && grad.shape[d] !== 1)) axes.push(d);
  }
  // an empty axis list would mean "every axis" to sum(): nothing to reduce here
  if (axes.length === 0) return grad.rank === shape.length ? grad : grad.reshape(shape);
  return sum(grad, axes, { keepDims: true }).reshape(shape);
}
