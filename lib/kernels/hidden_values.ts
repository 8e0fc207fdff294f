/**
 * A value a query may not attend to never reaches its output. The fast kernels
 * multiply a masked key's weight (exactly 0) with its value: with finite values
 * that adds exactly 0, but 0·NaN and 0·∞ are NaN, and the 4-row blocks of the
 * WebAssembly kernels also run each row's product up to the block's last allowed
 * key. So when V holds a non-finite entry, every path computes weights·V' with
 * V' = V where finite and 0 elsewhere (exact for the finite part), then adds
 * w·v for each non-finite v and each query that may attend to its key
 * ({@link addHiddenValues}): an allowed key's NaN or ∞ reaches the output as in
 * PyTorch (0·∞ is NaN there too, so a weight of exactly 0, after dropout or an
 * additive bias of -∞, gives NaN), a masked one never does. FlashAttention never
 * holds its weights: it recomputes them from its final row maximum and sum
 * (exp(s - m)/l in float64), so an ∞ value whose float32 weight would underflow
 * to 0 (a logit more than about 87 below its row's maximum) gives ∞ there and
 * NaN on the other paths; NaN values agree everywhere. Without a mask every
 * key is allowed and the plain product is already exact, so unmasked calls skip
 * all of this.
 *
 * @module
 */

import { masked, type MatrixView } from "./attention_inputs.ts";

/**
 * True when the `n` floats of `x` from `offset` are all finite.
 *
 * @example
 * ```ts
 * import { valuesFinite } from "./hidden_values.ts";
 * import assert from "node:assert/strict";
 * assert.equal(valuesFinite(Float32Array.of(1, 2, 3), 0, 3), true);
 * assert.equal(valuesFinite(Float32Array.of(1, NaN, 3), 0, 3), false);
 * assert.equal(valuesFinite(Float32Array.of(1, 2, -Infinity), 0, 2), true);
 * ```
 */
export function valuesFinite(x: ArrayLike<number>, offset: number, n: number): boolean {
  // x - x is 0 for a finite x and NaN for ±∞ and NaN; four sums keep the loop short
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = offset;
  const end = offset + n, end4 = offset + n - (n & 3);
  for (; i < end4; i += 4) {
    s0 += x[i] - x[i];
    s1 += x[i + 1] - x[i + 1];
    s2 += x[i + 2] - x[i + 2];
    s3 += x[i + 3] - x[i + 3];
  }
  for (; i < end; i++) s0 += x[i] - x[i];
  return s0 + s1 + s2 + s3 === 0;
}

/**
 * A copy of `x[offset, offset + n)` with every non-finite entry replaced by 0.
 *
 * @example
 * ```ts
 * import { finiteCopy } from "./hidden_values.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...finiteCopy(Float32Array.of(9, 1, NaN, Infinity), 1, 3)], [1, 0, 0]);
 * ```
 */
export function finiteCopy(x: Float32Array, offset: number, n: number): Float32Array {
  const out = x.slice(offset, offset + n);
  for (let i = 0; i < n; i++) if (out[i] - out[i] !== 0) out[i] = 0;
  return out;
}

/** Where {@link addHiddenValues} reads V and the weights and adds to the output. */
export interface HiddenValuesArgs {
  /** `[tk, dv]` from vOffset: the caller's values, non-finite entries included. */
  v: ArrayLike<number>;
  vOffset: number;
  tq: number;
  tk: number;
  dv: number;
  /** Which (query, key) pairs are allowed; null: all. */
  mask: MatrixView<Uint8Array> | null;
  /** Query i's weight on key j after softmax and dropout (called for allowed pairs only). */
  weight: (i: number, j: number) => number;
  /** `[tq, dv]` output (weights·V' with non-finite values as 0), row stride ldo, from outAt. */
  out: Float32Array<ArrayBufferLike>;
  outAt: number;
  ldo: number;
}

/**
 * Adds w·v to the output for every non-finite v of V and every query allowed to
 * attend to its key. Costs one pass over V plus tq steps per non-finite value.
 *
 * @example A masked NaN stays out, an allowed one gets in
 * ```ts
 * import { addHiddenValues } from "./hidden_values.ts";
 * import assert from "node:assert/strict";
 * // two queries, two keys; query 0 may not attend key 1, whose value is NaN
 * const w = Float32Array.of(1, 0, 0.5, 0.5);
 * const out = Float32Array.of(1, 0.5); // weights · V with the NaN as 0
 * addHiddenValues({ v: Float32Array.of(1, NaN), vOffset: 0, tq: 2, tk: 2, dv: 1,
 *   mask: { data: Uint8Array.of(1, 0, 1, 1), offset: 0, rowStride: 2, colStride: 1 },
 *   weight: (i, j) => w[i * 2 + j], out, outAt: 0, ldo: 1 });
 * assert.equal(out[0], 1);
 * assert.ok(Number.isNaN(out[1]));
 * ```
 */
export function addHiddenValues(h: HiddenValuesArgs): void {
  const { v, vOffset, tq, tk, dv, mask, weight, out, outAt, ldo } = h;
  for (let j = 0; j < tk; j++) {
    for (let d = 0; d < dv; d++) {
      const x = v[vOffset + j * dv + d];
      if (x - x === 0) continue;
      for (let i = 0; i < tq; i++) {
        if (masked(mask, i, j)) {
          continue;
        }
        out[outAt + i * ldo + d] += weight(i, j) * x;
      }
    }
  }
}
