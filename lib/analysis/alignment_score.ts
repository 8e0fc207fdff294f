/**
 * The alignment score of a cross-attention head: the attention mass on the
 * source positions an output position is expected to read (the anti-diagonal
 * for `reverse`, the matching characters for `dates`).
 *
 * @module
 */

import { _describe } from "../layers/_validate.ts";
import { Mask } from "../tensor/mask.ts";
import { formatShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { attentionMap, perHead } from "./_attention_map.ts";

/**
 * The expected alignment of {@link alignmentScore}: a function from a query
 * (target) position t to its expected source position(s) (an empty list: t is
 * not scored); a list of `[t, s]` pairs; or a `[T, S]` Mask or 0/1 Tensor.
 */
export type ExpectedAlignment =
  | ((t: number) => number | readonly number[])
  | readonly (readonly [number, number])[]
  | Mask
  | Tensor;

/**
 * The alignment score of each head: for each query t with at least one
 * expected source, the attention mass on its expected sources, averaged over
 * those queries and the batch rows:
 * $$\mathrm{score}_h = \frac{1}{|Q|} \sum_{t \in Q} \sum_{s \in E(t)} A_{h,t,s}$$
 * A head on the expected path scores 1; uniform attention over S sources
 * scores |E(t)|/S.
 *
 * @param weights Cross-attention weights `[H, T, S]` or `[B, H, T, S]`, entries in [0, 1].
 * @param expected The expected alignment (see {@link ExpectedAlignment}).
 * @returns The scores `[H]`, each in [0, 1].
 * @throws {TypeError} `weights` that is not a Tensor, or `expected` of none of the forms.
 * @throws {RangeError} A bad shape, a matrix that is not `[T, S]` of 0/1, positions outside
 *   [0, T) or [0, S), or no expected pair at all.
 *
 * @example The anti-diagonal of `reverse`
 * ```ts
 * import { alignmentScore, tensor } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * // head 0 reads the anti-diagonal, head 1 is uniform over 2 sources
 * const w = tensor([[[0, 1], [1, 0]], [[0.5, 0.5], [0.5, 0.5]]]); // [H=2, T=2, S=2]
 * const score = alignmentScore(w, (t) => 1 - t);
 * assert.deepEqual(Array.from(score.data), [1, 0.5]);
 * ```
 */
export function alignmentScore(weights: Tensor, expected: ExpectedAlignment): Tensor {
  const fn = "alignmentScore";
  const { data, b, h, t, s } = attentionMap(weights, fn, "weights", "[B?, H, T, S]");
  // expected[t * s + j] = 1 where query t should read source j
  const on = new Uint8Array(t * s);
  const put = (q: number, j: unknown, what: string) => {
    if (!Number.isInteger(j) || (j as number) < 0 || (j as number) >= s) {
      throw new RangeError(
        `${fn}: expected source ${what} must be an integer in [0, S=${s}), got ${_describe(j)}`,
      );
    }
    on[q * s + (j as number)] = 1;
  };
  if (typeof expected === "function") {
    for (let q = 0; q < t; q++) {
      const r = expected(q);
      const list = typeof r === "number" ? [r] : r;
      if (!Array.isArray(list)) {
        throw new TypeError(
          `${fn}: expected(${q}) must return a source position or a list of them, got ${
            _describe(r)
          }`,
        );
      }
      for (const j of list) put(q, j, `of query ${q}`);
    }
  } else if (Array.isArray(expected)) {
    expected.forEach((p, k) => {
      if (!Array.isArray(p) || p.length !== 2 || !Number.isInteger(p[0]) || p[0] < 0 || p[0] >= t) {
        throw new RangeError(
          `${fn}: expected[${k}] must be a pair [t, s] with 0 <= t < T=${t}, got ${_describe(p)}`,
        );
      }
      put(p[0], p[1], `of pair ${k}`);
    });
  } else if (expected instanceof Mask || expected instanceof Tensor) {
    if (expected.shape.length !== 2 || expected.shape[0] !== t || expected.shape[1] !== s) {
      throw new RangeError(
        `${fn}: expected must be a [T, S] = [${t}, ${s}] matrix, got shape ${
          formatShape(expected.shape)
        }`,
      );
    }
    for (let i = 0; i < t * s; i++) {
      const v = expected.data[i];
      if (v !== 0 && v !== 1) {
        throw new RangeError(
          `${fn}: expected must hold only 0 and 1, got ${v} at flat index ${i}`,
        );
      }
      on[i] = v;
    }
  } else {
    throw new TypeError(
      `${fn}: expected must be a function t -> s, a list of [t, s] pairs, or a [T, S] Mask or ` +
        `0/1 Tensor, got ${_describe(expected)}`,
    );
  }
  let queries = 0;
  for (let q = 0; q < t; q++) if (on.subarray(q * s, (q + 1) * s).some((v) => v === 1)) queries++;
  if (queries === 0) {
    throw new RangeError(`${fn}: expected names no (t, s) pair, nothing to score`);
  }
  const sums = new Float64Array(h);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const base = (bi * h + hi) * t * s;
      for (let i = 0; i < t * s; i++) if (on[i] === 1) sums[hi] += data[base + i];
    }
  }
  return perHead(sums, queries * b);
}
