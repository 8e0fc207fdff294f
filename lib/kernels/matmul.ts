/**
 * Matrix-multiply kernels on raw Float32Arrays. Not exported from the package:
 * `lib/tensor/matmul.ts` and `lib/layers/linear.ts` validate shapes and call
 * {@link gemm}, which runs the implementation the kernel table picks
 * (`kernel_table.ts`): the JavaScript loops here, or the WebAssembly SIMD
 * drivers of `simd.ts`.
 *
 * Every implementation takes the same `GemmArgs` (`gemm_args.ts`: transposed
 * A or B, accumulate, bias) with the same numerics: the product rounded to
 * float32, plus the bias, plus the old C when accumulating; no multiply is
 * skipped, so 0·∞ = NaN reaches C as IEEE arithmetic says. The reference loop
 * is the oracle; the others agree with it within float32 rounding.
 *
 * @module
 */

import type { GemmArgs, StackedGemmArgs, StackedPart } from "./gemm_args.ts";
import { runKernel } from "./registry.ts";
import { stackParts } from "./simd.ts";
import "./kernel_table.ts";

export type { GemmArgs, StackedGemmArgs, StackedPart } from "./gemm_args.ts";

/** Element steps of op(A) `[m, k]` and op(B) `[k, n]` in their buffers: [row, column]. */
function strides(g: GemmArgs): [number, number, number, number] {
  const { m, k, n } = g;
  return [
    ...(g.transposeA ? [1, m] : [k, 1]) as [number, number],
    ...(g.transposeB ? [1, k] : [n, 1]) as [number, number],
  ];
}

/**
 * Writes one output: the product `s` rounded to float32, plus `bias[bj]`
 * (rounded), plus the old C when `acc` (rounded on the store).
 */
function put(
  c: Float32Array,
  at: number,
  s: number,
  bias: Float32Array | null | undefined,
  bj: number,
  acc: boolean,
): void {
  let v = Math.fround(s);
  if (bias) v = Math.fround(v + bias[bj]);
  c[at] = acc ? c[at] + v : v;
}

/**
 * The readable reference: one dot product per output, accumulated in float64.
 *
 * @example 2x2 product, then Aᵀ·B added to it
 * ```ts
 * import { gemmReference } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const c = new Float32Array(4);
 * const g = { a: Float32Array.of(1, 2, 3, 4), aOffset: 0, b: Float32Array.of(1, 0, 0, 1),
 *   bOffset: 0, c, cOffset: 0, m: 2, k: 2, n: 2, transposeB: false };
 * gemmReference(g);
 * assert.deepEqual([...c], [1, 2, 3, 4]);
 * gemmReference({ ...g, transposeA: true, accumulate: true });
 * assert.deepEqual([...c], [2, 5, 5, 8]);
 * ```
 */
export function gemmReference(g: GemmArgs): void {
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, bias } = g;
  const [ar, ac, br, bc] = strides(g);
  const bo = g.biasOffset ?? 0, acc = g.accumulate ?? false;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[aOffset + i * ar + p * ac] * b[bOffset + p * br + j * bc];
      put(c, cOffset + i * n + j, s, bias, bo + j, acc);
    }
  }
}

/** Reused float64 row of {@link gemmJs}'s i-p-j loop. */
let rowScratch = new Float64Array(0);

/**
 * A cache-friendly JavaScript product for small sizes: with B `[k, n]`, the
 * i-p-j loop order (the inner loop walks a row of B and a float64 row of C
 * contiguously); with B transposed `[n, k]`, one dot product of two contiguous
 * rows per output, in four partial sums.
 *
 * @example Aᵀ·B with A stored `[k, m]`
 * ```ts
 * import { gemmJs } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const c = new Float32Array(1);
 * gemmJs({ a: Float32Array.of(0, 1), aOffset: 0, b: Float32Array.of(Infinity, 1), bOffset: 0,
 *   c, cOffset: 0, m: 1, k: 2, n: 1, transposeA: true, transposeB: false });
 * assert.ok(Number.isNaN(c[0])); // 0·∞ is NaN, as in IEEE arithmetic
 * ```
 */
export function gemmJs(g: GemmArgs): void {
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, bias } = g;
  const [ar, ac, br, bc] = strides(g);
  const bo = g.biasOffset ?? 0, acc = g.accumulate ?? false;
  if (g.transposeB) {
    // C[i, j] = sum_p A[i, p] * B[j, p]
    for (let i = 0; i < m; i++) {
      const ai = aOffset + i * ar;
      for (let j = 0; j < n; j++) {
        const bj = bOffset + j * k;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let p = 0;
        for (; p + 3 < k; p += 4) {
          s0 += a[ai + p * ac] * b[bj + p];
          s1 += a[ai + (p + 1) * ac] * b[bj + p + 1];
          s2 += a[ai + (p + 2) * ac] * b[bj + p + 2];
          s3 += a[ai + (p + 3) * ac] * b[bj + p + 3];
        }
        for (; p < k; p++) s0 += a[ai + p * ac] * b[bj + p];
        put(c, cOffset + i * n + j, (s0 + s1) + (s2 + s3), bias, bo + j, acc);
      }
    }
    return;
  }
  if (rowScratch.length < n) rowScratch = new Float64Array(n);
  const row = rowScratch;
  for (let i = 0; i < m; i++) {
    row.fill(0, 0, n);
    const ai = aOffset + i * ar;
    for (let p = 0; p < k; p++) {
      // every product is taken, zeros included: 0·∞ must give NaN
      const av = a[ai + p * ac];
      const bp = bOffset + p * br;
      for (let j = 0; j < n; j++) row[j] += av * b[bp + j * bc];
    }
    const ci = cOffset + i * n;
    for (let j = 0; j < n; j++) put(c, ci + j, row[j], bias, bo + j, acc);
  }
}

/** Reused scratch for {@link gemmPacked}: B packed in 4-column panels. */
let packScratch = new Float32Array(0);

/**
 * A packed, register-blocked JavaScript product, the fallback where WebAssembly
 * SIMD is missing: op(B) is packed into panels of 4 columns (a transposed B,
 * and so K, transposed once), then each 4×4 tile of C is accumulated in 16
 * locals. The packing buffer is reused across calls.
 *
 * @example Transposed B, accumulated into C
 * ```ts
 * import { gemmPacked } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const c = Float32Array.of(1, 1);
 * // [1, 2] x [[1, 2], [3, 4]]ᵀ -> [5, 11]
 * gemmPacked({ a: Float32Array.of(1, 2), aOffset: 0, b: Float32Array.of(1, 2, 3, 4),
 *   bOffset: 0, c, cOffset: 0, m: 1, k: 2, n: 2, transposeB: true, accumulate: true });
 * assert.deepEqual([...c], [6, 12]);
 * ```
 */
export function gemmPacked(g: GemmArgs): void {
  const { a, aOffset, b, bOffset, c, cOffset, m, k, n, bias } = g;
  const [ar, ac, br, bc] = strides(g);
  const bo = g.biasOffset ?? 0, acc = g.accumulate ?? false;
  const np = (n + 3) >> 2;
  if (packScratch.length < np * k * 4) packScratch = new Float32Array(np * k * 4);
  const bp = packScratch;
  // pack: panel j, row p holds op(B)[p, 4j .. 4j+3] (zeros past n)
  for (let j = 0; j < np; j++) {
    for (let p = 0; p < k; p++) {
      const d = (j * k + p) * 4;
      for (let t = 0; t < 4; t++) {
        const col = j * 4 + t;
        bp[d + t] = col >= n ? 0 : b[bOffset + p * br + col * bc];
      }
    }
  }
  for (let i = 0; i < m; i += 4) {
    // rows past m alias row i (computed, never stored)
    const a0 = aOffset + i * ar;
    const a1 = i + 1 < m ? a0 + ar : a0;
    const a2 = i + 2 < m ? a0 + 2 * ar : a0;
    const a3 = i + 3 < m ? a0 + 3 * ar : a0;
    for (let j = 0; j < np; j++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let d = j * k * 4;
      for (let p = 0, q = 0; p < k; p++, d += 4, q += ac) {
        const b0 = bp[d], b1 = bp[d + 1], b2 = bp[d + 2], b3 = bp[d + 3];
        const x0 = a[a0 + q], x1 = a[a1 + q], x2 = a[a2 + q], x3 = a[a3 + q];
        c00 += x0 * b0, c01 += x0 * b1, c02 += x0 * b2, c03 += x0 * b3;
        c10 += x1 * b0, c11 += x1 * b1, c12 += x1 * b2, c13 += x1 * b3;
        c20 += x2 * b0, c21 += x2 * b1, c22 += x2 * b2, c23 += x2 * b3;
        c30 += x3 * b0, c31 += x3 * b1, c32 += x3 * b2, c33 += x3 * b3;
      }
      const w = Math.min(4, n - j * 4), col = j * 4;
      const row = (r: number, v0: number, v1: number, v2: number, v3: number) => {
        const o = cOffset + (i + r) * n + col;
        put(c, o, v0, bias, bo + col, acc);
        if (w > 1) put(c, o + 1, v1, bias, bo + col + 1, acc);
        if (w > 2) put(c, o + 2, v2, bias, bo + col + 2, acc);
        if (w > 3) put(c, o + 3, v3, bias, bo + col + 3, acc);
      };
      row(0, c00, c01, c02, c03);
      if (i + 1 < m) row(1, c10, c11, c12, c13);
      if (i + 2 < m) row(2, c20, c21, c22, c23);
      if (i + 3 < m) row(3, c30, c31, c32, c33);
    }
  }
}

/**
 * The seam every op calls: validates nothing (callers did), skips empty
 * products, and runs the gemm implementation the kernel table picks for the
 * size (`kernel_table.ts`: WebAssembly SIMD, on the worker threads for large
 * products; the packed JavaScript kernel where WASM is missing; the plain loop
 * for tiny products).
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
  if (g.m === 0 || g.n === 0) return;
  runKernel("gemm", g);
}

/**
 * C[m, Σrows] = A[m, k] · Bᵀ (+ bias) with B `[n, k]` given as blocks of rows
 * stacked along n (see `gemmWasmStacked` in `simd.ts`): the same numbers as
 * {@link gemm} on the concatenated B and bias, without building them on the
 * WebAssembly path.
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
  runKernel("gemmStacked", { a, aOffset, parts, c, cOffset, m, k });
}

/**
 * The JavaScript form of {@link gemmStacked}: concatenates B `[n, k]` and the
 * bias, then one {@link gemm}.
 *
 * @example
 * ```ts
 * import { gemmStackedJs } from "./matmul.ts";
 * import assert from "node:assert/strict";
 * const c = new Float32Array(2);
 * gemmStackedJs({ a: Float32Array.of(1, 2), aOffset: 0, c, cOffset: 0, m: 1, k: 2, parts: [
 *   { data: Float32Array.of(1, 1), offset: 0, rows: 1, bias: Float32Array.of(1) },
 *   { data: Float32Array.of(0, 1), offset: 0, rows: 1, bias: null },
 * ] });
 * assert.deepEqual([...c], [4, 2]);
 * ```
 */
export function gemmStackedJs(s: StackedGemmArgs): void {
  const { a, aOffset, parts, c, cOffset, m, k } = s;
  const n = parts.reduce((sum, p) => sum + p.rows, 0);
  const b = new Float32Array(n * k);
  const bias = parts.some((p) => p.bias) ? new Float32Array(n) : null;
  stackParts(parts, k, b, 0, bias, 0);
  gemm({ a, aOffset, b, bOffset: 0, c, cOffset, m, k, n, transposeB: true, bias });
}
