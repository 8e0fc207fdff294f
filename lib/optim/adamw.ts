/**
 * AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as
 * `torch.optim.AdamW`.
 *
 * @module
 */

import { Adam, type AdamOptions } from "./adam.ts";
import type { OptimizerParams } from "./_params.ts";

/**
 * `torch.optim.AdamW`: each step first decays the parameter, θ ← θ(1 − ηλ), then
 * takes {@link Adam}'s step on the raw gradient (no λθ added to it). Defaults as
 * PyTorch: lr 1e-3, betas [0.9, 0.999], eps 1e-8, **weightDecay 0.01**, amsgrad false.
 *
 * @throws {RangeError} lr, eps or weightDecay not finite and >= 0; a beta outside [0, 1).
 * @throws {TypeError} Params that are not tensors, options not an object.
 *
 * @example With a zero gradient only the decay acts
 * ```ts
 * import { AdamW } from "./adamw.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([2]);
 * const opt = new AdamW([w], { lr: 0.1, weightDecay: 0.5 });
 * w.grad = tensor([0]);
 * opt.step();
 * assert.ok(Math.abs(w.data[0] - 2 * (1 - 0.1 * 0.5)) < 1e-6);
 * assert.equal(new AdamW([tensor([1])]).stateDict().options.weightDecay, 0.01);
 * ```
 */
export class AdamW extends Adam {
  /** Optimizes `params` (`model.parameters()` or an array of tensors). */
  constructor(params: OptimizerParams, options?: AdamOptions) {
    super(params, options);
  }

  /** True: AdamW decays the weights directly. */
  protected override get decoupled(): boolean {
    return true;
  }

  /** 0.01, PyTorch's default for AdamW. */
  protected override get defaultWeightDecay(): number {
    return 0.01;
  }
}
