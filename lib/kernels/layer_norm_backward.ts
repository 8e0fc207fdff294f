/**
 * The backward passes of the normalisations, llm.c style: the forward saved
 * each group's mean and rstd = 1/√(var + ε), and backward rebuilds
 * norm = (x − mean)·rstd from them instead of storing it. Not exported from
 * the package: `lib/layers/layer_norm.ts`, `rms_norm.ts` and `batch_norm.ts`
 * run them through the kernel table (`kernel_table.ts`).
 *
 * Sums accumulate in float64 and each result is rounded to float32 once.
 *
 * @module
 */

/**
 * Operands of the row-wise LayerNorm / RMSNorm backward on `rows` vectors of
 * `d` features (the last axis).
 */
export interface NormBackwardArgs {
  /** dL/dy `[rows, d]`. */
  dy: Float32Array;
  /** The forward's input `[rows, d]`. */
  x: Float32Array;
  /** Each row's mean `[rows]` (LayerNorm), or null for RMSNorm (no centring). */
  mean: Float64Array | null;
  /** Each row's 1/√(var + ε) (RMSNorm: 1/√(mean(x²) + ε)) `[rows]`. */
  rstd: Float64Array;
  /** γ `[d]`, or null for 1. */
  weight: Float32Array | null;
  /** dL/dx `[rows, d]`, overwritten; null when not needed. */
  dx: Float32Array | null;
  /** dL/dγ `[d]`, overwritten; null when not needed. */
  dweight: Float32Array | null;
  /** dL/dβ `[d]`, overwritten; null when not needed. */
  dbias: Float32Array | null;
  rows: number;
  d: number;
}

/**
 * The readable reference of the row-wise backward. With norm = (x − mean)·rstd
 * (RMSNorm: x·rstd) and dnorm = γ·dy, per row:
 *
 *     LayerNorm: dx = rstd·(dnorm − mean(dnorm) − norm·mean(dnorm·norm))
 *     RMSNorm:   dx = rstd·(dnorm − norm·mean(dnorm·norm))
 *     dγ = Σ_rows dy·norm,   dβ = Σ_rows dy
 *
 * (mean(dnorm) is the gradient through the mean, norm·mean(dnorm·norm) the
 * one through the variance.)
 *
 * @example A row [1, 3] (norm [−1, 1] with ε = 0): dγ = dy·norm, dβ = dy
 * ```ts
 * import { normBackwardReference } from "./layer_norm_backward.ts";
 * import assert from "node:assert/strict";
 * const dx = new Float32Array(2), dweight = new Float32Array(2), dbias = new Float32Array(2);
 * normBackwardReference({ dy: Float32Array.of(1, 1), x: Float32Array.of(1, 3),
 *   mean: Float64Array.of(2), rstd: Float64Array.of(1), weight: null,
 *   dx, dweight, dbias, rows: 1, d: 2 });
 * assert.deepEqual([...dx], [0, 0]); // adding a constant to dy moves no input
 * assert.deepEqual([...dweight], [-1, 1]);
 * assert.deepEqual([...dbias], [1, 1]);
 * ```
 */
export function normBackwardReference(args: NormBackwardArgs): void {
  const { dy, x, mean, rstd, weight, dx, dweight, dbias, rows, d } = args;
  const dw = dweight ? new Float64Array(d) : null;
  const db = dbias ? new Float64Array(d) : null;
  for (let r = 0; r < rows; r++) {
    const o = r * d, mu = mean ? mean[r] : 0, s = rstd[r];
    // 1) the two row means of the chain rule
    let meanDnorm = 0, meanDnormNorm = 0;
    for (let i = 0; i < d; i++) {
      const norm = (x[o + i] - mu) * s;
      const dnorm = weight ? weight[i] * dy[o + i] : dy[o + i];
      meanDnorm += dnorm;
      meanDnormNorm += dnorm * norm;
      if (dw) dw[i] += dy[o + i] * norm;
      if (db) db[i] += dy[o + i];
    }
    meanDnorm = mean ? meanDnorm / d : 0;
    meanDnormNorm /= d;
    // 2) dx = rstd·(dnorm − mean(dnorm) − norm·mean(dnorm·norm))
    if (dx) {
      for (let i = 0; i < d; i++) {
        const norm = (x[o + i] - mu) * s;
        const dnorm = weight ? weight[i] * dy[o + i] : dy[o + i];
        dx[o + i] = s * (dnorm - meanDnorm - norm * meanDnormNorm);
      }
    }
  }
  if (dw) dweight!.set(dw);
  if (db) dbias!.set(db);
}

/**
 * Operands of the BatchNorm backward on `positions` rows of `c` channels
 * (channels last): statistics per channel, over the counted positions.
 */
export interface BatchNormBackwardArgs {
  /** dL/dy `[positions, c]`. */
  dy: Float32Array;
  /** The forward's input `[positions, c]`. */
  x: Float32Array;
  /** Per-channel mean `[c]` (batch statistics, or the running mean in eval mode). */
  mean: Float64Array;
  /** Per-channel 1/√(var + ε) `[c]`. */
  rstd: Float64Array;
  /**
   * 1 for the positions that counted towards the batch statistics, 0 for the
   * others `[positions]`; null: all counted.
   */
  keep: Uint8Array | null;
  /** How many positions counted (the M of the statistics). */
  count: number;
  /**
   * True when mean and rstd are this batch's statistics (training mode), so the
   * gradient flows through them; false for constants (running statistics).
   */
  batchStatistics: boolean;
  weight: Float32Array | null;
  /** dL/dx, dL/dγ, dL/dβ: overwritten; null when not needed. */
  dx: Float32Array | null;
  dweight: Float32Array | null;
  dbias: Float32Array | null;
  positions: number;
  c: number;
}

/**
 * The readable reference of the BatchNorm backward. With norm = (x − μ)·rstd
 * and dnorm = γ·dy, per channel, for every position m (counted or not: every
 * output depends on the statistics) and c_m = 1 when m counted:
 *
 *     batch statistics: dx_m = rstd·(dnorm_m − c_m·(Σ dnorm + norm_m·Σ dnorm·norm) / M)
 *     running (constant) statistics: dx_m = rstd·dnorm_m
 *     dγ = Σ_m dy·norm,   dβ = Σ_m dy
 *
 * @example Two positions, one channel: shifting dy by a constant moves nothing
 * ```ts
 * import { batchNormBackwardReference } from "./layer_norm_backward.ts";
 * import assert from "node:assert/strict";
 * const dx = new Float32Array(2);
 * batchNormBackwardReference({ dy: Float32Array.of(5, 5), x: Float32Array.of(1, 3),
 *   mean: Float64Array.of(2), rstd: Float64Array.of(1), keep: null, count: 2,
 *   batchStatistics: true, weight: null, dx, dweight: null, dbias: null, positions: 2, c: 1 });
 * assert.deepEqual([...dx], [0, 0]);
 * ```
 */
export function batchNormBackwardReference(args: BatchNormBackwardArgs): void {
  const { dy, x, mean, rstd, keep, count, weight, dx, dweight, dbias, positions, c } = args;
  // 1) per channel: Σ dnorm, Σ dnorm·norm (over every position), and dγ, dβ
  const sumDnorm = new Float64Array(c), sumDnormNorm = new Float64Array(c);
  const dw = new Float64Array(c), db = new Float64Array(c);
  for (let m = 0; m < positions; m++) {
    for (let j = 0; j < c; j++) {
      const g = dy[m * c + j];
      const norm = (x[m * c + j] - mean[j]) * rstd[j];
      const dnorm = weight ? weight[j] * g : g;
      sumDnorm[j] += dnorm;
      sumDnormNorm[j] += dnorm * norm;
      dw[j] += g * norm;
      db[j] += g;
    }
  }
  if (dweight) dweight.set(dw);
  if (dbias) dbias.set(db);
  if (!dx) return;
  // 2) dx_m = rstd·(dnorm_m − c_m·(Σ dnorm + norm_m·Σ dnorm·norm) / M)
  for (let m = 0; m < positions; m++) {
    const counted = args.batchStatistics && (!keep || keep[m] !== 0);
    for (let j = 0; j < c; j++) {
      const g = dy[m * c + j];
      const norm = (x[m * c + j] - mean[j]) * rstd[j];
      const dnorm = weight ? weight[j] * g : g;
      const through = counted ? (sumDnorm[j] + norm * sumDnormNorm[j]) / count : 0;
      dx[m * c + j] = rstd[j] * (dnorm - through);
    }
  }
}
