/**
 * Numerically stable softmax over the last axis.
 *
 * @module
 */

import { hasNaN, softmaxRows } from "../kernels/softmax.ts";
import { softmaxBackwardRows } from "../kernels/softmax_backward.ts";
import { recordOp } from "./op.ts";
import { formatShape } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";

/**
 * $\mathrm{softmax}(x)_j = e^{x_j - \max x} / \sum_k e^{x_k - \max x}$ over the last axis.
 *
 * Subtracting the row maximum keeps `exp` from overflowing (logits of 1e4 are
 * fine). A row that is entirely `-Infinity` (fully masked) gives zeros, not NaN.
 *
 * Gradient: $dx_j = p_j\,(dp_j - \sum_i p_i\,dp_i)$ from the saved output p, one
 * fused pass per row (`softmax_backward.ts`); a fully masked row gets 0.
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
  const p = new Tensor(out, x.shape);
  // dx_j = p_j (dp_j - Σ_i p_i dp_i)   (p saved: the output itself)
  return recordOp("softmax", [x], p, (g) => [rowBackward(p, g, false)]);
}

/** dL/dx of softmax (`log` false) or logSoftmax from the output `y` and dL/dy `g`. */
function rowBackward(y: Tensor, g: Tensor, log: boolean): Tensor {
  const cols = y.shape[y.rank - 1];
  const dx = new Float32Array(y.size);
  if (cols > 0) {
    softmaxBackwardRows({ y: y.data, dy: g.data, dx, rows: y.size / cols, cols, log });
  }
  return new Tensor(dx, y.shape);
}

/**
 * $\log\mathrm{softmax}(x)_j = x_j - \max x - \log\sum_k e^{x_k - \max x}$ over
 * the last axis, computed without forming the softmax (no log of 0 for very
 * negative logits). A row of all `-Infinity` stays `-Infinity`; a NaN makes
 * its whole row NaN, as in PyTorch.
 *
 * Gradient: $dx = dy - \mathrm{softmax}(x) \sum dy$ per row, with softmax(x) =
 * $e^{y}$ from the saved output y. A fully masked row (all `-Infinity`) gets 0.
 *
 * @example Log-probabilities of two equal logits
 * ```ts
 * import { logSoftmax } from "./softmax.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const lp = logSoftmax(tensor([[0, 0, -1e4]]));
 * assert.equal(lp.get(0, 0), Math.fround(-Math.LN2));
 * assert.ok(Number.isFinite(lp.get(0, 2)));
 * ```
 */
export function logSoftmax(x: Tensor): Tensor {
  checkTensor(x, "logSoftmax", "x");
  if (x.rank < 1) {
    throw new RangeError(`logSoftmax: x needs rank >= 1, got ${formatShape(x.shape)}`);
  }
  const cols = x.shape[x.rank - 1];
  const out = new Float32Array(x.size);
  for (let o = 0; o < x.size; o += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x.data[o + j] > max) max = x.data[o + j];
    if (max === -Infinity) {
      // the maximum skips NaN: a row of NaN (and -Infinity) must not pass for masked
      out.fill(hasNaN(x.data, o, cols) ? NaN : -Infinity, o, o + cols);
      continue;
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x.data[o + j] - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < cols; j++) out[o + j] = x.data[o + j] - lse;
  }
  const y = new Tensor(out, x.shape);
  // dx = dy - e^y · Σ dy   (per row; e^y = softmax(x), y saved: the output itself)
  return recordOp("logSoftmax", [x], y, (g) => [rowBackward(y, g, true)]);
}
