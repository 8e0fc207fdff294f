/**
 * Adam (Kingma & Ba, 2015) with `torch.optim.Adam`'s update rule and defaults,
 * L2 weight decay and AMSGrad; {@link AdamW} reuses it with decoupled decay.
 *
 * @module
 */

import {
  _flag,
  _nonNegative,
  _optimizerOptions,
  _unitInterval,
  type OptimizerParams,
} from "./_params.ts";
import { Optimizer, type ParameterState } from "./optimizer.ts";

/** Options for {@link Adam} (and {@link AdamW}). */
export interface AdamOptions {
  /** Learning rate η; default 1e-3. Settable later through `lr`. */
  lr?: number;
  /** (β₁, β₂), the decay rates of the two moment averages; default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** ε added to the denominator; default 1e-8. */
  eps?: number;
  /** Weight decay λ: Adam adds λθ to the gradient (default 0); AdamW decays θ directly (default 0.01). */
  weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad); default false. */
  amsgrad?: boolean;
}

/** Resolved {@link AdamOptions} without lr. */
export interface AdamResolved {
  /** (β₁, β₂). */
  betas: readonly [number, number];
  /** ε. */
  eps: number;
  /** λ. */
  weightDecay: number;
  /** AMSGrad. */
  amsgrad: boolean;
}

/**
 * `torch.optim.Adam`: at step t with gradient g and parameter θ,
 * $$g \leftarrow g + \lambda\theta,\quad m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
 * v \leftarrow \beta_2 v + (1-\beta_2) g^2,$$
 * $$\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\cdot
 * \frac{m}{\sqrt{\hat v}/\sqrt{1-\beta_2^t} + \varepsilon}$$
 * with $\hat v = v$, or its running maximum with `amsgrad`. Buffers `exp_avg` (m),
 * `exp_avg_sq` (v) and `max_exp_avg_sq` are float32 like PyTorch's; the step count is
 * per parameter. One flat loop per parameter, no allocation after the first step;
 * parameters are updated in place (see {@link Optimizer}).
 *
 * @throws {RangeError} lr, eps or weightDecay not finite and >= 0; a beta outside [0, 1).
 * @throws {TypeError} Params that are not tensors, options not an object, amsgrad not a boolean.
 *
 * @example The first step moves every weight by lr, whatever the gradient's scale
 * ```ts
 * import { Adam } from "./adam.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([1, 1]);
 * const opt = new Adam([w], { lr: 0.01 });
 * w.grad = tensor([1000, -0.001]);
 * opt.step();
 * assert.ok(Math.abs(w.data[0] - 0.99) < 1e-6 && Math.abs(w.data[1] - 1.01) < 1e-4);
 * ```
 */
export class Adam extends Optimizer<AdamResolved> {
  /** Optimizes `params` (`model.parameters()` or an array of tensors). */
  constructor(params: OptimizerParams, options?: AdamOptions) {
    super(params, new.target === Adam ? "Adam" : new.target.name);
    const o = _optimizerOptions(options, this.fn) as Record<string, unknown>;
    this.configure({ ...o, lr: o.lr ?? 1e-3 });
  }

  /** True for AdamW: weight decay scales θ by (1 − ηλ) instead of adding λθ to g. */
  protected get decoupled(): boolean {
    return false;
  }

  /** The weight decay when the options leave it out. */
  protected get defaultWeightDecay(): number {
    return 0;
  }

  /** Checks Adam's options (defaults filled in). */
  protected resolveOptions(o: Record<string, unknown>): AdamResolved {
    const fn = this.fn;
    const betas = o.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new TypeError(`${fn}: betas must be [beta1, beta2], got ${String(betas)}`);
    }
    return {
      betas: [_unitInterval(betas[0], fn, "betas[0]"), _unitInterval(betas[1], fn, "betas[1]")],
      eps: _nonNegative(o.eps ?? 1e-8, fn, "eps"),
      weightDecay: _nonNegative(o.weightDecay ?? this.defaultWeightDecay, fn, "weightDecay"),
      amsgrad: _flag(o.amsgrad ?? false, fn, "amsgrad"),
    };
  }

  /** `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad, as PyTorch. */
  protected bufferNames(o: AdamResolved): readonly string[] {
    return o.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"];
  }

  /** The options under their constructor names. */
  protected describeOptions(o: AdamResolved): Record<string, number | boolean | readonly number[]> {
    return { betas: [...o.betas], eps: o.eps, weightDecay: o.weightDecay, amsgrad: o.amsgrad };
  }

  /** One Adam (or AdamW) step of one parameter, in place. */
  protected update(p: Float32Array, g: Float32Array, state: ParameterState, lr: number): void {
    const { betas: [b1, b2], eps, weightDecay: wd, amsgrad } = this.options;
    const n = p.length;
    const buf = state.buffers;
    if (buf.exp_avg === undefined) {
      buf.exp_avg = new Float32Array(n);
      buf.exp_avg_sq = new Float32Array(n);
      if (amsgrad) buf.max_exp_avg_sq = new Float32Array(n);
    }
    const m = buf.exp_avg, v = buf.exp_avg_sq, vMax = buf.max_exp_avg_sq;
    const t = ++state.step;
    const stepSize = lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const l2 = this.decoupled ? 0 : wd;
    // AdamW: θ ← θ(1 − ηλ) before the Adam step, as torch.optim.AdamW
    const shrink = this.decoupled ? 1 - lr * wd : 1;
    const c1 = 1 - b1, c2 = 1 - b2, invBc2Sqrt = 1 / bc2Sqrt;
    // m and v are rounded to float32 as stored (Math.fround) before the update reads them,
    // as PyTorch's float32 buffers are; the branch on amsgrad stays outside the loop. λθ is
    // added only when λ ≠ 0, as PyTorch does (0·∞ would turn an infinite weight into NaN)
    if (amsgrad) {
      for (let j = 0; j < n; j++) {
        const pj = p[j], gj = l2 === 0 ? g[j] : g[j] + l2 * pj;
        const mj = Math.fround(b1 * m[j] + c1 * gj);
        const vj = Math.fround(b2 * v[j] + c2 * gj * gj);
        const vHat = Math.max(vMax[j], vj);
        m[j] = mj;
        v[j] = vj;
        vMax[j] = vHat;
        p[j] = pj * shrink - stepSize * mj / (Math.sqrt(vHat) * invBc2Sqrt + eps);
      }
      return;
    }
    for (let j = 0; j < n; j++) {
      const pj = p[j], gj = l2 === 0 ? g[j] : g[j] + l2 * pj;
      const mj = Math.fround(b1 * m[j] + c1 * gj);
      const vj = Math.fround(b2 * v[j] + c2 * gj * gj);
      m[j] = mj;
      v[j] = vj;
      p[j] = pj * shrink - stepSize * mj / (Math.sqrt(vj) * invBc2Sqrt + eps);
    }
  }
}
