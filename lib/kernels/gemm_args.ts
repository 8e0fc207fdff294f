/**
 * The operands of one matrix product on flat buffers, shared by every gemm
 * implementation (`matmul.ts`, the WebAssembly drivers of `simd.ts`) and the
 * kernel table.
 *
 * @module
 */

/**
 * One matrix product C = op(A)·op(B) (+ bias), or C += that when `accumulate`,
 * on sub-arrays of flat buffers. op(X) is X or Xᵀ; every layout is row-major.
 *
 * Numerics, the same on every implementation: each output is the product
 * rounded to float32, then `bias[j]` is added (one float32 rounding), then,
 * with `accumulate`, the old C is added (one more float32 rounding), so
 * `accumulate` gives exactly C + gemm(A, B) of the same implementation.
 * IEEE special values follow the arithmetic: 0·∞ is NaN and reaches C.
 */
export interface GemmArgs {
  /** A: `[m, k]`, or `[k, m]` when `transposeA`, starting at `aOffset`. */
  a: Float32Array;
  aOffset: number;
  /** B: `[k, n]`, or `[n, k]` when `transposeB`, starting at `bOffset`. */
  b: Float32Array;
  bOffset: number;
  /** C: `[m, n]` starting at `cOffset`; overwritten, or added to when `accumulate`. */
  c: Float32Array;
  cOffset: number;
  m: number;
  k: number;
  n: number;
  /** Read A as `[k, m]` and use its transpose (default false). */
  transposeA?: boolean;
  /** Read B as `[n, k]` and use its transpose. */
  transposeB: boolean;
  /** C += A·B (+ bias) instead of C = A·B (+ bias) (default false). */
  accumulate?: boolean;
  /** Optional `[n]` row added to every row of the product (a Linear layer's bias), from `biasOffset`. */
  bias?: Float32Array | null;
  biasOffset?: number;
}

/** One block of rows of a stacked `[n, k]` B (see {@link StackedGemmArgs}). */
export interface StackedPart {
  /** `[rows, k]`, row-major, from `offset`. */
  data: Float32Array;
  offset: number;
  rows: number;
  /** Its `[rows]` slice of the bias, or null for zeros. */
  bias: Float32Array | null;
}

/**
 * C[m, Σrows] = A[m, k] · Bᵀ (+ bias) where B `[n, k]` and its bias are given
 * as blocks of rows stacked along n: the same numbers as one gemm on the
 * concatenated B and bias, without building them.
 */
export interface StackedGemmArgs {
  /** A `[m, k]` from `aOffset`. */
  a: Float32Array;
  aOffset: number;
  parts: readonly StackedPart[];
  /** C `[m, Σrows]` from `cOffset`; overwritten. */
  c: Float32Array;
  cOffset: number;
  m: number;
  k: number;
}
