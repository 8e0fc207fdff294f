/**
 * Matrix-multiply kernels on raw Float32Arrays. Not exported from the package:
 * `lib/tensor/matmul.ts` validates shapes and calls {@link gemm}.
 *
 * The reference loop is the oracle; fast paths must agree with it within float32
 * rounding (tests compare them on random and ragged shapes).
 *
 * @module
 */

import { gemmWasm, gemmWasmStacked, type StackedPart, stackParts, wasmReady } from "./simd.ts";

export type { StackedPart } from "./simd.ts";

/** One matrix product C = A·B (or A·Bᵀ) on sub-arrays of flat buffers. */
export interface GemmArgs {
  /** A, row-major `[m, k]` starting at `aOffset`. */
  a: Float32Array;
  aOffset: number;
  /** B, row-major `[k, n]`, or `[n, k]` when `transposeB`, starting at `bOffset`. */
  b: Float32Array;
  bOffset: number;
  /** C, row-major `[m, n]` starting at `cOffset`; overwritten. */
  c: Float32Array;
  cOffset: number;
  m: number;
  k: number;
  n: number;
  /** Read B as `[n, k]` and use its transpose. */
  transposeB: boolean;
  /** Optional `[n]` row added to every row of C (a Linear layer's bias), from `biasOffset`. */
  bias?: Float32Array | null;
  biasOffset?: number;
}

/**
 * The readable reference: one dot product per output, accumulated in float64.
 *
 * @example 2x2 product
 * ```ts
 * import { gemmReference } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const c = new Float32Array(4);
 * gemmReference({ a: Float32Array.of(1, 2, 3, 4), aOffset: 0, b: Float32Array.of(1, 0, 0, 1),
 *   bOffset: 0, c, cOffset: 0, m: 2, k: 2, n: 2, transposeB: false });
 * assert.deepEqual([...c], [1, 2, 3, 4]);
 * ```
 */
export function gemmReference(g: GemmArgs): void {
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, transposeB, bias } = g;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const bv = transposeB ? b[bOffset + j * k + p] : b[bOffset + p * n + j];
        s += a[aOffset + i * k + p] * bv;
      }
      // the product rounds to float32 first, then the bias is added (as every fast path does)
      c[cOffset + i * n + j] = s;
      if (bias) c[cOffset + i * n + j] += bias[(g.biasOffset ?? 0) + j];
    }
  }
}

/** Adds the optional bias row of `g` to every row of C (for the JavaScript kernels). */
function addBias(g: GemmArgs): void {
  const { bias, c, cOffset, m, n } = g;
  if (!bias) return;
  const bo = g.biasOffset ?? 0;
  for (let i = 0; i < m; i++) {
    const ci = cOffset + i * n;
    for (let j = 0; j < n; j++) c[ci + j] += bias[bo + j];
  }
}

/**
 * A cache-friendly JavaScript product: i-p-j loop order so the inner loop walks
 * B and C contiguously (B is used transposed through the dot-product form).
 */
export function gemmJs(g: GemmArgs): void {
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, transposeB } = g;
  if (transposeB) {
    // C[i, j] = sum_p A[i, p] * B[j, p]: two contiguous rows per output.
    for (let i = 0; i < m; i++) {
      const ai = aOffset + i * k;
      for (let j = 0; j < n; j++) {
        const bj = bOffset + j * k;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let p = 0;
        for (; p + 3 < k; p += 4) {
          s0 += a[ai + p] * b[bj + p];
          s1 += a[ai + p + 1] * b[bj + p + 1];
          s2 += a[ai + p + 2] * b[bj + p + 2];
          s3 += a[ai + p + 3] * b[bj + p + 3];
        }
        for (; p < k; p++) s0 += a[ai + p] * b[bj + p];
        c[cOffset + i * n + j] = (s0 + s1) + (s2 + s3);
      }
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const ci = cOffset + i * n;
    c.fill(0, ci, ci + n);
    const ai = aOffset + i * k;
    for (let p = 0; p < k; p++) {
      const av = a[ai + p];
      if (av === 0) continue;
      const bp = bOffset + p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
    }
  }
}

/** Reused scratch for {@link gemmPacked}: B packed in 4-column panels. */
let packScratch = new Float32Array(0);

/**
 * A packed, register-blocked JavaScript product, the fallback where WebAssembly
 * SIMD is missing: B (or Bᵀ, so K is transposed once) is packed into panels of
 * 4 columns, then each 4×4 tile of C is accumulated in 16 locals. The packing
 * buffer is reused across calls.
 *
 * @example Transposed B
 * ```ts
 * import { gemmPacked } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const c = new Float32Array(2);
 * // [1, 2] x [[1, 2], [3, 4]]ᵀ -> [5, 11]
 * gemmPacked({ a: Float32Array.of(1, 2), aOffset: 0, b: Float32Array.of(1, 2, 3, 4),
 *   bOffset: 0, c, cOffset: 0, m: 1, k: 2, n: 2, transposeB: true });
 * assert.deepEqual([...c], [5, 11]);
 * ```
 */
export function gemmPacked(g: GemmArgs): void {
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, transposeB } = g;
  const np = (n + 3) >> 2;
  if (packScratch.length < np * k * 4) packScratch = new Float32Array(np * k * 4);
  const bp = packScratch;
  // pack: panel j, row p holds B[p, 4j .. 4j+3] (zeros past n)
  for (let j = 0; j < np; j++) {
    for (let p = 0; p < k; p++) {
      const d = (j * k + p) * 4;
      for (let t = 0; t < 4; t++) {
        const col = j * 4 + t;
        bp[d + t] = col >= n ? 0 : transposeB ? b[bOffset + col * k + p] : b[bOffset + p * n + col];
      }
    }
  }
  for (let i = 0; i < m; i += 4) {
    // rows past m alias row i (computed, never stored)
    const a0 = aOffset + i * k;
    const a1 = i + 1 < m ? a0 + k : a0;
    const a2 = i + 2 < m ? a0 + 2 * k : a0;
    const a3 = i + 3 < m ? a0 + 3 * k : a0;
    for (let j = 0; j < np; j++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let d = j * k * 4;
      for (let p = 0; p < k; p++, d += 4) {
        const b0 = bp[d], b1 = bp[d + 1], b2 = bp[d + 2], b3 = bp[d + 3];
        const x0 = a[a0 + p], x1 = a[a1 + p], x2 = a[a2 + p], x3 = a[a3 + p];
        c00 += x0 * b0, c01 += x0 * b1, c02 += x0 * b2, c03 += x0 * b3;
        c10 += x1 * b0, c11 += x1 * b1, c12 += x1 * b2, c13 += x1 * b3;
        c20 += x2 * b0, c21 += x2 * b1, c22 += x2 * b2, c23 += x2 * b3;
        c30 += x3 * b0, c31 += x3 * b1, c32 += x3 * b2, c33 += x3 * b3;
      }
      const w = Math.min(4, n - j * 4);
      storeRow(c, cOffset + i * n + j * 4, w, c00, c01, c02, c03);
      if (i + 1 < m) storeRow(c, cOffset + (i + 1) * n + j * 4, w, c10, c11, c12, c13);
      if (i + 2 < m) storeRow(c, cOffset + (i + 2) * n + j * 4, w, c20, c21, c22, c23);
      if (i + 3 < m) storeRow(c, cOffset + (i + 3) * n + j * 4, w, c30, c31, c32, c33);
    }
  }
}

function storeRow(
  c: Float32Array,
  o: number,
  w: number,
  v0: number,
  v1: number,
  v2: number,
  v3: number,
): void {
  c[o] = v0;
  if (w > 1) c[o + 1] = v1;
  if (w > 2) c[o + 2] = v2;
  if (w > 3) c[o + 3] = v3;
}

/** Below this many multiply-adds (m·n·k) copying into WASM memory costs more than it saves. */
const WASM_MIN_WORK = 4096;

/**
 * The seam every op calls: picks the fastest available kernel for the size.
 * WebAssembly SIMD (`simd.ts`, split across worker threads for large
 * products) for real work, the packed JavaScript kernel where WASM is missing,
 * and the plain loop for tiny or empty products. `bias`, when given, is added
 * to every row of C.
 *
 * @example Same answer as the reference
 * ```ts
 * import { gemm, gemmReference, type GemmArgs } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const args = (c: Float32Array): GemmArgs => ({ a: new Float32Array(64 * 64).fill(0.5),
 *   aOffset: 0, b: new Float32Array(64 * 64).fill(2), bOffset: 0, c, cOffset: 0,
 *   m: 64, k: 64, n: 64, transposeB: false });
 * const fast = new Float32Array(64 * 64), ref = new Float32Array(64 * 64);
 * gemm(args(fast));
 * gemmReference(args(ref));
 * assert.deepEqual(fast, ref);
 * ```
 */
export function gemm(g: GemmArgs): void {
  const { m, k, n } = g;
  if (m === 0 || n === 0) return;
  if (k === 0 || m * n * k < WASM_MIN_WORK) {
    gemmJs(g);
    addBias(g);
  } else if (wasmReady()) {
    // the bias is added in the kernel's epilogue, on C while it is still in cache
    gemmWasm(
      g.a,
      g.aOffset,
      g.b,
      g.bOffset,
      g.c,
      g.cOffset,
      m,
      k,
      n,
      g.transposeB,
      g.bias ?? null,
      g.biasOffset ?? 0,
    );
  } else {
    gemmPacked(g);
    addBias(g);
  }
}

/**
 * C[m, Σrows] = A[m, k] · Bᵀ (+ bias) with B `[n, k]` given as blocks of rows
 * stacked along n (see `gemmWasmStacked` in `simd.ts`): the same numbers as
 * {@link gemm} on the concatenated B and bias, without building them on the
 * WebAssembly path. Small products concatenate and call {@link gemm}.
 *
 * @example Two stacked weights give the columns of both products
 * ```ts
 * import { gemm, gemmStacked } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const a = Float32Array.of(1, 2, 3, 4); // [2, 2]
 * const w1 = Float32Array.of(1, 0), w2 = Float32Array.of(0, 1, 1, 1); // [1, 2] and [2, 2]
 * const c = new Float32Array(6);
 * gemmStacked(a, 0, [
 *   { data: w1, offset: 0, rows: 1, bias: Float32Array.of(10) },
 *   { data: w2, offset: 0, rows: 2, bias: null },
 * ], c, 0, 2, 2);
 * assert.deepEqual([...c], [11, 2, 3, 13, 4, 7]);
 * const one = new Float32Array(6);
 * gemm({ a, aOffset: 0, b: Float32Array.of(1, 0, 0, 1, 1, 1), bOffset: 0, c: one, cOffset: 0,
 *   m: 2, k: 2, n: 3, transposeB: true, bias: Float32Array.of(10, 0, 0) });
 * assert.deepEqual(c, one);
 * ```
 */
export function gemmStacked(
  a: Float32Array,
  aOffset: number,
  parts: readonly StackedPart[],
  c: Float32Array,
  cOffset: number,
  m: number,
  k: number,
): void {
  const n = parts.reduce((sum, p) => sum + p.rows, 0);
  if (m === 0 || n === 0) return;
  if (k > 0 && m * n * k >= WASM_MIN_WORK && wasmReady()) {
    gemmWasmStacked(a, aOffset, parts, c, cOffset, m, k);
    return;
  }
  // small: concatenate [n, k] and the bias, then the plain kernel
  const b = new Float32Array(n * k);
  const bias = parts.some((p) => p.bias) ? new Float32Array(n) : null;
  stackParts(parts, k, b, 0, bias, 0);
  gemm({ a, aOffset, b, bOffset: 0, c, cOffset, m, k, n, transposeB: true, bias });
}
