/**
 * The backward pass of attention from the saved row log-sum-exp
 * (FlashAttention-2, Dao 2023): the forward keeps only the output O and
 * L_i = log Σ_j exp(s_ij) per query row, and the backward recomputes the
 * weights P = exp(S − L) block by block, so no `[Tq, Tk]` matrix is stored
 * between the passes. With scores S = Q·Kᵀ·scale + bias (masked keys -∞),
 * dropout multipliers M (0 or 1/(1−p), drawn again from the forward's
 * counter-based key) and upstream gradient dO:
 *
 * $$P = e^{S - L},\ D_i = \textstyle\sum_c dO_{ic} O_{ic},\ dV = (P \circ M)^\top dO,\
 * dP = (dO\,V^\top) \circ M,\ dS = P \circ (dP - D),$$
 * $$dQ = dS\,K \cdot \mathrm{scale},\ dK = dS^\top Q \cdot \mathrm{scale},\ dB = dS.$$
 *
 * (D_i = Σ_j P_ij·dP_ij, since O = (P∘M)·V.) A masked key has P = 0 and gets
 * exactly 0 gradient; a fully masked row (L = -∞) contributes nothing and its
 * query gets gradient 0, never NaN. Every gradient is added into its buffer
 * (so broadcast operands sum over the batch elements that share them).
 *
 * @module
 */

import { type AttentionInputs, masked, type MatrixView, tileBlocked } from "./attention_inputs.ts";
import type { DropoutKey } from "./attention.ts";
import { finiteCopy, valuesFinite } from "./hidden_values.ts";
import { gemm } from "./matmul.ts";
import { dropoutAt } from "./random.ts";
import { runKernel } from "./registry.ts";
import "./kernel_table.ts";

/** Operands of {@link attentionBackwardKernel} for one problem (one batch element and head). */
export interface AttentionBackwardArgs extends AttentionInputs {
  // AttentionInputs' `out` [tq, dv] at outOffset is the forward's output O, read here
  /** The forward's row log-sum-exp L `[tq]` at lseOffset. */
  lse: Float32Array;
  lseOffset: number;
  /** dL/dO `[tq, dv]` at gradOutOffset. */
  gradOut: Float32Array;
  gradOutOffset: number;
  /** The forward's dropout probability and key (null: none). */
  dropout: number;
  dropoutKey: DropoutKey | null;
  /** dL/dQ `[tq, dk]` added at gradQOffset; null: not wanted. */
  gradQ: Float32Array | null;
  gradQOffset: number;
  /** dL/dK `[tk, dk]` added at gradKOffset; null: not wanted. */
  gradK: Float32Array | null;
  gradKOffset: number;
  /** dL/dV `[tk, dv]` added at gradVOffset; null: not wanted. */
  gradV: Float32Array | null;
  gradVOffset: number;
  /** dL/dbias added through the bias's own view (offset and strides), so broadcast entries sum. */
  gradBias: MatrixView<Float32Array> | null;
  /** Query rows and keys per block of the fast path (default: all keys, rows for about 2^18 scores). */
  blockRows?: number;
  blockKeys?: number;
}

/**
 * Adds the gradients of one attention problem into `gradQ`, `gradK`, `gradV`
 * and `gradBias`: the kernel table picks the readable loops of
 * {@link attentionBackwardReference}, the blocked products of
 * {@link attentionBackwardBlocked}, or, for a small problem, the whole problem
 * in WebAssembly memory (`attentionBackwardWasm` in `simd.ts`).
 *
 * @example One query, two keys: dV is the weights times dO
 * ```ts
 * import { attentionBackwardKernel } from "./attention_backward.ts";
 * import assert from "node:assert/strict";
 * const gradV = new Float32Array(2);
 * // equal scores 0 over two keys: L = log 2, P = [1/2, 1/2]
 * attentionBackwardKernel({ q: Float32Array.of(0), qOffset: 0, k: Float32Array.of(0, 0),
 *   kOffset: 0, v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1,
 *   mask: null, bias: null, out: Float32Array.of(2), outOffset: 0,
 *   lse: Float32Array.of(Math.log(2)), lseOffset: 0, gradOut: Float32Array.of(1),
 *   gradOutOffset: 0, dropout: 0, dropoutKey: null, gradQ: null, gradQOffset: 0,
 *   gradK: null, gradKOffset: 0, gradV, gradVOffset: 0, gradBias: null });
 * assert.deepEqual([...gradV], [0.5, 0.5]);
 * ```
 */
export function attentionBackwardKernel(a: AttentionBackwardArgs): void {
  runKernel("attentionBackward", a);
}

/**
 * The problems of one call (batch elements and heads), each as
 * {@link attentionBackwardKernel} would compute it: the kernel table runs them
 * one at a time, or, when they are small and alike, in one WebAssembly call
 * threaded over problems (`attentionBackwardBatchWasm` in `simd.ts`). Problems
 * that share a gradient buffer (a broadcast operand) add into it in order.
 *
 * @example Two problems at once equal two single calls
 * ```ts
 * import { attentionBackwardKernel, attentionBackwardKernels } from "./attention_backward.ts";
 * import assert from "node:assert/strict";
 * const args = (gradV: Float32Array, t: number) => ({ q: Float32Array.of(0, 1), qOffset: t,
 *   k: Float32Array.of(0, 0, 1, -1), kOffset: 2 * t, v: Float32Array.of(1, 3, 2, 4),
 *   vOffset: 2 * t, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1, mask: null, bias: null,
 *   out: Float32Array.of(2, 2.5), outOffset: t, lse: Float32Array.of(Math.log(2), 1.4338),
 *   lseOffset: t, gradOut: Float32Array.of(1, 1), gradOutOffset: t, dropout: 0,
 *   dropoutKey: null, gradQ: null, gradQOffset: 0, gradK: null, gradKOffset: 0, gradV,
 *   gradVOffset: 2 * t, gradBias: null });
 * const both = new Float32Array(4), one = new Float32Array(4);
 * attentionBackwardKernels([args(both, 0), args(both, 1)]);
 * attentionBackwardKernel(args(one, 0));
 * attentionBackwardKernel(args(one, 1));
 * assert.deepEqual(both, one);
 * ```
 */
export function attentionBackwardKernels(list: readonly AttentionBackwardArgs[]): void {
  runKernel("attentionBackwardBatch", list);
}

/** Dropout multipliers of row i, keys [j0, j0 + n): 0 or 1/(1−p) (all 1 without dropout). */
function dropoutRow(
  a: AttentionBackwardArgs,
  i: number,
  j0: number,
  n: number,
  into: Float32Array,
  at: number,
): void {
  into.fill(1, at, at + n);
  if (a.dropout > 0 && a.dropoutKey) {
    const { key, call, first } = a.dropoutKey;
    dropoutAt(into, at, into, at, n, a.dropout, key, call, first + i * a.tk + j0);
  }
}

/**
 * The readable reference, one query row at a time in float64: the oracle of
 * the blocked path.
 *
 * @example Same as the blocked path
 * ```ts
 * import {
 *   attentionBackwardBlocked,
 *   attentionBackwardReference,
 * } from "./attention_backward.ts";
 * import assert from "node:assert/strict";
 * const run = (f: typeof attentionBackwardReference) => {
 *   const gradQ = new Float32Array(1);
 *   f({ q: Float32Array.of(1), qOffset: 0, k: Float32Array.of(1, -1), kOffset: 0,
 *     v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1,
 *     mask: null, bias: null, out: Float32Array.of(1.4768), outOffset: 0,
 *     lse: Float32Array.of(Math.log(Math.E + 1 / Math.E)), lseOffset: 0,
 *     gradOut: Float32Array.of(1), gradOutOffset: 0, dropout: 0, dropoutKey: null,
 *     gradQ, gradQOffset: 0, gradK: null, gradKOffset: 0, gradV: null, gradVOffset: 0,
 *     gradBias: null });
 *   return gradQ[0];
 * };
 * assert.ok(Math.abs(run(attentionBackwardReference) - run(attentionBackwardBlocked)) < 1e-6);
 * ```
 */
export function attentionBackwardReference(a: AttentionBackwardArgs): void {
  const { q, k, v, tq, tk, dk, dv, scale, mask, bias, gradQ, gradK, gradV, gradBias } = a;
  const p = new Float64Array(tk), ds = new Float64Array(tk), m = new Float32Array(tk);
  for (let i = 0; i < tq; i++) {
    const L = a.lse[a.lseOffset + i];
    // a query that saw no key: output 0 whatever Q, K, V, so no gradient from it
    if (L === -Infinity) continue;
    const qi = a.qOffset + i * dk, doi = a.gradOutOffset + i * dv, oi = a.outOffset + i * dv;
    dropoutRow(a, i, 0, tk, m, 0);
    // D_i = Σ_c dO_ic·O_ic
    let D = 0;
    for (let c = 0; c < dv; c++) D += a.gradOut[doi + c] * a.out[oi + c];
    for (let j = 0; j < tk; j++) {
      if (masked(mask, i, j)) {
        p[j] = 0;
        ds[j] = 0;
        continue;
      }
      // P_ij = exp(s_ij − L_i), s_ij = q_i·k_j·scale + b_ij
      let s = 0;
      for (let c = 0; c < dk; c++) s += q[qi + c] * k[a.kOffset + j * dk + c];
      s *= scale;
      if (bias) s += bias.data[bias.offset + i * bias.rowStride + j * bias.colStride];
      p[j] = Math.exp(s - L);
      // dP_ij = M_ij·(dO_i·v_j); dS_ij = P_ij·(dP_ij − D_i)
      let dp = 0;
      for (let c = 0; c < dv; c++) dp += a.gradOut[doi + c] * v[a.vOffset + j * dv + c];
      ds[j] = p[j] === 0 ? 0 : p[j] * (dp * m[j] - D);
    }
    for (let j = 0; j < tk; j++) {
      if (p[j] === 0) continue; // a key this query does not see gets nothing from it
      // dV_j += P_ij·M_ij·dO_i
      if (gradV) {
        const w = p[j] * m[j];
        for (let c = 0; c < dv; c++) gradV[a.gradVOffset + j * dv + c] += w * a.gradOut[doi + c];
      }
      // dQ_i += dS_ij·k_j·scale; dK_j += dS_ij·q_i·scale
      const g = ds[j] * scale;
      if (gradQ) {
        for (let c = 0; c < dk; c++) {
          gradQ[a.gradQOffset + i * dk + c] += g * k[a.kOffset + j * dk + c];
        }
      }
      if (gradK) {
        for (let c = 0; c < dk; c++) gradK[a.gradKOffset + j * dk + c] += g * q[qi + c];
      }
      // dB_ij += dS_ij
      if (gradBias) {
        gradBias.data[gradBias.offset + i * gradBias.rowStride + j * gradBias.colStride] += ds[j];
      }
    }
  }
}

/** Reused scratch of the blocked path: P, dP and P∘M blocks, dropout multipliers, D. */
let scratch = new Float32Array(0);

/**
 * The fast path: query-row blocks × key blocks, each through the gemm kernel
 * (transposeA / transposeB / accumulate), so the work runs in WebAssembly SIMD
 * (threaded for large blocks) and memory beyond the operands is
 * O(blockRows·blockKeys). Blocks that the mask hides entirely, and row blocks
 * whose queries all saw nothing, are skipped.
 *
 * @example A fully masked row gets no gradient
 * ```ts
 * import { attentionBackwardBlocked } from "./attention_backward.ts";
 * import assert from "node:assert/strict";
 * const gradQ = Float32Array.of(0), gradK = new Float32Array(2);
 * attentionBackwardBlocked({ q: Float32Array.of(1), qOffset: 0, k: Float32Array.of(1, 2),
 *   kOffset: 0, v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1,
 *   mask: { data: Uint8Array.of(0, 0), offset: 0, rowStride: 2, colStride: 1 }, bias: null,
 *   out: Float32Array.of(0), outOffset: 0, lse: Float32Array.of(-Infinity), lseOffset: 0,
 *   gradOut: Float32Array.of(1), gradOutOffset: 0, dropout: 0, dropoutKey: null, gradQ,
 *   gradQOffset: 0, gradK, gradKOffset: 0, gradV: null, gradVOffset: 0, gradBias: null });
 * assert.deepEqual([...gradQ, ...gradK], [0, 0, 0]);
 * ```
 */
export function attentionBackwardBlocked(a: AttentionBackwardArgs): void {
  const { tq, tk, dk, dv, scale, mask, bias, gradQ, gradK, gradV, gradBias } = a;
  const bc = Math.max(1, Math.min(a.blockKeys ?? tk, tk));
  // by default as many rows as keep a [rows, keys] block near 2^18 floats (1 MiB): fewer,
  // larger products, which the gemm kernel splits across threads
  const br = Math.max(1, Math.min(a.blockRows ?? Math.max(64, (1 << 18) / bc | 0), tq));
  // K' and V': a non-finite value of a key no query sees must not reach a gradient through 0·NaN
  const hides = mask !== null || bias !== null;
  const kFinite = !hides || valuesFinite(a.k, a.kOffset, tk * dk);
  const vFinite = !hides || valuesFinite(a.v, a.vOffset, tk * dv);
  const k = kFinite ? a.k : finiteCopy(a.k, a.kOffset, tk * dk);
  const kOffset = kFinite ? a.kOffset : 0;
  const v = vFinite ? a.v : finiteCopy(a.v, a.vOffset, tk * dv);
  const vOffset = vFinite ? a.vOffset : 0;
  const dropping = a.dropout > 0 && a.dropoutKey !== null;
  const need = (dropping ? 4 : 2) * br * bc + br;
  if (scratch.length < need) scratch = new Float32Array(need);
  const P = scratch.subarray(0, br * bc); // [rows, cols]
  const dS = scratch.subarray(br * bc, 2 * br * bc); // [rows, cols]: dP, then dS·scale
  const PM = dropping ? scratch.subarray(2 * br * bc, 3 * br * bc) : P; // P∘M
  const M = dropping ? scratch.subarray(3 * br * bc, 4 * br * bc) : null;
  const D = scratch.subarray(need - br, need);
  for (let i0 = 0; i0 < tq; i0 += br) {
    const rows = Math.min(br, tq - i0);
    let seen = false;
    for (let r = 0; r < rows; r++) {
      const L = a.lse[a.lseOffset + i0 + r];
      if (L !== -Infinity) seen = true;
      // D_i = Σ_c dO_ic·O_ic
      let s = 0;
      const doi = a.gradOutOffset + (i0 + r) * dv, oi = a.outOffset + (i0 + r) * dv;
      for (let c = 0; c < dv; c++) s += a.gradOut[doi + c] * a.out[oi + c];
      D[r] = s;
    }
    if (!seen) continue;
    for (let j0 = 0; j0 < tk; j0 += bc) {
      const cols = Math.min(bc, tk - j0);
      if (mask && tileBlocked(mask, i0, rows, j0, cols)) continue;
      // S [rows, cols] = Q[i0:] [rows, dk] · K[j0:]ᵀ [dk, cols]
      gemm({
        a: a.q,
        aOffset: a.qOffset + i0 * dk,
        b: k,
        bOffset: kOffset + j0 * dk,
        c: P,
        cOffset: 0,
        m: rows,
        k: dk,
        n: cols,
        transposeB: true,
      });
      // dP' [rows, cols] = dO[i0:] [rows, dv] · V[j0:]ᵀ [dv, cols]
      gemm({
        a: a.gradOut,
        aOffset: a.gradOutOffset + i0 * dv,
        b: v,
        bOffset: vOffset + j0 * dv,
        c: dS,
        cOffset: 0,
        m: rows,
        k: dv,
        n: cols,
        transposeB: true,
      });
      for (let r = 0; r < rows; r++) {
        const i = i0 + r, L = a.lse[a.lseOffset + i], o = r * cols, Di = D[r];
        if (L === -Infinity) {
          // a row that saw nothing: P = 0 and dS = 0 (never exp(-∞ + ∞))
          P.fill(0, o, o + cols);
          if (M) PM.fill(0, o, o + cols);
          dS.fill(0, o, o + cols);
          continue;
        }
        if (M) dropoutRow(a, i, j0, cols, M, o);
        const mAt = mask ? mask.offset + i * mask.rowStride + j0 * mask.colStride : 0;
        const bAt = bias ? bias.offset + i * bias.rowStride + j0 * bias.colStride : 0;
        const gAt = gradBias
          ? gradBias.offset + i * gradBias.rowStride + j0 * gradBias.colStride
          : 0;
        for (let c = 0; c < cols; c++) {
          // P_ij = exp(s_ij − L_i); 0 for a masked key
          let p = 0;
          if (mask === null || mask.data[mAt + c * mask.colStride] !== 0) {
            let s = P[o + c] * scale;
            if (bias) s += bias.data[bAt + c * bias.colStride];
            p = Math.exp(s - L);
          }
          P[o + c] = p;
          // dS_ij = P_ij·(M_ij·dP'_ij − D_i)
          let ds = 0;
          if (M) {
            const m = M[o + c];
            PM[o + c] = p * m;
            if (p !== 0) ds = p * (dS[o + c] * m - Di);
          } else if (p !== 0) ds = p * (dS[o + c] - Di);
          if (gradBias) gradBias.data[gAt + c * gradBias.colStride] += ds;
          dS[o + c] = ds * scale;
        }
      }
      // dV[j0:] [cols, dv] += (P∘M)ᵀ [cols, rows] · dO[i0:] [rows, dv]
      if (gradV) {
        gemm({
          a: PM,
          aOffset: 0,
          b: a.gradOut,
          bOffset: a.gradOutOffset + i0 * dv,
          c: gradV,
          cOffset: a.gradVOffset + j0 * dv,
          m: cols,
          k: rows,
          n: dv,
          transposeA: true,
          transposeB: false,
          accumulate: true,
        });
      }
      // dQ[i0:] [rows, dk] += dS·scale [rows, cols] · K[j0:] [cols, dk]
      if (gradQ) {
        gemm({
          a: dS,
          aOffset: 0,
          b: k,
          bOffset: kOffset + j0 * dk,
          c: gradQ,
          cOffset: a.gradQOffset + i0 * dk,
          m: rows,
          k: cols,
          n: dk,
          transposeB: false,
          accumulate: true,
        });
      }
      // dK[j0:] [cols, dk] += (dS·scale)ᵀ [cols, rows] · Q[i0:] [rows, dk]
      if (gradK) {
        gemm({
          a: dS,
          aOffset: 0,
          b: a.q,
          bOffset: a.qOffset + i0 * dk,
          c: gradK,
          cOffset: a.gradKOffset + j0 * dk,
          m: cols,
          k: rows,
          n: dk,
          transposeA: true,
          transposeB: false,
          accumulate: true,
        });
      }
    }
  }
}
