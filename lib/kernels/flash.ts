/**
 * Tiled attention with an online softmax (FlashAttention, Dao et al. 2022):
 * queries and keys are visited in blocks, each query row keeps a running
 * maximum m and sum l, and the `[Tq, Tk]` score matrix is never built; the
 * memory beyond the inputs and output is O(blockSize·(blockSize + Dv)).
 *
 * For a key block with scores s (scaled, biased, masked to -∞):
 *
 * $$m' = \max(m, \max_j s_j),\quad l' = e^{m - m'} l + \sum_j e^{s_j - m'},\quad
 * O' = e^{m - m'} O + \sum_j e^{s_j - m'} v_j$$
 *
 * and finally output = O / l (0 for a fully masked row, never NaN).
 *
 * @module
 */

import { type AttentionInputs, masked, tileBlocked } from "./attention_inputs.ts";
import { addHiddenValues, finiteCopy, valuesFinite } from "./hidden_values.ts";
import { gemm } from "./matmul.ts";
import { runKernel } from "./registry.ts";
import { hasNaN } from "./softmax.ts";
import "./kernel_table.ts";

/** Arguments of {@link flashAttentionKernel}: the attention inputs plus the tile size. */
export interface FlashAttentionArgs extends AttentionInputs {
  /** Rows of Q and of K per tile. */
  blockSize: number;
  /**
   * When set, receives each query row's log-sum-exp L_i = m_i + log l_i (`[tq]`
   * at lseOffset; -∞ for a fully masked row) for the backward pass
   * (`attention_backward.ts`); the JavaScript loop writes it.
   */
  lse?: Float32Array | null;
  lseOffset?: number;
}

/** Reused scratch: scores tile, P·V tile, running output, max and sum. */
let scratch = new Float32Array(0);

/**
 * Attention for one batch element without materialising the scores: the
 * result equals `attentionKernel`'s output within float32 rounding. Runs the
 * WebAssembly kernel (`flash_rows`: online softmax in SIMD, query blocks
 * split across threads) unless a bias or a strided mask needs
 * {@link flashAttentionJs}. Tiles whose
 * keys are all masked for every query of the block (a causal mask's upper
 * triangle) are skipped before any arithmetic. Logits of `+Infinity` are not
 * supported (they give NaN); finite logits of any size are fine, and a NaN
 * logit a query can see makes its output NaN. A NaN or ±∞ value reaches only
 * the queries allowed to attend to its key (`hidden_values.ts`).
 *
 * @example Two keys, equal scores: the mean of the values
 * ```ts
 * import { flashAttentionKernel } from "./flash.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(1);
 * flashAttentionKernel({ q: Float32Array.of(0), qOffset: 0, k: Float32Array.of(0, 0),
 *   kOffset: 0, v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1,
 *   mask: null, bias: null, out, outOffset: 0, blockSize: 1 });
 * assert.deepEqual([...out], [2]);
 * ```
 */
export function flashAttentionKernel(a: FlashAttentionArgs): void {
  // the kernel table picks flash_rows (WebAssembly) or flashAttentionJs (kernel_table.ts)
  runKernel("flashAttention", a);
}

/**
 * The JavaScript FlashAttention loop (any bias or mask layout; the oracle
 * for the WebAssembly kernel's online softmax).
 *
 * @example Same as the fast kernel
 * ```ts
 * import { flashAttentionJs } from "./flash.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(1);
 * flashAttentionJs({ q: Float32Array.of(0), qOffset: 0, k: Float32Array.of(0, 0),
 *   kOffset: 0, v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1,
 *   mask: null, bias: null, out, outOffset: 0, blockSize: 1 });
 * assert.deepEqual([...out], [2]);
 * ```
 */
export function flashAttentionJs(a: FlashAttentionArgs): void {
  const { tq, tk, dk, dv, scale, mask, bias, out, outOffset } = a;
  // V' = V with non-finite values as 0; those are added at the end for the queries allowed
  // to see them, from each row's final maximum and sum (hidden_values.ts)
  const finite = mask === null || valuesFinite(a.v, a.vOffset, tk * dv);
  const v = finite ? a.v : finiteCopy(a.v, a.vOffset, tk * dv), vOffset = finite ? a.vOffset : 0;
  const mAll = finite ? null : new Float64Array(tq), lAll = finite ? null : new Float64Array(tq);
  const B = a.blockSize;
  const bq = Math.min(B, tq), bk = Math.min(B, tk);
  const need = bq * bk + 2 * bq * dv + 2 * bq;
  if (scratch.length < need) scratch = new Float32Array(need);
  const s = scratch.subarray(0, bq * bk); // [rows, cols] scores, then P
  const pv = scratch.subarray(bq * bk, bq * bk + bq * dv); // [rows, dv]
  const acc = scratch.subarray(bq * bk + bq * dv, bq * bk + 2 * bq * dv); // [rows, dv]
  const mRun = scratch.subarray(bq * bk + 2 * bq * dv, bq * bk + 2 * bq * dv + bq);
  const lRun = scratch.subarray(bq * bk + 2 * bq * dv + bq, need);
  for (let i0 = 0; i0 < tq; i0 += B) {
    const rows = Math.min(B, tq - i0);
    mRun.fill(-Infinity);
    lRun.fill(0);
    acc.fill(0);
    for (let j0 = 0; j0 < tk; j0 += B) {
      const cols = Math.min(B, tk - j0);
      if (mask && tileBlocked(mask, i0, rows, j0, cols)) continue;
      // 1) S [rows, cols] = Q[i0:] [rows, dk] · K[j0:]ᵀ [dk, cols]
      gemm({
        a: a.q,
        aOffset: a.qOffset + i0 * dk,
        b: a.k,
        bOffset: a.kOffset + j0 * dk,
        c: s,
        cOffset: 0,
        m: rows,
        k: dk,
        n: cols,
        transposeB: true,
      });
      // 2) scale, bias, mask; online softmax update per row
      for (let r = 0; r < rows; r++) {
        const i = i0 + r, o = r * cols;
        let max = -Infinity;
        for (let c = 0; c < cols; c++) {
          const j = j0 + c;
          let x = s[o + c] * scale;
          if (bias) x += bias.data[bias.offset + i * bias.rowStride + j * bias.colStride];
          if (masked(mask, i, j)) {
            x = -Infinity;
          }
          s[o + c] = x;
          if (x > max) max = x;
        }
        const mOld = mRun[r];
        const mNew = mOld > max ? mOld : max;
        if (mNew === -Infinity) {
          // nothing visible yet in this row, unless a NaN the maximum skipped: then p and l
          // carry NaN to the output
          if (hasNaN(s, o, cols)) {
            s.fill(NaN, o, o + cols);
            lRun[r] = NaN;
          } else s.fill(0, o, o + cols);
          continue;
        }
        let sum = 0;
        for (let c = 0; c < cols; c++) {
          const e = Math.exp(s[o + c] - mNew);
          s[o + c] = e;
          sum += e;
        }
        const alpha = Math.exp(mOld - mNew); // 0 when mOld is -∞
        lRun[r] = lRun[r] * alpha + sum;
        mRun[r] = mNew;
        if (alpha !== 1) {
          for (let d = r * dv, end = d + dv; d < end; d++) acc[d] *= alpha;
        }
      }
      // 3) PV [rows, dv] = P [rows, cols] · V[j0:] [cols, dv]; O += PV
      gemm({
        a: s,
        aOffset: 0,
        b: v,
        bOffset: vOffset + j0 * dv,
        c: pv,
        cOffset: 0,
        m: rows,
        k: cols,
        n: dv,
        transposeB: false,
      });
      for (let d = 0, end = rows * dv; d < end; d++) acc[d] += pv[d];
    }
    // 4) output = O / l; a row that saw no key stays 0, a NaN stays NaN
    for (let r = 0; r < rows; r++) {
      const inv = lRun[r] === 0 ? 0 : 1 / lRun[r];
      const o = outOffset + (i0 + r) * dv;
      for (let d = 0; d < dv; d++) out[o + d] = acc[r * dv + d] * inv;
      if (a.lse) {
        a.lse[(a.lseOffset ?? 0) + i0 + r] = lRun[r] === 0
          ? -Infinity
          : mRun[r] + Math.log(lRun[r]);
      }
      if (mAll && lAll) {
        mAll[i0 + r] = mRun[r];
        lAll[i0 + r] = lRun[r];
      }
    }
  }
  if (mAll && lAll) {
    addHiddenValues({
      v: a.v,
      vOffset: a.vOffset,
      tq,
      tk,
      dv,
      mask,
      weight: (i, j) => {
        let s = 0;
        for (let c = 0; c < dk; c++) s += a.q[a.qOffset + i * dk + c] * a.k[a.kOffset + j * dk + c];
        s *= scale;
        if (bias) s += bias.data[bias.offset + i * bias.rowStride + j * bias.colStride];
        return Math.exp(s - mAll[i]) / lAll[i];
      },
      out,
      outAt: outOffset,
      ldo: dv,
    });
  }
}
