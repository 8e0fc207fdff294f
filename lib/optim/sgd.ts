/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and
 * L2 weight decay: `torch.optim.SGD`'s update, step for step.
 *
 * @module
 */

import { _flag, _nonNegative, _optimizerOptions, type OptimizerParams } from "./_params.ts";
import { Optimizer, type ParameterState } from "./optimizer.ts";

/** Options for {@link SGD}. */
export interface SGDOptions {
  /** Learning rate (required, as in PyTorch); settable later through `lr`. */
  lr: number;
  /** Momentum factor μ; default 0 (plain SGD, no buffer). */
  momentum?: number;
  /** Dampening τ of the momentum; default 0. */
  dampening?: number;
  /** L2 penalty λ added to the gradient; default 0. */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov?: boolean;
}

/** Resolved {@link SGDOptions} without lr (defaults filled in). */
export interface SGDResolved {
  /** μ. */
  momentum: number;
  /** τ. */
  dampening: number;
  /** λ. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
}

/**
 * `torch.optim.SGD`: with gradient g and parameter θ,
 * $$g \leftarrow g + \lambda\theta;\quad b \leftarrow \begin{cases} g & \text{first step}\\
 * \mu b + (1-\tau) g & \text{after}\end{cases};\quad
 * g \leftarrow \begin{cases} g + \mu b & \text{nesterov}\\ b & \text{else}\end{cases};\quad
 * \theta \leftarrow \theta - \eta\, g.$$
 * The buffer b (`momentum_buffer`) exists only when μ > 0. Parameters are updated in
 * place (see {@link Optimizer}); state is float32, like PyTorch's for float32 parameters.
 *
 * @throws {RangeError} lr, momentum, dampening or weightDecay not finite and >= 0;
 *   nesterov without momentum or with dampening.
 * @throws {TypeError} Params that are not tensors, options not an object, nesterov not a boolean.
 *
 * @example Momentum 0.9: the second step moves further
 * ```ts
 * import { SGD } from "./sgd.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([1]);
 * const opt = new SGD([w], { lr: 0.1, momentum: 0.9 });
 * w.grad = tensor([1]);
 * opt.step(); // b = 1, w = 1 - 0.1
 * opt.step(); // b = 0.9 + 1, w = 0.9 - 0.19
 * assert.ok(Math.abs(w.data[0] - 0.71) < 1e-6);
 * ```
 */
export class SGD extends Optimizer<SGDResolved> {
  /** Optimizes `params` (`model.parameters()` or an array of tensors). */
  constructor(params: OptimizerParams, options: SGDOptions) {
    super(params, "SGD");
    const o = _optimizerOptions(options, "SGD");
    if (o.lr === undefined) throw new TypeError("SGD: options.lr is required, e.g. { lr: 0.1 }");
    this.configure(o as unknown as Record<string, unknown>);
  }

  /** Checks SGD's options (defaults filled in). */
  protected resolveOptions(o: Record<string, unknown>): SGDResolved {
    const fn = this.fn;
    const r: SGDResolved = {
      momentum: _nonNegative(o.momentum ?? 0, fn, "momentum"),
      dampening: _nonNegative(o.dampening ?? 0, fn, "dampening"),
      weightDecay: _nonNegative(o.weightDecay ?? 0, fn, "weightDecay"),
      nesterov: _flag(o.nesterov ?? false, fn, "nesterov"),
    };
    if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
      throw new RangeError(
        `${fn}: nesterov needs momentum > 0 and dampening 0, got momentum ${r.momentum}, dampening ${r.dampening}`,
      );
    }
    return r;
  }

  /** `momentum_buffer` when momentum > 0, as PyTorch. */
  protected bufferNames(o: SGDResolved): readonly string[] {
    return o.momentum > 0 ? ["momentum_buffer"] : [];
  }

  /** The options under their constructor names. */
  protected describeOptions(o: SGDResolved): Record<string, number | boolean> {
    return { ...o };
  }

  /** One SGD step of one parameter, in place. */
  protected update(p: Float32Array, g: Float32Array, state: ParameterState, lr: number): void {
    const { momentum: mu, dampening: tau, weightDecay: wd, nesterov } = this.options;
    const n = p.length;
    state.step++;
    // λθ is added only when λ ≠ 0, as PyTorch does (0·∞ would turn an infinite weight into NaN)
    if (mu === 0) {
      for (let j = 0; j < n; j++) {
        const pj = p[j];
        p[j] = pj - lr * (wd === 0 ? g[j] : g[j] + wd * pj);
      }
      return;
    }
    let b = state.buffers.momentum_buffer;
    const first = b === undefined;
    if (first) b = state.buffers.momentum_buffer = new Float32Array(n);
    // the buffer starts as the first (decayed) gradient, undamped, as in PyTorch
    const keep = first ? 0 : mu, take = first ? 1 : 1 - tau;
    for (let j = 0; j < n; j++) {
      const pj = p[j], gj = wd === 0 ? g[j] : g[j] + wd * pj;
      const bj = Math.fround(keep * b[j] + take * gj);
      b[j] = bj;
      p[j] = pj - lr * (nesterov ? gj + mu * bj : bj);
    }
  }
}
