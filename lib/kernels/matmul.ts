/**
 * Matrix-multiply kernels on raw Float32Arrays. Not exported from the package:
 * `lib/tensor/matmul.ts` validates shapes and calls {@link gemm}.
 *
 * The reference loop is the oracle; fast paths must agree with it within float32
 * rounding (tests compare them on random and ragged shapes).
 *
 * @module
 */

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
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, transposeB } = g;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const bv = transposeB ? b[bOffset + j * k + p] : b[bOffset + p * n + j];
        s += a[aOffset + i * k + p] * bv;
      }
      c[cOffset + i * n + j] = s;
    }
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

/**
 * The seam every op calls: picks the fastest available kernel for the size.
 * Fast paths (WASM SIMD, Workers) plug in here without changing any caller.
 */
export function gemm(g: GemmArgs): void {
  gemmJs(g);
}
