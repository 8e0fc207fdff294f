/**
 * Attention on raw buffers: scores = Q·Kᵀ·scale + bias, masked entries set to
 * -∞, row softmax, optional dropout, then output = weights·V, for one problem
 * ({@link attentionKernel}: one batch element and head) or many at once
 * ({@link attentionKernels}, which `lib/attention/scaled_dot_product.ts` calls
 * after validating shapes and broadcasting). Three paths give the same answer:
 * the JavaScript steps of {@link attentionReference} (with the fast `gemm`) for
 * tiny problems, and the WebAssembly SIMD kernels of `simd.ts` on one thread or
 * several. A NaN a query can see reaches its output; a value it may not attend
 * to never does, NaN and ±∞ included (`hidden_values.ts`). Query rows go in
 * chunks whose scores fit {@link attentionScratchBytes}, so the output-only call
 * (weights null) never holds a `[Tq, Tk]` matrix.
 *
 * @module
 */

import { gemm, type GemmArgs, gemmReference } from "./matmul.ts";
import { type CounterKey, dropoutAt } from "./random.ts";
import { attentionWasm, attentionWasmBatch, type WasmAttentionProblem } from "./simd.ts";
import { runKernel } from "./registry.ts";
import "./kernel_table.ts";
import { softmaxRows, softmaxRowsReference } from "./softmax.ts";
import { type AttentionInputs, masked, type MatrixView } from "./attention_inputs.ts";
import { addHiddenValues, finiteCopy, valuesFinite } from "./hidden_values.ts";

export type { AttentionInputs, MatrixView } from "./attention_inputs.ts";

/** Arguments of {@link attentionKernel}: the inputs plus the weights it returns. */
export interface AttentionKernelArgs extends AttentionInputs {
  /** Receives the softmax weights `[tq, tk]` at weightsOffset; null when the caller does not need them. */
  weights: Float32Array | null;
  weightsOffset: number;
  /** When set, receives scores before masking and softmax: [tq, tk]. */
  scores: Float32Array | null;
  scoresOffset: number;
  /** Drop probability; kept weights are scaled by 1/(1-p). */
  dropout: number;
  /**
   * The counter-based key of attention dropout (null: none): weight (i, j) of
   * this problem is element `first + i·tk + j` of call `call` of stream `key`
   * (`kernels/random.ts`), so the mask does not depend on the path, the thread
   * count or the order of the problems, and can be drawn again. No user code
   * runs during a kernel.
   */
  dropoutKey: DropoutKey | null;
  /**
   * When set, receives each query row's log-sum-exp of its scaled, biased,
   * masked scores, L_i = m_i + log Σ_j exp(s_ij − m_i) (`[tq]` at lseOffset;
   * -∞ for a fully masked row): all the backward pass needs to recompute the
   * softmax (`attention_backward.ts`). Absent or null: not computed. The
   * JavaScript steps compute it from the scores; the fused WebAssembly paths
   * (threads included), when they also return the weights, from those:
   * L_i = s_ij − log P_ij at the row's largest weight (see {@link lseFromWeights}).
   */
  lse?: Float32Array | null;
  lseOffset?: number;
}

/** Which numbers attention dropout draws: a {@link CounterKey} and the index of the problem's first weight. */
export interface DropoutKey extends CounterKey {
  /** Stream index of weight (0, 0) of this problem (e.g. problem t of a call: t·tq·tk). */
  readonly first: number;
}

/**
 * Computes one attention problem into `out` and `weights`: the WebAssembly SIMD
 * path (`simd.ts`: Kᵀ packed once, masked tiles past each row block's last
 * allowed key skipped, fused scale + mask + softmax) for real sizes, the
 * JavaScript steps of {@link attentionReference} (with the fast `gemm`) otherwise.
 * Query rows go in chunks of at most {@link attentionScratchBytes} of scores
 * (each row's arithmetic is its own, so the result is the unchunked one bit for
 * bit; dropout draws in the same row-major order). K and V, copied and packed
 * into the WebAssembly arena (about 8·tk·(dk + dv) bytes), must fit its 2 GiB:
 * larger calls get a RangeError before anything is allocated.
 *
 * @example One query, two keys
 * ```ts
 * import { attentionKernel } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(1), weights = new Float32Array(2);
 * attentionKernel({ q: Float32Array.of(0), qOffset: 0, k: Float32Array.of(0, 0), kOffset: 0,
 *   v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1, mask: null,
 *   bias: null, out, outOffset: 0, weights, weightsOffset: 0, scores: null, scoresOffset: 0,
 *   dropout: 0, dropoutKey: null });
 * assert.deepEqual([...out], [2]);
 * ```
 */
export function attentionKernel(a: AttentionKernelArgs): void {
  // the kernel table picks one path for the whole problem (kernel_table.ts); it runs chunk by chunk
  runKernel("attention", a);
}

/** Runs `chunk` on each chunk of query rows of `a` that fits {@link attentionScratchBytes}. */
function inChunks(a: AttentionKernelArgs, chunk: (c: AttentionKernelArgs) => void): void {
  const rows = chunkRows(a.tk);
  if (rows >= a.tq) {
    chunk(a);
    return;
  }
  for (let r0 = 0; r0 < a.tq; r0 += rows) chunk(rowRange(a, r0, Math.min(rows, a.tq - r0)));
}

/**
 * The JavaScript steps of {@link attentionReference} with the fast `gemm` and
 * the softmax kernel picked for the whole problem's size, chunk by chunk.
 *
 * @example One query, two keys
 * ```ts
 * import { attentionJs } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const out = new Float32Array(1);
 * attentionJs({ q: Float32Array.of(0), qOffset: 0, k: Float32Array.of(0, 0), kOffset: 0,
 *   v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2, dk: 1, dv: 1, scale: 1, mask: null,
 *   bias: null, out, outOffset: 0, weights: null, weightsOffset: 0, scores: null,
 *   scoresOffset: 0, dropout: 0, dropoutKey: null });
 * assert.deepEqual([...out], [2]);
 * ```
 */
export function attentionJs(a: AttentionKernelArgs): void {
  const size = a.tq * a.tk;
  inChunks(
    a,
    (c) =>
      attentionSteps(withWeights(c), gemm, (x, o, r, cols) => softmaxRows(x, o, r, cols, size)),
  );
}

/**
 * The WebAssembly SIMD path of {@link attentionKernel} (`simd.ts`: Kᵀ packed
 * once, masked tiles past each row block's last allowed key skipped, fused
 * scale + mask + softmax), chunk by chunk; bias, raw scores, a strided mask
 * and dropout run in JavaScript hooks on the scores. Needs `wasmReady()`.
 *
 * @example Same as the JavaScript steps
 * ```ts
 * import { attentionJs, attentionWasmPath } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const args = (out: Float32Array) => ({ q: Float32Array.of(0), qOffset: 0,
 *   k: Float32Array.of(0, 0), kOffset: 0, v: Float32Array.of(1, 3), vOffset: 0, tq: 1, tk: 2,
 *   dk: 1, dv: 1, scale: 1, mask: null, bias: null, out, outOffset: 0, weights: null,
 *   weightsOffset: 0, scores: null, scoresOffset: 0, dropout: 0, dropoutKey: null });
 * const wasm = new Float32Array(1), js = new Float32Array(1);
 * attentionWasmPath(args(wasm));
 * attentionJs(args(js));
 * assert.deepEqual(wasm, js);
 * ```
 */
export function attentionWasmPath(a: AttentionKernelArgs): void {
  inChunks(a, attentionWasmChunk);
}

/** Default of {@link attentionScratchBytes}: 16 MiB, a 2048 × 2048 score matrix in one piece. */
const ATTENTION_SCRATCH_BYTES = 1 << 24;
let scratchBytes = ATTENTION_SCRATCH_BYTES;

/**
 * Bytes of scores one attention call holds at a time (16 MiB unless
 * {@link setAttentionScratchBytes} changed it): rows beyond go in further chunks.
 *
 * @example
 * ```ts
 * import { attentionScratchBytes } from "./attention.ts";
 * import assert from "node:assert/strict";
 * assert.ok(attentionScratchBytes() >= 64 * 16);
 * ```
 */
export function attentionScratchBytes(): number {
  return scratchBytes;
}

/**
 * Sets {@link attentionScratchBytes} (tests of the chunking; no argument
 * restores the default). Results do not depend on it.
 *
 * @example Chunks of 16 rows give the same numbers
 * ```ts
 * import { attentionKernel, setAttentionScratchBytes } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const n = 64, d = 8, x = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i));
 * const run = () => {
 *   const out = new Float32Array(n * d);
 *   attentionKernel({ q: x, qOffset: 0, k: x, kOffset: 0, v: x, vOffset: 0, tq: n, tk: n,
 *     dk: d, dv: d, scale: 0.3, mask: null, bias: null, out, outOffset: 0, weights: null,
 *     weightsOffset: 0, scores: null, scoresOffset: 0, dropout: 0, dropoutKey: null });
 *   return out;
 * };
 * const whole = run();
 * setAttentionScratchBytes(16 * n * 4);
 * const chunked = run();
 * setAttentionScratchBytes();
 * assert.deepEqual(chunked, whole);
 * ```
 */
export function setAttentionScratchBytes(bytes = ATTENTION_SCRATCH_BYTES): void {
  if (!(bytes > 0)) {
    throw new RangeError(`setAttentionScratchBytes: bytes must be positive, got ${bytes}`);
  }
  scratchBytes = bytes;
}

/** Query rows per chunk for `tk` keys: a multiple of 16 (the kernels' row chunk), at least 16. */
function chunkRows(tk: number): number {
  const rows = Math.floor(scratchBytes / (4 * Math.max(1, Math.ceil(tk / 8) * 8)));
  return Math.max(16, rows - (rows % 16));
}

/** Rows [r0, r0 + rows) of problem `a`: the same keys and values, its queries' slices. */
function rowRange(a: AttentionKernelArgs, r0: number, rows: number): AttentionKernelArgs {
  const { tk, dk, dv, mask, bias } = a;
  return {
    ...a,
    tq: rows,
    qOffset: a.qOffset + r0 * dk,
    outOffset: a.outOffset + r0 * dv,
    weightsOffset: a.weights ? a.weightsOffset + r0 * tk : 0,
    scoresOffset: a.scores ? a.scoresOffset + r0 * tk : 0,
    mask: mask && { ...mask, offset: mask.offset + r0 * mask.rowStride },
    bias: bias && { ...bias, offset: bias.offset + r0 * bias.rowStride },
    // the chunk's weights are elements r0·tk … of the problem's dropout stream
    dropoutKey: a.dropoutKey && { ...a.dropoutKey, first: a.dropoutKey.first + r0 * tk },
    lseOffset: a.lse ? (a.lseOffset ?? 0) + r0 : 0,
  };
}

/** One chunk of {@link attentionWasmPath}. */
function attentionWasmChunk(a: AttentionKernelArgs): void {
  const { tk, mask } = a;
  // the kernel reads the mask itself when its key axis is contiguous
  const plainMask = mask !== null && contiguous(mask, tk);
  const needJs = a.bias !== null || a.scores !== null || (mask !== null && !plainMask) ||
    lseNeedsHook(a);
  attentionWasm({
    ...wasmOperands(a, plainMask && !needJs ? mask : null),
    prepare: needJs ? (buf, at, ld) => prepareScores(a, buf, at, ld) : null,
    after: a.dropout > 0 && a.dropoutKey ? (buf, at, ld) => applyDropout(a, buf, at, ld) : null,
    hookMask: mask,
  });
  if (a.lse && !needJs) lseFromWeights(a);
}

/**
 * True when the row log-sum-exp of `a` must come from the scores (a JavaScript
 * hook): it is asked for, and there are no weights to read it from, or they
 * are dropped out.
 */
export function lseNeedsHook(a: AttentionKernelArgs): boolean {
  return (a.lse ?? null) !== null &&
    (a.weights === null || (a.dropout > 0 && a.dropoutKey !== null));
}

/**
 * Fills `a.lse` from the softmax weights the kernel returned: P_ij = exp(s_ij − L_i)
 * gives L_i = s_ij − log P_ij for any key j the row sees; the row's largest
 * weight (at least 1/tk, so its float32 log is good to about 1e-7) and its
 * score q_i·k_j·scale, recomputed in float64, are used. A row of zeros (fully
 * masked) gets -∞; a row with a NaN, NaN. Needs weights without dropout or bias.
 */
export function lseFromWeights(a: AttentionKernelArgs): void {
  const { tq, tk, dk, weights } = a;
  const lse = a.lse!, lo = a.lseOffset ?? 0;
  for (let i = 0; i < tq; i++) {
    const row = a.weightsOffset + i * tk;
    let best = 0, at = -1, nan = false;
    for (let j = 0; j < tk; j++) {
      const p = weights![row + j];
      if (p > best) {
        best = p;
        at = j;
      } else if (p !== p) nan = true;
    }
    if (nan) lse[lo + i] = NaN;
    else if (at < 0) lse[lo + i] = -Infinity;
    else {
      let s = 0;
      const qi = a.qOffset + i * dk, kj = a.kOffset + at * dk;
      for (let c = 0; c < dk; c++) s += a.q[qi + c] * a.k[kj + c];
      lse[lo + i] = s * a.scale - Math.log(best);
    }
  }
}

/** A mask the WebAssembly kernels read directly: key axis contiguous, one row or Tq rows. */
export function contiguous(mask: MatrixView<Uint8Array>, tk: number): boolean {
  return mask.colStride === 1 && (mask.rowStride === 0 || mask.rowStride === tk);
}

/** The operands of `a` as the WebAssembly drivers take them, with `mask` (contiguous, or null). */
function wasmOperands(
  a: AttentionKernelArgs,
  mask: MatrixView<Uint8Array> | null,
): WasmAttentionProblem {
  return {
    q: a.q,
    qOffset: a.qOffset,
    k: a.k,
    kOffset: a.kOffset,
    v: a.v,
    vOffset: a.vOffset,
    tq: a.tq,
    tk: a.tk,
    dk: a.dk,
    dv: a.dv,
    scale: a.scale,
    mask,
    out: a.out,
    outOffset: a.outOffset,
    weights: a.weights,
    weightsOffset: a.weightsOffset,
  };
}

/**
 * Computes several attention problems (the batch elements and heads of one
 * call): when they all take the plain WebAssembly path (real sizes; no bias,
 * raw scores or dropout; a mask with a contiguous key axis), in one parallel
 * call (`attentionWasmBatch` in `simd.ts`: (problem, row chunk) units shared by
 * the threads); otherwise one {@link attentionKernel} call each. Same results
 * as calling {@link attentionKernel} on each problem.
 *
 * @example Two heads at once
 * ```ts
 * import { attentionKernel, attentionKernels } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const n = 64, d = 16;
 * const q = Float32Array.from({ length: 2 * n * d }, (_, i) => Math.sin(i));
 * const args = (out: Float32Array, h: number) => ({ q, qOffset: h * n * d, k: q,
 *   kOffset: h * n * d, v: q, vOffset: h * n * d, tq: n, tk: n, dk: d, dv: d, scale: 0.25,
 *   mask: null, bias: null, out, outOffset: h * n * d, weights: null, weightsOffset: 0,
 *   scores: null, scoresOffset: 0, dropout: 0, dropoutKey: null });
 * const both = new Float32Array(2 * n * d), one = new Float32Array(2 * n * d);
 * attentionKernels([args(both, 0), args(both, 1)]);
 * attentionKernel(args(one, 0));
 * attentionKernel(args(one, 1));
 * assert.deepEqual(both, one);
 * ```
 */
export function attentionKernels(list: readonly AttentionKernelArgs[]): void {
  // the kernel table picks one batched WebAssembly call or one attentionKernel each
  runKernel("attentionBatch", list);
}

/**
 * All of `list` in one `attentionWasmBatch` call; needs {@link attentionBatchable}
 * and `wasmReady()`.
 */
export function attentionBatchWasm(list: readonly AttentionKernelArgs[]): void {
  attentionWasmBatch(list.map((a) => wasmOperands(a, a.mask)));
  for (const a of list) if (a.lse) lseFromWeights(a);
}

/**
 * True when every problem of `list` can share one `attentionWasmBatch` call:
 * no bias, raw scores or dropout, a mask with a contiguous key axis, the sizes,
 * scale and mask layout of the first, and scores that fit one chunk.
 */
export function attentionBatchable(list: readonly AttentionKernelArgs[]): boolean {
  const first = list[0];
  return chunkRows(first.tk) >= first.tq && list.every((a) => {
    const { tq, tk, dk, dv, mask } = a;
    const plainMask = mask === null || contiguous(mask, tk);
    return plainMask && a.bias === null && a.scores === null && !(a.dropout > 0 && a.dropoutKey) &&
      !lseNeedsHook(a) &&
      tq === first.tq && tk === first.tk && dk === first.dk && dv === first.dv &&
      a.scale === first.scale && (mask === null) === (first.mask === null) &&
      (mask === null || mask.rowStride === first.mask!.rowStride);
  });
}

/**
 * The readable reference, the oracle for the fast paths: (1) scores with
 * {@link gemmReference}; (2) scale, bias, mask; (3) {@link softmaxRowsReference};
 * (4) dropout; (5) weights·V.
 *
 * @example Agrees with the fast kernel
 * ```ts
 * import { attentionKernel, attentionReference } from "./attention.ts";
 * import assert from "node:assert/strict";
 * const args = (out: Float32Array) => ({ q: Float32Array.of(1, 2), qOffset: 0,
 *   k: Float32Array.of(1, 0, 0, 1), kOffset: 0, v: Float32Array.of(1, 3), vOffset: 0,
 *   tq: 1, tk: 2, dk: 2, dv: 1, scale: 1, mask: null, bias: null, out, outOffset: 0,
 *   weights: new Float32Array(2), weightsOffset: 0, scores: null, scoresOffset: 0,
 *   dropout: 0, dropoutKey: null });
 * const fast = new Float32Array(1), ref = new Float32Array(1);
 * attentionKernel(args(fast));
 * attentionReference(args(ref));
 * assert.ok(Math.abs(fast[0] - ref[0]) < 1e-6);
 * ```
 */
export function attentionReference(a: AttentionKernelArgs): void {
  attentionSteps(withWeights(a), gemmReference, softmaxRowsReference);
}

/** The JavaScript steps keep the weights between the two products: scratch when the caller passed none. */
function withWeights(a: AttentionKernelArgs): AttentionKernelArgs & { weights: Float32Array } {
  return a.weights ? a as AttentionKernelArgs & { weights: Float32Array } : {
    ...a,
    weights: new Float32Array(a.tq * a.tk),
    weightsOffset: 0,
  };
}

function attentionSteps(
  a: AttentionKernelArgs & { weights: Float32Array },
  mm: (g: GemmArgs) => void,
  softmax: (x: Float32Array, offset: number, rows: number, cols: number) => void,
): void {
  const { tq, tk, dk, dv, weights, weightsOffset: wo } = a;
  // 1) scores [tq, tk] = Q [tq, dk] · Kᵀ [dk, tk]
  mm({
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
  prepareScores(a, weights, wo, tk);
  // 3) softmax per query row; a fully masked row becomes zeros, a row with a NaN NaN
  softmax(weights, wo, tq, tk);
  // 4) inverted dropout on the weights (training only)
  if (a.dropout > 0 && a.dropoutKey) applyDropout(a, weights, wo, tk);
  // 5) output [tq, dv] = weights [tq, tk] · V' [tk, dv], V' = V with non-finite values as 0;
  //    those reach only the queries allowed to see them
  const finite = a.mask === null || valuesFinite(a.v, a.vOffset, tk * dv);
  mm({
    a: weights,
    aOffset: wo,
    b: finite ? a.v : finiteCopy(a.v, a.vOffset, tk * dv),
    bOffset: finite ? a.vOffset : 0,
    c: a.out,
    cOffset: a.outOffset,
    m: tq,
    k: tk,
    n: dv,
    transposeB: false,
  });
  if (!finite) {
    addHiddenValues({
      v: a.v,
      vOffset: a.vOffset,
      tq,
      tk,
      dv,
      mask: a.mask,
      weight: (i, j) => weights[wo + i * tk + j],
      out: a.out,
      outAt: a.outOffset,
      ldo: dv,
    });
  }
}

/**
 * Scores (row stride ld at `at`) -> scale, + bias, record raw scores, mask with -∞;
 * then each row's log-sum-exp when `a.lse` asks for it.
 */
function prepareScores(
  a: AttentionKernelArgs,
  buf: Float32Array<ArrayBufferLike>,
  at: number,
  ld: number,
): void {
  const { tq, tk, mask, bias, scale, scores, lse } = a;
  for (let i = 0; i < tq; i++) {
    const row = at + i * ld;
    // the row's maximum and NaN flag as it goes, for the log-sum-exp
    let max = -Infinity, nan = false;
    for (let j = 0; j < tk; j++) {
      let s = buf[row + j] * scale;
      if (bias) s += bias.data[bias.offset + i * bias.rowStride + j * bias.colStride];
      if (scores) scores[a.scoresOffset + i * tk + j] = s;
      if (masked(mask, i, j)) {
        s = -Infinity;
      }
      buf[row + j] = s;
      if (s > max) max = s;
      else if (s !== s) nan = true;
    }
    if (lse) lse[(a.lseOffset ?? 0) + i] = nan ? NaN : logSumExp(buf, row, tk, max);
  }
}

/** log Σ exp(x) over `n` floats from `at` whose maximum is `max`: -∞ when all are -∞. */
function logSumExp(x: Float32Array<ArrayBufferLike>, at: number, n: number, max: number): number {
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(x[at + j] - max);
  return max + Math.log(sum);
}

/** Inverted dropout: weight (i, j) draws stream element `first + i·tk + j`, on every path. */
function applyDropout(
  a: AttentionKernelArgs,
  buf: Float32Array<ArrayBufferLike>,
  at: number,
  ld: number,
): void {
  const { key, call, first } = a.dropoutKey!;
  for (let i = 0; i < a.tq; i++) {
    const row = at + i * ld;
    dropoutAt(buf, row, buf, row, a.tk, a.dropout, key, call, first + i * a.tk);
  }
}
