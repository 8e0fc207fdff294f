/**
 * ALiBi, attention with linear biases (Press, Smith & Lewis, "Train Short, Test
 * Long", 2022): no position embeddings; each head adds −slope·distance to its
 * attention scores.
 *
 * @module
 */

import { checkSize } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { _nonNegativeInt, _oneOf, _options, _positiveInt } from "./_validate.ts";

/** The slopes of the first n heads when n is a power of two: 2^(-8k/n), k = 1 … n. */
function _powerOfTwoSlopes(n: number): number[] {
  return Array.from({ length: n }, (_, k) => Math.pow(2, (-8 * (k + 1)) / n));
}

/**
 * The per-head slopes of ALiBi.
 *
 * For n heads, n a power of two, the geometric sequence that starts at
 * $2^{-8/n}$ with that same ratio: $m_k = 2^{-8k/n}$, k = 1 … n (8 heads:
 * 1/2, 1/4, …, 1/256). For other n, the rule of the authors' reference code:
 * take the 2^⌊log₂ n⌋ = M slopes of the nearest smaller power of two, then
 * append the first n − M of the slopes for 2M heads at odd k (1, 3, 5, …),
 * which lie geometrically halfway between consecutive slopes of the M-head sequence.
 *
 * @param numHeads Number of heads n.
 * @returns n slopes in (0, 1), float64.
 * @throws {RangeError} When `numHeads` is not a positive integer.
 *
 * @example 8 heads, and 12 heads interpolated
 * ```ts
 * import { alibiSlopes } from "./alibi.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(alibiSlopes(8), [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
 * const s = alibiSlopes(12); // 8 slopes, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5
 * assert.deepEqual(s.slice(0, 8), alibiSlopes(8));
 * assert.deepEqual(s.slice(8), [2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]);
 * ```
 */
export function alibiSlopes(numHeads: number): number[] {
  _positiveInt(numHeads, "alibiSlopes", "numHeads");
  checkSize([numHeads], "alibiSlopes", "the slopes [H] =");
  const m = Math.pow(2, Math.floor(Math.log2(numHeads)));
  if (m === numHeads) return _powerOfTwoSlopes(numHeads);
  const extra = _powerOfTwoSlopes(2 * m).filter((_, k) => k % 2 === 0).slice(0, numHeads - m);
  return [..._powerOfTwoSlopes(m), ...extra];
}

/** Options for {@link alibiBias}. */
export interface AlibiBiasOptions {
  /**
   * How query rows line up with key columns when tq ≠ tk. `"top-left"` (default,
   * as `causalMask`): query i is at position i. `"bottom-right"` (KV-cache
   * decoding): query i is at position i + (tk − tq), so the last query is the last key.
   */
  align?: "top-left" | "bottom-right";
}

/**
 * The ALiBi bias `[H, Tq, Tk]`, to pass as `scaledDotProductAttention`'s `bias`:
 * $$B_{h,i,j} = -m_h\,\lvert i - j\rvert,$$
 * with $m_h$ from {@link alibiSlopes}. Below and on the diagonal (j ≤ i) this is
 * the paper's $-m_h (i - j)$; combine it with a causal mask for decoder
 * self-attention. Above the diagonal it is the symmetric extension
 * $-m_h (j - i)$, a common choice for bidirectional (encoder) use; the paper
 * defines only the causal case. (The authors' code adds $m_h\,j$ instead, which
 * differs from $-m_h(i-j)$ by a per-row constant and so gives the same softmax.)
 *
 * @param numHeads Number of heads H.
 * @param tq Number of queries.
 * @param tk Number of keys (default `tq`).
 * @param options `align` (default `"top-left"`).
 * @returns Tensor `[H, Tq, Tk]`: 0 on the diagonal, more negative with distance.
 * @throws {RangeError} When a size is not a (positive / non-negative) integer or `align` is unknown.
 *
 * @example Head 0 of 2 has slope 1/16
 * ```ts
 * import { alibiBias } from "./alibi.ts";
 * import assert from "node:assert/strict";
 * const b = alibiBias(2, 3);
 * assert.deepEqual(b.shape, [2, 3, 3]);
 * assert.deepEqual((b.toArray() as number[][][])[0][2], [-2 / 16, -1 / 16, 0]);
 * ```
 */
export function alibiBias(
  numHeads: number,
  tq: number,
  tk: number = tq,
  options: AlibiBiasOptions = {},
): Tensor {
  _positiveInt(numHeads, "alibiBias", "numHeads");
  _nonNegativeInt(tq, "alibiBias", "tq");
  _nonNegativeInt(tk, "alibiBias", "tk");
  const size = checkSize([numHeads, tq, tk], "alibiBias", "the bias [H, Tq, Tk] =");
  const slopes = alibiSlopes(numHeads);
  options = _options(options, "alibiBias", "options");
  const align = _oneOf(
    options.align ?? "top-left",
    ["top-left", "bottom-right"],
    "alibiBias",
    "align",
  );
  const shift = align === "bottom-right" ? tk - tq : 0;
  const out = new Float32Array(size);
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < tq; i++) {
      const row = (h * tq + i) * tk;
      // `0 - …` rather than `-…`: +0 on the diagonal, not -0.
      for (let j = 0; j < tk; j++) out[row + j] = 0 - slopes[h] * Math.abs(i + shift - j);
    }
  }
  return new Tensor(out, [numHeads, tq, tk]);
}
