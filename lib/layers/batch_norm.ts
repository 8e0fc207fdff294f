/**
 * Batch normalisation (Ioffe & Szegedy, 2015), channels last: in training mode
 * every feature is normalised with statistics pooled over the whole batch, in
 * eval mode with running statistics.
 * Here for comparison with {@link layerNorm}: Transformers use LayerNorm.
 *
 * @module
 */

import { runKernel } from "../kernels/registry.ts";
import "../kernels/kernel_table.ts";
import { Mask } from "../tensor/mask.ts";
import { recordOp } from "../tensor/op.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _boolean, _finiteAtLeast, _options, _probability, _vectorOf } from "./_validate.ts";

/** Options for {@link batchNorm}. */
export interface BatchNormOptions {
  /** Gain γ `[C]`; omitted means 1. */
  weight?: Tensor | null;
  /** Shift β `[C]`; omitted means 0. */
  bias?: Tensor | null;
  /** Added to the variance inside the square root; default 1e-5 (PyTorch's). */
  eps?: number;
  /**
   * Which positions count towards the statistics, shaped like `x` without its
   * last axis (e.g. `[N, T]`; `true` = a real token, `false` = padding). Every
   * position is still normalised, padding included. Default: all positions count.
   */
  mask?: Mask | null;
  /**
   * Normalise with this batch's statistics (default true, PyTorch's training
   * mode); false normalises with `runningMean` and `runningVar` (eval mode),
   * which are then constants of the gradient.
   */
  training?: boolean;
  /**
   * Per-channel running mean `[C]` (PyTorch's `running_mean` buffer): required
   * when not training; when training, updated in place to
   * (1 − momentum)·running + momentum·batch mean.
   */
  runningMean?: Tensor | null;
  /**
   * Per-channel running variance `[C]` (`running_var`): required when not
   * training; when training, updated in place with the unbiased batch variance
   * (M/(M − 1) times the biased one), as PyTorch does.
   */
  runningVar?: Tensor | null;
  /** Weight of the batch in the running statistics; default 0.1 (PyTorch's). */
  momentum?: number;
}

/**
 * Normalises each feature (channel) c over every position of the batch:
 * $$\mathrm{BN}(x)_{\dots c} = \frac{x_{\dots c} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}\,\gamma_c + \beta_c,\quad
 * \mu_c = \frac1M\sum_{m} x_{m c},\quad \sigma_c^2 = \frac1M\sum_m (x_{m c} - \mu_c)^2,$$
 * where m runs over all axes but the last (the M counted positions).
 *
 * These are the training-mode statistics of PyTorch's `nn.BatchNorm1d` on
 * `[N, C]`: biased variance, ε inside the square root. With `runningMean` and
 * `runningVar` the running averages are updated as `F.batch_norm` does, and
 * with `training: false` they replace the batch statistics (inference; the
 * gradient then treats them as constants, dx = γ·dy/√(running var + ε)).
 * PyTorch's `[N, C, L]` input is channels-first;
 * here the channels are last (`[N, L, C]`, the Transformer layout), which is the same
 * computation on permuted axes. Sums are accumulated in float64 in two passes.
 *
 * Contrast with {@link layerNorm}, which normalises each position over its own
 * features: BatchNorm's result for one sequence depends on the other sequences
 * in the batch (and on padding, unless `mask` leaves it out).
 *
 * @param x `[N, ..., C]`, rank >= 2; normalised per channel over the other axes.
 * @param options `weight` γ `[C]`, `bias` β `[C]`, `eps` (default 1e-5), `mask` (x's shape without C),
 *   `training` (default true), `runningMean`/`runningVar` `[C]`, `momentum` (default 0.1).
 * @returns `[N, ..., C]`, same shape as `x`.
 * @throws {TypeError} When `x`, `weight`, `bias` or `mask` has the wrong type, or `eps` is not a number.
 * @throws {RangeError} When `x` has rank < 2, `weight`/`bias` is not `[C]`, `mask` does not match
 *   `x` without its last axis, fewer than 2 positions count (as PyTorch: "more than 1 value per
 *   channel"), `eps` is negative or infinite, `momentum` is outside [0, 1], or `training: false`
 *   without both running statistics.
 *
 * @example Each column of `[N, C]` gets mean 0 and variance 1
 * ```ts
 * import { batchNorm } from "./batch_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = batchNorm(tensor([[1, 10], [3, 14]]), { eps: 0 });
 * assert.deepEqual(y.toArray(), [[-1, -1], [1, 1]]); // column 0: μ = 2, σ = 1; column 1: μ = 12, σ = 2
 * ```
 *
 * @example Padding left out of the statistics with a mask
 * ```ts
 * import { batchNorm } from "./batch_norm.ts";
 * import { mask } from "../tensor/mask.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * // [N=1, T=3, C=1]; the last position is padding (0)
 * const x = tensor([[[2], [4], [0]]]);
 * const y = batchNorm(x, { eps: 0, mask: mask([[true, true, false]]) }).data;
 * assert.deepEqual([y[0], y[1]], [-1, 1]); // μ = 3, σ = 1 from the two real tokens
 * ```
 *
 * @example Running statistics: updated in training, used in eval mode
 * ```ts
 * import { batchNorm } from "./batch_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const runningMean = tensor([0]), runningVar = tensor([1]);
 * batchNorm(tensor([[1], [3]]), { runningMean, runningVar, momentum: 0.5 });
 * assert.deepEqual([runningMean.data[0], runningVar.data[0]], [1, 1.5]); // batch: μ = 2, unbiased σ² = 2
 * const y = batchNorm(tensor([[2.5]]), { training: false, runningMean, runningVar, eps: 0 });
 * assert.ok(Math.abs(y.data[0] - 1.5 / Math.sqrt(1.5)) < 1e-6);
 * ```
 */
export function batchNorm(x: Tensor, options: BatchNormOptions = {}): Tensor {
  const fn = "batchNorm";
  checkTensor(x, fn, "x");
  if (x.rank < 2) {
    throw new RangeError(
      `${fn}: x needs rank >= 2 ([N, ..., C], statistics over all axes but the last), got ${
        formatShape(x.shape)
      }`,
    );
  }
  const c = x.shape[x.rank - 1];
  options = _options(options, fn, "options");
  const gamma = _vectorOf(options.weight, c, fn, "weight", x);
  const beta = _vectorOf(options.bias, c, fn, "bias", x);
  const eps = _finiteAtLeast(options.eps ?? 1e-5, 0, fn, "eps");
  const training = _boolean(options.training ?? true, fn, "training");
  const runningMean = _vectorOf(options.runningMean, c, fn, "runningMean", x);
  const runningVar = _vectorOf(options.runningVar, c, fn, "runningVar", x);
  const momentum = _probability(options.momentum ?? 0.1, fn, "momentum");
  if ((runningMean === null) !== (runningVar === null) || (!training && runningMean === null)) {
    throw new TypeError(
      `${fn}: ${
        training ? "runningMean and runningVar go together" : "training: false needs"
      } (runningMean ${runningMean ? "given" : "missing"}, runningVar ${
        runningVar ? "given" : "missing"
      }); pass both as [${c}] tensors`,
    );
  }
  const positions = x.size / c || 0;
  const keep = _maskData(options.mask, x, fn);
  const count = keep ? keep.reduce((n, v) => n + v, 0) : positions;
  if (training && count < 2) {
    throw new RangeError(
      `${fn}: needs more than 1 value per channel to compute batch statistics, got ${count} ${
        keep ? "unmasked positions" : "positions"
      } in x=${formatShape(x.shape)}`,
    );
  }
  const src = x.data;
  const mean = new Float64Array(c);
  const inv = new Float64Array(c);
  if (training) {
    // 1) per-channel mean over the counted positions, in float64
    for (let m = 0; m < positions; m++) {
      if (keep && !keep[m]) continue;
      for (let j = 0; j < c; j++) mean[j] += src[m * c + j];
    }
    for (let j = 0; j < c; j++) mean[j] /= count;
    // 2) biased variance around that mean
    const sq = new Float64Array(c);
    for (let m = 0; m < positions; m++) {
      if (keep && !keep[m]) continue;
      for (let j = 0; j < c; j++) {
        const d = src[m * c + j] - mean[j];
        sq[j] += d * d;
      }
    }
    for (let j = 0; j < c; j++) inv[j] = 1 / Math.sqrt(sq[j] / count + eps);
    if (runningMean && runningVar) {
      // buffers, not graph inputs: running = (1 − momentum)·running + momentum·batch (unbiased var)
      for (let j = 0; j < c; j++) {
        runningMean.data[j] = (1 - momentum) * runningMean.data[j] + momentum * mean[j];
        runningVar.data[j] = (1 - momentum) * runningVar.data[j] +
          momentum * (sq[j] / (count - 1));
      }
    }
  } else {
    // eval mode: the running statistics, constants of the gradient
    for (let j = 0; j < c; j++) {
      mean[j] = runningMean!.data[j];
      inv[j] = 1 / Math.sqrt(runningVar!.data[j] + eps);
    }
  }
  // 3) normalise every position (padding too), 4) scale and shift
  const out = new Float32Array(src.length);
  for (let m = 0; m < positions; m++) {
    for (let j = 0; j < c; j++) {
      let y = (src[m * c + j] - mean[j]) * inv[j];
      if (gamma) y *= gamma.data[j];
      if (beta) y += beta.data[j];
      out[m * c + j] = y;
    }
  }
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return recordOp("batchNorm", inputs, new Tensor(out, x.shape), (dy) => {
    // norm = (x − μ)·rstd, dnorm = γ·dy, per channel over the M counted positions:
    //   training: dx_m = rstd·(dnorm_m − [m counted]·(Σ dnorm + norm_m·Σ dnorm·norm) / M)
    //   eval:     dx_m = rstd·dnorm_m   (running statistics are constants)
    //   dγ = Σ_m dy·norm,   dβ = Σ_m dy
    const dx = x.requiresGrad ? new Float32Array(src.length) : null;
    const dweight = gamma?.requiresGrad ? new Float32Array(c) : null;
    const dbias = beta?.requiresGrad ? new Float32Array(c) : null;
    runKernel("batchNormBackward", {
      dy: dy.data,
      x: src,
      mean,
      rstd: inv,
      keep,
      count,
      batchStatistics: training,
      weight: gamma ? gamma.data : null,
      dx,
      dweight,
      dbias,
      positions,
      c,
    });
    return [
      dx && new Tensor(dx, x.shape),
      ...(gamma ? [dweight && new Tensor(dweight, [c])] : []),
      ...(beta ? [dbias && new Tensor(dbias, [c])] : []),
    ];
  });
}

/** The mask's bytes when it matches `x` without its last axis; null without a mask. */
function _maskData(m: unknown, x: Tensor, fn: string): Uint8Array | null {
  if (m === undefined || m === null) return null;
  if (!(m instanceof Mask)) {
    throw new TypeError(
      `${fn}: mask must be a Mask (true = count this position), got ${
        typeof m === "object" ? (m as object).constructor?.name ?? "object" : typeof m
      }`,
    );
  }
  const lead = x.shape.slice(0, -1);
  if (m.rank !== lead.length || m.shape.some((d, i) => d !== lead[i])) {
    throw new RangeError(
      `${fn}: mask must have the shape of x without its last axis, ${formatShape(lead)} for x=${
        formatShape(x.shape)
      }, got mask=${formatShape(m.shape)} (reshape a [B, 1, 1, T] padding mask to [B, T])`,
    );
  }
  return m.data;
}
