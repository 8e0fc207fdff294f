/**
 * The negative log-likelihood loss of log-probabilities against class indices,
 * PyTorch's `F.nll_loss`.
 *
 * @module
 */

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

/** Options for {@link nllLoss}. */
export interface NllLossOptions {
  /** Rows whose target equals this contribute nothing (loss 0, gradient 0); default −100. */
  ignoreIndex?: number;
  /**
   * "mean" (default) divides by the number of rows not ignored (NaN when all are),
   * "sum", or "none" (one loss per row, 0 for ignored rows).
   */
  reduction?: LossReduction;
}

/**
 * $\ell_i = -x_{i, y_i}$ for log-probabilities `input` `[..., C]` (classes on the last
 * axis, e.g. from `logSoftmax`) and one class index per row; reduced as PyTorch's
 * `F.nll_loss`. `crossEntropy(z, y)` equals `nllLoss(logSoftmax(z), y)`, fused.
 *
 * Gradient: dℓ_i/dx_{i,c} = −[c = y_i] times the upstream gradient (÷ the count of rows
 * not ignored for "mean"); every other entry, and every ignored row, gets 0.
 *
 * @param input Log-probabilities `[..., C]`, C >= 1.
 * @param target One class index per row (see {@link ClassTargets}).
 * @param options `ignoreIndex` (−100), `reduction` ("mean").
 * @returns A scalar `[]` ("mean", "sum") or the per-row losses `[...]` ("none").
 * @throws {RangeError} A target that is not an integer in [0, C) nor `ignoreIndex`
 *   (naming its index and value), targets of the wrong length or shape, an unknown reduction.
 * @throws {TypeError} A non-tensor input, targets of another type, options not an object.
 *
 * @example Picks −log p of each row's class
 * ```ts
 * import { nllLoss } from "./nll_loss.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const logp = tensor([[-0.5, -1], [-2, -0.25]]);
 * assert.deepEqual(nllLoss(logp, [0, 1], { reduction: "none" }).toArray(), [0.5, 0.25]);
 * assert.equal(nllLoss(logp, [0, 1]).data[0], 0.375);
 * ```
 */
export function nllLoss(input: Tensor, target: ClassTargets, options?: NllLossOptions): Tensor {
  const fn = "nllLoss";
  const { n, c } = _rows(input, fn, "input");
  const opts = _lossOptions(options, fn);
  const ignoreIndex = _ignoreIndex(opts.ignoreIndex, fn);
  const reduction = _reduction(opts.reduction, fn);
  const y = _classTargets(target, input, c, ignoreIndex, fn);
  const x = input.data;
  const perRow = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === ignoreIndex) continue;
    count++;
    perRow[i] = -x[i * c + y[i]];
  }
  const lead = input.shape.slice(0, -1);
  const out = _reduceRows(perRow, lead, reduction, count);
  return recordOp("nllLoss", [input], out, (g) => {
    // dℓ_i/dx_ic = −[c = y_i] · upstream
    const dx = new Float32Array(n * c);
    const gd = g.data;
    for (let i = 0; i < n; i++) {
      if (y[i] === ignoreIndex) continue;
      const scale = _rowScale(gd, i, reduction, count);
      dx[i * c + y[i]] = -scale;
    }
    return [new Tensor(dx, input.shape)];
  });
}
