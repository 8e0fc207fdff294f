/**
 * The attention kernel for one (query block, key block) pair on raw buffers:
 * scores = Q·Kᵀ·scale + bias, masked entries set to -∞, row softmax, optional
 * dropout, then output = weights·V. `lib/attention/scaled_dot_product.ts`
 * validates shapes and broadcasting and calls {@link attentionKernel} once per
 * batch element.
 *
 * @module
 */

import { gemm } from "./matmul.ts";
import { softmaxRows } from "./softmax.ts";

/** A `[Tq, Tk]` view into a broadcast mask or bias buffer. */
export interface MatrixView<T extends Float32Array | Uint8Array> {
  data: T;
  offset: number;
  /** Step between query rows: 0 when the mask is broadcast along Tq. */
  rowStride: number;
  /** Step between key columns: 0 when broadcast along Tk. */
  colStride: number;
}

/** Arguments of {@link attentionKernel}; shapes in the comments. */
export interface AttentionKernelArgs {
  q: Float32Array; // [tq, dk] at qOffset
  qOffset: number;
  k: Float32Array; // [tk, dk] at kOffset
  kOffset: number;
  v: Float32Array; // [tk, dv] at vOffset
  vOffset: number;
  tq: number;
  tk: number;
  dk: number;
  dv: number;
  scale: number;
  mask: MatrixView<Uint8Array> | null;
  bias: MatrixView<Float32Array> | null;
  out: Float32Array; // [tq, dv] at outOffset
  outOffset: number;
  weights: Float32Array; // [tq, tk] at weightsOffset
  weightsOffset: number;
  /** When set, receives scores before masking and softmax: [tq, tk]. */
  scores: Float32Array | null;
  scoresOffset: number;
  /** Drop probability; kept weights are scaled by 1/(1-p). */
  dropout: number;
  uniform: (() => number) | null;
}

/**
 * Computes one attention block into `out` and `weights`.
 *
 * @example One query, two keys
 * ```ts
 * import { attentionKernel } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(1), weights = new Float32Array(2);
 * attentionKernel({ q: Float32Array.of(0), qOffset: 0, k: Float32Array.of(0, 0), kOffset: 0,
 *   v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1, mask: null,
 *   bias: null, out, outOffset: 0, weights, weightsOffset: 0, scores: null, scoresOffset: 0,
 *   dropout: 0, uniform: null });
 * assert.deepEqual([...out], [2]);
 * ```
 */
export function attentionKernel(a: AttentionKernelArgs): void {
  const { tq, tk, dk, dv, weights, weightsOffset: wo, mask, bias, scale } = a;
  // 1) scores [tq, tk] = Q [tq, dk] · Kᵀ [dk, tk]
  gemm({
    a: a.q,
    aOffset: a.qOffset,
    b: a.k,
    bOffset: a.kOffset,
    c: weights,
    cOffset: wo,
    m: tq,
    k: dk,
    n: tk,
    transposeB: true,
  });
  // 2) scale, add bias, keep raw scores if asked, then block masked keys with -∞
  for (let i = 0; i < tq; i++) {
    const row = wo + i * tk;
    for (let j = 0; j < tk; j++) {
      let s = weights[row + j] * scale;
      if (bias) s += bias.data[bias.offset + i * bias.rowStride + j * bias.colStride];
      if (a.scores) a.scores[a.scoresOffset + i * tk + j] = s;
      if (mask && mask.data[mask.offset + i * mask.rowStride + j * mask.colStride] === 0) {
        s = -Infinity;
      }
      weights[row + j] = s;
    }
  }
  // 3) softmax per query row; a fully masked row becomes zeros
  softmaxRows(weights, wo, tq, tk);
  // 4) inverted dropout on the weights (training only)
  if (a.dropout > 0 && a.uniform) {
    const keep = 1 / (1 - a.dropout);
    const n = tq * tk;
    for (let i = 0; i < n; i++) {
      weights[wo + i] = a.uniform() < a.dropout ? 0 : weights[wo + i] * keep;
    }
  }
  // 5) output [tq, dv] = weights [tq, tk] · V [tk, dv]
  gemm({
    a: weights,
    aOffset: wo,
    b: a.v,
    bOffset: a.vOffset,
    c: a.out,
    cOffset: a.outOffset,
    m: tq,
    k: tk,
    n: dv,
    transposeB: false,
  });
}
