/**
 * The previous-token score of Olsson et al. (2022), "In-context Learning and
 * Induction Heads": how much a self-attention head attends from each token to
 * the token right before it.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { attentionMap, perHead } from "./_attention_map.ts";

/**
 * The previous-token score of each head: the mean attention weight from
 * query i to key i − 1, over every i >= 1 (and every batch row):
 * $$\mathrm{score}_h = \frac{1}{B(T-1)} \sum_b \sum_{i=1}^{T-1} A_{b,h,i,i-1}$$
 * A head that always attends to the previous token scores 1; a causal head
 * with uniform attention scores the mean of 1/(i+1).
 *
 * @param weights Self-attention weights `[H, T, T]` or `[B, H, T, T]` (e.g. `GPT.forward`'s
 *   `selfWeights[layer]`), T >= 2, entries in [0, 1].
 * @returns The scores `[H]`, each in [0, 1].
 * @throws {TypeError} `weights` that is not a Tensor.
 * @throws {RangeError} A shape that is not `[B?, H, T, T]` with T >= 2, or weights outside [0, 1].
 *
 * @example A perfect previous-token head scores 1
 * ```ts
 * import { previousTokenScore, tensor } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([[[1, 0, 0], [1, 0, 0], [0, 1, 0]]]); // [H=1, T=3, T=3]
 * assert.deepEqual(Array.from(previousTokenScore(w).data), [1]);
 * ```
 */
export function previousTokenScore(weights: Tensor): Tensor {
  const fn = "previousTokenScore";
  const { data, b, h, t, s } = attentionMap(weights, fn, "weights", "[B?, H, T, T]");
  if (s !== t || t < 2) {
    throw new RangeError(
      `${fn}: weights must be self-attention [B?, H, T, T] with T >= 2 (a previous token ` +
        `to attend to), got T=${t} queries and S=${s} keys`,
    );
  }
  const sums = new Float64Array(h);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const base = (bi * h + hi) * t * t;
      for (let i = 1; i < t; i++) sums[hi] += data[base + i * t + i - 1];
    }
  }
  return perHead(sums, b * (t - 1));
}
