/**
 * The contract every public op follows: (1) validate its arguments (clear
 * RangeError/TypeError before any large allocation), (2) compute through the
 * kernel table (`runKernel` of `lib/kernels/registry.ts`, never a kernel
 * implementation directly), (3) hand its result to {@link recordOp}, the one
 * place where autograd will record the op for the backward pass.
 *
 * @module
 */

import type { Tensor } from "./tensor.ts";

/**
 * Returns `output` of op `name` computed from `inputs`. Today it records
 * nothing; the autograd issue adds the tape here (op name, inputs, output and
 * whatever the backward pass of `name` needs), so no op changes.
 *
 * @example
 * ```ts
 * import { recordOp } from "./op.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2]);
 * const y = tensor([2, 4]);
 * assert.equal(recordOp("double", [x], y), y);
 * ```
 */
export function recordOp<T extends Tensor>(name: string, inputs: readonly Tensor[], output: T): T {
  // autograd (next issue): when an input requires grad, push { name, inputs, output } to the tape
  void name;
  void inputs;
  return output;
}
