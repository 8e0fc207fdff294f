/**
 * Root-mean-square normalisation over the last axis (Zhang & Sennrich, 2019),
 * the norm of T5 and LLaMA: no mean subtraction and no bias.
 *
 * @module
 */

import { runKernel } from "../kernels/registry.ts";
import "../kernels/kernel_table.ts";
import { needsGrad } from "../tensor/autograd.ts";
import { recordOp } from "../tensor/op.ts";
import { checkTensor, ones, Tensor } from "../tensor/tensor.ts";
import { _features, _finiteAtLeast, _options, _positiveInt, _vectorOf } from "./_validate.ts";
import { Module } from "./module.ts";

/**
 * Default ε of {@link rmsNorm} and {@link RMSNorm}: 1e-6, the value of the
 * LLaMA and T5 reference implementations, whose checkpoints are the ones users
 * load. PyTorch 2.4's `nn.RMSNorm` defaults to `eps=None`, meaning
 * `torch.finfo(float32).eps` = 2^-23 ≈ 1.19e-7; pass `eps: 2 ** -23` to match it.
 */
export const RMS_NORM_DEFAULT_EPS = 1e-6;

/** Options for {@link rmsNorm}. */
export interface RmsNormOptions {
  /** Gain γ `[D]`; omitted means 1. */
  weight?: Tensor | null;
  /** Added to the mean square inside the square root; default {@link RMS_NORM_DEFAULT_EPS} (1e-6). */
  eps?: number;
}

/**
 * $$\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\frac1D\sum_i x_i^2 + \epsilon}} \odot \gamma$$
 * over the last axis, accumulated in float64.
 *
 * @param x `[..., D]`.
 * @param options `weight` γ `[D]`, `eps` (default 1e-6, see {@link RMS_NORM_DEFAULT_EPS}).
 * @returns `[..., D]`, same shape as `x`.
 * @throws {TypeError} When `x` or `weight` is not a Tensor, or `eps` not a number.
 * @throws {RangeError} When `x` is a scalar, `weight` is not `[D]`, or `eps` is negative or infinite.
 *
 * @example Unit root mean square per row
 * ```ts
 * import { rmsNorm } from "./rms_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = rmsNorm(tensor([[3, 4]]), { eps: 0 }).data; // rms = √12.5
 * assert.ok(Math.abs(y[0] - 3 / Math.sqrt(12.5)) < 1e-7);
 * assert.ok(Math.abs((y[0] ** 2 + y[1] ** 2) / 2 - 1) < 1e-6);
 * ```
 */
export function rmsNorm(x: Tensor, options: RmsNormOptions = {}): Tensor {
  const d = _features(x, "rmsNorm", "x");
  options = _options(options, "rmsNorm", "options");
  const gamma = _vectorOf(options.weight, d, "rmsNorm", "weight", x);
  const eps = _finiteAtLeast(options.eps ?? RMS_NORM_DEFAULT_EPS, 0, "rmsNorm", "eps");
  const src = x.data;
  const out = new Float32Array(src.length);
  const inputs = gamma ? [x, gamma] : [x];
  // backward needs only each row's rstd: saved when something requires grad
  const rows = d === 0 ? 0 : src.length / d;
  const rstd = needsGrad(inputs) ? new Float64Array(rows) : null;
  for (let row = 0, r = 0; row < src.length; row += d, r++) {
    let sq = 0;
    for (let i = 0; i < d; i++) sq += src[row + i] * src[row + i];
    const inv = 1 / Math.sqrt(sq / d + eps);
    if (rstd) rstd[r] = inv;
    for (let i = 0; i < d; i++) {
      out[row + i] = gamma ? src[row + i] * inv * gamma.data[i] : src[row + i] * inv;
    }
  }
  return recordOp("rmsNorm", inputs, new Tensor(out, x.shape), (dy) => {
    // norm = x·rstd, dnorm = γ·dy, per row (no mean term: nothing was centred):
    //   dx = rstd·(dnorm − norm·mean(dnorm·norm)),   dγ = Σ_rows dy·norm
    const dx = x.requiresGrad ? new Float32Array(src.length) : null;
    const dweight = gamma?.requiresGrad ? new Float32Array(d) : null;
    runKernel("layerNormBackward", {
      dy: dy.data,
      x: src,
      mean: null,
      rstd: rstd!,
      weight: gamma ? gamma.data : null,
      dx,
      dweight,
      dbias: null,
      rows,
      d,
    });
    return [dx && new Tensor(dx, x.shape), ...(gamma ? [dweight && new Tensor(dweight, [d])] : [])];
  });
}

/** Options for {@link RMSNorm}. */
export interface RMSNormModuleOptions {
  /** Added inside the square root; default {@link RMS_NORM_DEFAULT_EPS} (1e-6, LLaMA's). */
  eps?: number;
}

/**
 * RMS normalisation module with one parameter, `weight` (γ `[dim]`, ones), as
 * PyTorch's `nn.RMSNorm` and LLaMA's `RMSNorm` name it.
 *
 * @example Weight scales each feature
 * ```ts
 * import { RMSNorm } from "./rms_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const norm = new RMSNorm(2, { eps: 0 });
 * norm.loadStateDict({ weight: tensor([1, 10]) });
 * const y = norm.forward(tensor([1, 1])).data;
 * assert.deepEqual([y[0], y[1]], [1, 10]);
 * ```
 */
export class RMSNorm extends Module {
  /** γ `[dim]`. */
  readonly weight: Tensor;
  /** The ε inside the square root. */
  readonly eps: number;

  /**
   * An RMSNorm over a last axis of size `dim`, γ = 1.
   *
   * @param dim Size of the last axis.
   * @param options `eps` (default 1e-6).
   * @throws {RangeError} When `dim` is not a positive integer or `eps` is negative.
   */
  constructor(readonly dim: number, options: RMSNormModuleOptions = {}) {
    super();
    _positiveInt(dim, "RMSNorm", "dim");
    options = _options(options, "RMSNorm", "options");
    this.eps = _finiteAtLeast(options.eps ?? RMS_NORM_DEFAULT_EPS, 0, "RMSNorm", "eps");
    this.weight = this.registerParameter("weight", ones([dim]));
  }

  /** {@link rmsNorm} of `x [..., dim]` with this module's weight. */
  forward(x: Tensor): Tensor {
    checkTensor(x, "RMSNorm.forward", "x");
    return rmsNorm(x, { weight: this.weight, eps: this.eps });
  }
}
