/**
 * The contract every public op follows: (1) validate its arguments (clear
 * RangeError/TypeError before any large allocation), (2) compute through the
 * kernel table (`runKernel` of `lib/kernels/registry.ts`, never a kernel
 * implementation directly), (3) hand its result and its backward formula to
 * {@link recordOp}, which records the op for autograd when an input requires
 * grad (see `autograd.ts`).
 *
 * @module
 */

import { record } from "./autograd.ts";
import type { Tensor } from "./tensor.ts";

/**
 * Returns `output` of op `name` computed from `inputs`, recorded for backward
 * when grad mode is on and an input requires grad. `backward(gradOutput)`
 * returns dL/d(input) for each input, in order (each of its input's shape, or
 * null); an op without one passes nothing, and then calling it on tensors that
 * require grad is a TypeError.
 *
 * @example A recorded op and its gradient
 * ```ts
 * import { recordOp } from "./op.ts";
 * import { Tensor, tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2]);
 * x.requiresGrad = true;
 * // y = 2x, so dL/dx = 2·dL/dy
 * const y = recordOp("double", [x], new Tensor(x.data.map((v) => 2 * v), x.shape), (g) => [
 *   new Tensor(g.data.map((v) => 2 * v), g.shape),
 * ]);
 * y.backward(tensor([1, 10]));
 * assert.deepEqual([...x.grad!.data], [2, 20]);
 * ```
 */
export function recordOp<T extends Tensor>(
  name: string,
  inputs: readonly Tensor[],
  output: T,
  backward?: (gradOutput: Tensor) => readonly (Tensor | null)[],
): T {
  return record(name, inputs, output, backward);
}
