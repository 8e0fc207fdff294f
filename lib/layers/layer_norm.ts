/**
 * Layer normalisation over the last axis (Ba, Kiros & Hinton, 2016), with
 * PyTorch's `nn.LayerNorm` semantics: biased variance, eps inside the square root.
 *
 * @module
 */

import { runKernel } from "../kernels/registry.ts";
import "../kernels/kernel_table.ts";
import { needsGrad } from "../tensor/autograd.ts";
import { recordOp } from "../tensor/op.ts";
import { checkTensor, ones, Tensor, zeros } from "../tensor/tensor.ts";
import {
  _boolean,
  _features,
  _finiteAtLeast,
  _options,
  _positiveInt,
  _vectorOf,
} from "./_validate.ts";
import { Module } from "./module.ts";

/** Options for {@link layerNorm}. */
export interface LayerNormOptions {
  /** Gain γ `[D]`; omitted means 1. */
  weight?: Tensor | null;
  /** Shift β `[D]`; omitted means 0. */
  bias?: Tensor | null;
  /** Added to the variance inside the square root; default 1e-5 (PyTorch's). */
  eps?: number;
}

/**
 * Normalises each vector on the last axis to mean 0 and variance 1, then scales and shifts:
 * $$\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot \gamma + \beta,\quad
 * \mu = \frac1D\sum_{i} x_i,\quad \sigma^2 = \frac1D\sum_i (x_i - \mu)^2.$$
 *
 * The variance is the biased one (divided by D, as PyTorch does) and ε sits
 * inside the square root (the Annotated Transformer adds it to σ instead, which
 * differs when σ is small). Mean and variance are accumulated in float64 in
 * two passes, so large offsets do not cancel digits away.
 *
 * @param x `[..., D]`, normalised over D.
 * @param options `weight` γ `[D]`, `bias` β `[D]`, `eps` (default 1e-5).
 * @returns `[..., D]`, same shape as `x`.
 * @throws {TypeError} When `x`, `weight` or `bias` is not a Tensor, or `eps` not a number.
 * @throws {RangeError} When `x` is a scalar, `weight`/`bias` is not `[D]`, or `eps` is negative or infinite.
 *
 * @example Each row gets mean 0 and variance 1
 * ```ts
 * import { layerNorm } from "./layer_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = layerNorm(tensor([[1, 2, 3], [10, 10, 10]]), { eps: 0 }).data;
 * const s = Math.sqrt(1.5); // 1/σ with σ² = 2/3
 * assert.ok(Math.abs(y[0] + s) < 1e-6 && y[1] === 0 && Math.abs(y[2] - s) < 1e-6);
 * ```
 *
 * @example A constant row gives β (and never NaN) with the default eps
 * ```ts
 * import { layerNorm } from "./layer_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = layerNorm(tensor([[5, 5]]), { weight: tensor([2, 2]), bias: tensor([1, -1]) });
 * assert.deepEqual(y.toArray(), [[1, -1]]);
 * ```
 */
export function layerNorm(x: Tensor, options: LayerNormOptions = {}): Tensor {
  const d = _features(x, "layerNorm", "x");
  options = _options(options, "layerNorm", "options");
  const gamma = _vectorOf(options.weight, d, "layerNorm", "weight", x);
  const beta = _vectorOf(options.bias, d, "layerNorm", "bias", x);
  const eps = _finiteAtLeast(options.eps ?? 1e-5, 0, "layerNorm", "eps");
  const src = x.data;
  const out = new Float32Array(src.length);
  const g = gamma ? gamma.data : null, b = beta ? beta.data : null;
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  // backward needs only each row's mean and rstd (llm.c): saved when something requires grad
  const rows = d === 0 ? 0 : src.length / d;
  const saved = needsGrad(inputs)
    ? { mean: new Float64Array(rows), rstd: new Float64Array(rows) }
    : null;
  for (let row = 0, r = 0; row < src.length; row += d, r++) {
    // 1) mean, 2) biased variance around it, both in float64
    let sum = 0;
    for (let i = 0; i < d; i++) sum += src[row + i];
    const mean = sum / d;
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const c = src[row + i] - mean;
      sq += c * c;
    }
    // 3) normalise, 4) scale and shift
    const inv = 1 / Math.sqrt(sq / d + eps);
    if (saved) saved.mean[r] = mean, saved.rstd[r] = inv;
    if (g && b) {
      // the common affine case without per-element branches
      for (let i = 0; i < d; i++) out[row + i] = (src[row + i] - mean) * inv * g[i] + b[i];
    } else {
      for (let i = 0; i < d; i++) {
        let y = (src[row + i] - mean) * inv;
        if (g) y *= g[i];
        if (b) y += b[i];
        out[row + i] = y;
      }
    }
  }
  return recordOp("layerNorm", inputs, new Tensor(out, x.shape), (dy) => {
    // norm = (x − mean)·rstd, dnorm = γ·dy, per row:
    //   dx = rstd·(dnorm − mean(dnorm) − norm·mean(dnorm·norm))
    //   dγ = Σ_rows dy·norm,   dβ = Σ_rows dy
    const dx = x.requiresGrad ? new Float32Array(src.length) : null;
    const dweight = gamma?.requiresGrad ? new Float32Array(d) : null;
    const dbias = beta?.requiresGrad ? new Float32Array(d) : null;
    runKernel("layerNormBackward", {
      dy: dy.data,
      x: src,
      mean: saved!.mean,
      rstd: saved!.rstd,
      weight: g,
      dx,
      dweight,
      dbias,
      rows,
      d,
    });
    return [
      dx && new Tensor(dx, x.shape),
      ...(gamma ? [dweight && new Tensor(dweight, [d])] : []),
      ...(beta ? [dbias && new Tensor(dbias, [d])] : []),
    ];
  });
}

/** Options for {@link LayerNorm}. */
export interface LayerNormModuleOptions {
  /** Added to the variance inside the square root; default 1e-5 (PyTorch's). */
  eps?: number;
  /** Learn `weight` (γ, init 1) and `bias` (β, init 0); default true, as `elementwise_affine` in PyTorch. */
  elementwiseAffine?: boolean;
}

/**
 * `nn.LayerNorm(dim)` over the last axis, with parameters `weight` (γ, ones)
 * and `bias` (β, zeros) under PyTorch's names.
 *
 * @example Load PyTorch parameters and normalise
 * ```ts
 * import { LayerNorm } from "./layer_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const norm = new LayerNorm(2);
 * norm.loadStateDict({ weight: tensor([1, 1]), bias: tensor([0, 3]) });
 * const y = norm.forward(tensor([[0, 2]])).data; // normalised row is [-1, 1] (up to eps)
 * assert.ok(Math.abs(y[0] + 1) < 1e-4 && Math.abs(y[1] - 4) < 1e-4);
 * assert.deepEqual(Object.keys(norm.stateDict()), ["weight", "bias"]);
 * ```
 */
export class LayerNorm extends Module {
  /** γ `[dim]`, or null without `elementwiseAffine`. */
  readonly weight: Tensor | null;
  /** β `[dim]`, or null without `elementwiseAffine`. */
  readonly bias: Tensor | null;
  /** The ε inside the square root. */
  readonly eps: number;

  /**
   * A LayerNorm over a last axis of size `dim`, γ = 1 and β = 0.
   *
   * @param dim Size of the last axis, normalised over.
   * @param options `eps` (default 1e-5), `elementwiseAffine` (default true).
   * @throws {RangeError} When `dim` is not a positive integer or `eps` is negative.
   */
  constructor(readonly dim: number, options: LayerNormModuleOptions = {}) {
    super();
    _positiveInt(dim, "LayerNorm", "dim");
    options = _options(options, "LayerNorm", "options");
    this.eps = _finiteAtLeast(options.eps ?? 1e-5, 0, "LayerNorm", "eps");
    const affine = _boolean(options.elementwiseAffine ?? true, "LayerNorm", "elementwiseAffine");
    this.weight = affine ? this.registerParameter("weight", ones([dim])) : null;
    this.bias = affine ? this.registerParameter("bias", zeros([dim])) : null;
  }

  /**
   * {@link layerNorm} of `x [..., dim]` with this module's parameters.
   *
   * @throws {RangeError} When the last axis of `x` is not `dim`.
   */
  forward(x: Tensor): Tensor {
    checkTensor(x, "LayerNorm.forward", "x");
    return layerNorm(x, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}
