/**
 * Gradient clipping by the global norm, PyTorch's `nn.utils.clip_grad_norm_`.
 *
 * @module
 */

import { describeValue } from "../tensor/describe.ts";
import { _params, type OptimizerParams } from "./_params.ts";

/** Options for {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** The p of the norm, a number > 0 or `Infinity` (the largest magnitude); default 2. */
  normType?: number;
}

/**
 * Scales the gradients of `parameters` in place so that their total norm (the norm
 * of all gradients concatenated) is at most `maxNorm`, and returns that total norm,
 * measured before clipping. As PyTorch's `clip_grad_norm_`: every gradient is
 * multiplied by min(1, maxNorm / (total + 1e-6)); parameters without a gradient are
 * skipped; no gradient at all gives 0. A NaN or infinite gradient makes the total NaN
 * or infinite and reaches every gradient (PyTorch's `error_if_nonfinite=False`);
 * check the returned norm to skip such a step.
 *
 * Writing into `.grad` is the autograd engine's own accumulation buffer, never a
 * tensor an op returned to the user.
 *
 * @param parameters `model.parameters()` or an array of tensors.
 * @param maxNorm The largest total norm allowed, a finite number >= 0.
 * @returns The total norm before clipping (accumulated in float64).
 * @throws {RangeError} maxNorm not finite and >= 0, normType not > 0.
 * @throws {TypeError} A parameter that is not a Tensor.
 *
 * @example A gradient of norm 5 clipped to norm 1
 * ```ts
 * import { clipGradNorm } from "./clip_grad_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([0, 0]);
 * w.grad = tensor([3, 4]);
 * assert.equal(clipGradNorm([w], 1), 5);
 * assert.ok(Math.abs(w.grad.data[0] - 0.6) < 1e-6 && Math.abs(w.grad.data[1] - 0.8) < 1e-6);
 * ```
 */
export function clipGradNorm(
  parameters: OptimizerParams,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): number {
  const fn = "clipGradNorm";
  if (typeof maxNorm !== "number" || !Number.isFinite(maxNorm) || maxNorm < 0) {
    throw new RangeError(
      `${fn}: maxNorm must be a finite number >= 0, got ${describeValue(maxNorm)}`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object, got ${describeValue(options)}`);
  }
  const p = options.normType ?? 2;
  if (typeof p !== "number" || !(p > 0)) {
    throw new RangeError(
      `${fn}: normType must be a number > 0 or Infinity, got ${describeValue(p)}`,
    );
  }
  const grads = _params(parameters, fn).tensors.map((t) => t.grad).filter((g) => g !== null);
  if (grads.length === 0) return 0;
  let total = 0;
  for (const g of grads) {
    const d = g.data;
    if (p === Infinity) {
      for (let i = 0; i < d.length; i++) {
        const a = Math.abs(d[i]);
        // a NaN must win the maximum, as torch.max propagates it
        if (a > total || Number.isNaN(a)) total = a;
      }
    } else if (p === 2) {
      for (let i = 0; i < d.length; i++) total += d[i] * d[i];
    } else {
      for (let i = 0; i < d.length; i++) total += Math.abs(d[i]) ** p;
    }
  }
  if (p === 2) total = Math.sqrt(total);
  else if (p !== Infinity) total = total ** (1 / p);
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef !== 1) {
    for (const g of grads) {
      const d = g.data;
      for (let i = 0; i < d.length; i++) d[i] *= coef;
    }
  }
  return total;
}
