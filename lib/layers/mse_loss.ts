/**
 * The mean squared error between two tensors of one shape, PyTorch's `F.mse_loss`.
 *
 * @module
 */

import { recordOp } from "../tensor/op.ts";
import { formatShape, sameShape } from "../tensor/shape.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _lossOptions, _reduction, type LossReduction } from "./_class_targets.ts";

/** Options for {@link mseLoss}. */
export interface MseLossOptions {
  /** "mean" (default, over all elements), "sum", or "none" (elementwise, input's shape). */
  reduction?: LossReduction;
}

/**
 * $\ell = (x - y)^2$ elementwise, reduced by `reduction` (mean over every element by
 * default), as PyTorch's `F.mse_loss`. Both tensors get gradients when they require
 * them: dℓ/dx = 2(x − y)·upstream (÷ the element count for "mean"), dℓ/dy = −dℓ/dx.
 * The shapes must match exactly (PyTorch broadcasts with a warning; here it is an error).
 *
 * @throws {RangeError} Shapes that differ, or an unknown reduction.
 * @throws {TypeError} A non-tensor argument, or options that are not an object.
 *
 * @example Mean of squared differences, and its gradient
 * ```ts
 * import { mseLoss } from "./mse_loss.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2, 3, 4]);
 * x.requiresGrad = true;
 * const loss = mseLoss(x, tensor([1, 1, 1, 1]));
 * assert.equal(loss.data[0], 3.5); // (0 + 1 + 4 + 9) / 4
 * loss.backward();
 * assert.deepEqual(x.grad!.toArray(), [0, 0.5, 1, 1.5]);
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options?: MseLossOptions): Tensor {
  const fn = "mseLoss";
  checkTensor(input, fn, "input");
  checkTensor(target, fn, "target");
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(
      `${fn}: input ${formatShape(input.shape)} and target ${
        formatShape(target.shape)
      } must have the same shape`,
    );
  }
  const reduction = _reduction(_lossOptions(options, fn).reduction, fn);
  const x = input.data, y = target.data, n = input.size;
  let out: Tensor;
  if (reduction === "none") {
    const sq = new Float32Array(n);
    for (let i = 0; i < n; i++) sq[i] = (x[i] - y[i]) ** 2;
    out = new Tensor(sq, input.shape);
  } else {
    let total = 0;
    for (let i = 0; i < n; i++) total += (x[i] - y[i]) ** 2;
    out = new Tensor(Float32Array.of(reduction === "mean" ? total / n : total), []);
  }
  return recordOp("mseLoss", [input, target], out, (g) => {
    // dℓ/dx = 2(x − y)·upstream (÷ n for "mean"), dℓ/dy = −dℓ/dx
    const dx = new Float32Array(n), dy = new Float32Array(n);
    const gd = g.data;
    const k = reduction === "mean" ? 2 / n : 2;
    for (let i = 0; i < n; i++) {
      const d = k * (x[i] - y[i]) * (reduction === "none" ? gd[i] : gd[0]);
      dx[i] = d;
      dy[i] = -d;
    }
    return [new Tensor(dx, input.shape), new Tensor(dy, target.shape)];
  });
}
