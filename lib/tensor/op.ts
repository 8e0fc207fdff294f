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

/**
 * Records `output` as a value for inspection only (attention weights and raw
 * scores next to an attention's output): no gradient is defined through it, and
 * a loss that depends on it makes `backward()` throw an Error naming `name` and
 * `hint`, instead of silently dropping that part of the gradient. Recorded only
 * when an input requires grad, like {@link recordOp}.
 *
 * @example A loss on the inspected value throws in backward
 * ```ts
 * import { recordInspection } from "./op.ts";
 * import { tensor } from "./tensor.ts";
 * import { sum } from "./reduce.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2]);
 * x.requiresGrad = true;
 * const seen = recordInspection("probe", [x], tensor([3, 4]), "use the output instead");
 * assert.throws(() => sum(seen).backward(), /probe: .*use the output instead/);
 * ```
 */
export function recordInspection<T extends Tensor>(
  name: string,
  inputs: readonly Tensor[],
  output: T,
  hint: string,
): T {
  return record(name, inputs, output, () => {
    throw new Error(`${name}: no gradient flows back through this value; ${hint}`);
  });
}
