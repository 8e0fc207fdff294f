/**
 * Cross-entropy of logits against class indices, PyTorch's `F.cross_entropy`,
 * fused: one pass computes each row's log-sum-exp and the loss, and backward
 * forms softmax − target directly (no log-softmax tensor, no one-hot matrix).
 *
 * @module
 */

import { needsGrad } from "../tensor/autograd.ts";
import { recordOp } from "../tensor/op.ts";
import { Tensor } from "../tensor/tensor.ts";
import {
  _classTargets,
  _ignoreIndex,
  _lossOptions,
  _reduceRows,
  _reduction,
  _rows,
  _rowScale,
  type ClassTargets,
  type LossReduction,
} from "./_class_targets.ts";
import { _describe } from "./_validate.ts";

/** Options for {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Rows whose target equals this contribute nothing (loss 0, gradient 0); default −100. */
  ignoreIndex?: number;
  /**
   * ε in [0, 1]: the target distribution is (1 − ε)·onehot + ε/C over all C classes
   * (the target class included, as PyTorch does); default 0.
   */
  labelSmoothing?: number;
  /**
   * "mean" (default) divides the sum by the number of rows not ignored (NaN when
   * every row is ignored, as PyTorch); "sum"; "none" keeps one loss per row (0 for
   * ignored rows).
   */
  reduction?: LossReduction;
}

/**
 * The cross-entropy of `logits` `[..., C]` (classes on the **last** axis) against
 * class indices `target` (one per row: shape `[...]`), with PyTorch's semantics:
 * $$\ell_i = -(1-\varepsilon)\,\log p_{i,y_i} - \frac{\varepsilon}{C}\sum_c \log p_{i,c},
 * \qquad \log p_{i,c} = z_{i,c} - \log\sum_k e^{z_{i,k}}.$$
 *
 * PyTorch puts C on axis 1 for `[N, C, d1, ...]` inputs; here it is always last, so
 * a `[B, T, V]` language-model output is passed as it is (move PyTorch's axis 1 to
 * the end to compare). Each row's log-sum-exp subtracts its maximum first, so logits
 * of ±1e30 give finite losses; a NaN logit makes its row's loss NaN, unless the row is
 * ignored. Class probabilities as targets (PyTorch's float target) and class weights
 * are not supported.
 *
 * Backward is fused: dℓ_i/dz_{i,c} = p_{i,c} − (1 − ε)·[c = y_i] − ε/C, times the
 * upstream gradient (÷ the count of rows not ignored for "mean"); ignored rows get 0.
 * Only the rows' log-sum-exp is saved for it.
 *
 * @param logits Unnormalised scores `[..., C]`, C >= 1.
 * @param target One class index per row: `number[]` / `Int32Array` of length N (the
 *   product of the leading sizes), or a Tensor of shape `[...]`.
 * @param options `ignoreIndex` (−100), `labelSmoothing` (0), `reduction` ("mean").
 * @returns A scalar `[]` ("mean", "sum") or the per-row losses `[...]` ("none").
 * @throws {RangeError} A target that is not an integer in [0, C) nor `ignoreIndex`
 *   (the message names its index and value), a target of the wrong length or shape,
 *   `labelSmoothing` outside [0, 1], or an unknown reduction.
 * @throws {TypeError} A non-tensor `logits`, targets of another type, or options that are not an object.
 *
 * @example Two rows, the second ignored; gradient is softmax − onehot
 * ```ts
 * import { crossEntropy } from "./cross_entropy.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const logits = tensor([[0, 0], [5, -5]]);
 * logits.requiresGrad = true;
 * const loss = crossEntropy(logits, [1, -100]);
 * assert.ok(Math.abs(loss.data[0] - Math.LN2) < 1e-6); // -log(1/2), the only row counted
 * loss.backward();
 * assert.deepEqual(logits.grad!.toArray(), [[0.5, -0.5], [0, 0]]);
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  target: ClassTargets,
  options?: CrossEntropyOptions,
): Tensor {
  const fn = "crossEntropy";
  const { n, c } = _rows(logits, fn, "logits");
  const opts = _lossOptions(options, fn);
  const ignoreIndex = _ignoreIndex(opts.ignoreIndex, fn);
  const reduction = _reduction(opts.reduction, fn);
  const eps = opts.labelSmoothing ?? 0;
  if (typeof eps !== "number" || !(eps >= 0 && eps <= 1)) {
    throw new RangeError(`${fn}: labelSmoothing must be a number in [0, 1], got ${_describe(eps)}`);
  }
  const y = _classTargets(target, logits, c, ignoreIndex, fn);
  const z = logits.data;
  const saveLse = needsGrad([logits]);
  const lse = saveLse ? new Float64Array(n) : null;
  const perRow = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === ignoreIndex) continue; // skipped entirely: a hidden row's NaN never shows
    count++;
    const o = i * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) if (z[o + j] > max) max = z[o + j];
    let sumExp = 0, sumZ = 0;
    for (let j = 0; j < c; j++) {
      sumExp += Math.exp(z[o + j] - max);
      sumZ += z[o + j];
    }
    // log Σ e^z = max + log Σ e^(z − max); a NaN anywhere in the row reaches sumExp
    const l = max + Math.log(sumExp);
    if (lse) lse[i] = l;
    // −(1−ε)·(z_y − lse) − (ε/C)·Σ_c (z_c − lse)
    perRow[i] = eps === 0 ? l - z[o + y[i]] : (1 - eps) * (l - z[o + y[i]]) + eps * (l - sumZ / c);
  }
  const lead = logits.shape.slice(0, -1);
  const out = _reduceRows(perRow, lead, reduction, count);
  return recordOp("crossEntropy", [logits], out, (g) => {
    // dℓ_i/dz_ic = e^(z_ic − lse_i) − (1−ε)·[c = y_i] − ε/C, scaled by the upstream gradient
    const dz = new Float32Array(n * c);
    const gd = g.data;
    for (let i = 0; i < n; i++) {
      if (y[i] === ignoreIndex) continue;
      const scale = _rowScale(gd, i, reduction, count);
      const o = i * c, l = lse![i], yi = y[i];
      for (let j = 0; j < c; j++) {
        dz[o + j] = scale * (Math.exp(z[o + j] - l) - eps / c - (j === yi ? 1 - eps : 0));
      }
    }
    return [new Tensor(dz, logits.shape)];
  });
}
