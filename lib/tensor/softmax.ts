/**
 * Numerically stable softmax over the last axis.
 *
 * @module
 */

import { softmaxRows } from "../kernels/softmax.ts";
import { formatShape } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";

/**
 * $\mathrm{softmax}(x)_j = e^{x_j - \max x} / \sum_k e^{x_k - \max x}$ over the last axis.
 *
 * Subtracting the row maximum keeps `exp` from overflowing (logits of 1e4 are
 * fine). A row that is entirely `-Infinity` (fully masked) gives zeros, not NaN.
 *
 * @example Rows sum to one
 * ```ts
 * import { softmax } from "./softmax.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const p = softmax(tensor([[1e4, 0], [0, 0]]));
 * assert.deepEqual(p.toArray(), [[1, 0], [0.5, 0.5]]);
 * ```
 */
export function softmax(x: Tensor): Tensor {
  checkTensor(x, "softmax", "x");
  if (x.rank < 1) throw new RangeError(`softmax: x needs rank >= 1, got ${formatShape(x.shape)}`);
  const cols = x.shape[x.rank - 1];
  const out = x.data.slice();
  if (cols > 0) softmaxRows(out, 0, out.length / cols, cols);
  return new Tensor(out, x.shape);
}
