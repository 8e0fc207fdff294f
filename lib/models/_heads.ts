/**
 * Private helpers for multi-head attention: split a feature axis into heads,
 * merge heads back, repeat key/value heads for grouped-query attention and
 * append along the time axis (the KV cache). Letters: B batch, T time,
 * H heads, Dh features per head. Each records its own backward (the inverse
 * rearrangement of the gradient; repeatHeads sums over the repeated heads), so
 * multi-head attention backpropagates through them.
 *
 * @module
 */

import { noGrad } from "../tensor/autograd.ts";
import { recordOp } from "../tensor/op.ts";
import { concat } from "../tensor/slice.ts";
import { formatShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/**
 * Heads into features in one pass: `[B, H, T, Dh]` (`heads`) -> columns
 * `col0 … col0 + H·Dh` of `[B, T, d]` (`features`), or the reverse with
 * `toHeads`. One loop over rows of Dh contiguous floats, instead of a general
 * permute plus a copy (the backward of every split and merge goes through it).
 */
function moveHeads(
  heads: Float32Array,
  features: Float32Array,
  [b, h, t, dh]: readonly number[],
  d: number,
  col0: number,
  toHeads: boolean,
): void {
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let ti = 0; ti < t; ti++) {
        // heads[bi, hi, ti, :] <-> features[bi, ti, col0 + hi·Dh + :]
        const at = ((bi * h + hi) * t + ti) * dh, f = (bi * t + ti) * d + col0 + hi * dh;
        if (toHeads) { for (let c = 0; c < dh; c++) heads[at + c] = features[f + c]; }
        else for (let c = 0; c < dh; c++) features[f + c] = heads[at + c];
      }
    }
  }
}

/** `[B, T, H·Dh] -> [B, H, T, Dh]` as a new tensor (no recording). */
function featuresToHeads(x: Tensor, numHeads: number): Tensor {
  const [b, t, d] = x.shape, shape = [b, numHeads, t, d / numHeads];
  const out = new Float32Array(x.size);
  moveHeads(out, x.data, shape, d, 0, true);
  return new Tensor(out, shape);
}

/** `[B, H, T, Dh] -> [B, T, H·Dh]` as a new tensor (no recording). */
function headsToFeatures(x: Tensor): Tensor {
  const [b, h, t, dh] = x.shape;
  const out = new Float32Array(x.size);
  moveHeads(x.data, out, x.shape, h * dh, 0, false);
  return new Tensor(out, [b, t, h * dh]);
}

/**
 * Splits the feature axis into heads: `[B, T, H·Dh] -> [B, H, T, Dh]`.
 *
 * @param x A `[B, T, H·Dh]` tensor.
 * @param numHeads H; must divide the last size.
 * @returns A new `[B, H, T, Dh]` tensor.
 * @throws {RangeError} When `x` is not 3-D or its last size is not a multiple of `numHeads`.
 *
 * @example Two heads of two features
 * ```ts
 * import { splitHeads } from "./_heads.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[[1, 2, 3, 4]]]); // [B=1, T=1, 4]
 * assert.deepEqual(splitHeads(x, 2).toArray(), [[[[1, 2]], [[3, 4]]]]);
 * ```
 */
export function splitHeads(x: Tensor, numHeads: number): Tensor {
  if (x.rank !== 3 || x.shape[2] % numHeads !== 0) {
    throw new RangeError(
      `splitHeads: x must be [B, T, H·Dh] with H=${numHeads} dividing the last size, got ${
        formatShape(x.shape)
      }`,
    );
  }
  // [B, T, H·Dh] -> [B, T, H, Dh] -> [B, H, T, Dh]
  const out = featuresToHeads(x, numHeads);
  // the gradient goes back the same way: [B, H, T, Dh] -> [B, T, H·Dh]
  return recordOp("splitHeads", [x], out, (g) => [headsToFeatures(g)]);
}

/**
 * Splits `count` projections stacked along the feature axis into heads, each
 * `[B, T, H·Dh] -> [B, H, T, Dh]` as {@link splitHeads} would: one permute
 * `[B, T, count, H, Dh] -> [count, B, H, T, Dh]`, then one contiguous view per
 * projection (they share one buffer).
 *
 * @param x A `[B, T, count·H·Dh]` tensor (e.g. Q, K, V side by side).
 * @param count How many projections are stacked.
 * @param numHeads H.
 * @returns `count` tensors `[B, H, T, Dh]`.
 * @throws {RangeError} When `x` is not 3-D or its last size is not a multiple of `count·numHeads`.
 *
 * @example Q and K of one head each
 * ```ts
 * import { splitHeads, splitStackedHeads } from "./_heads.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[[1, 2, 3, 4], [5, 6, 7, 8]]]); // [B=1, T=2, 2·1·2]
 * const [q, k] = splitStackedHeads(x, 2, 1);
 * assert.deepEqual(q.toArray(), splitHeads(tensor([[[1, 2], [5, 6]]]), 1).toArray());
 * assert.deepEqual(k.toArray(), [[[[3, 4], [7, 8]]]]);
 * ```
 */
export function splitStackedHeads(x: Tensor, count: number, numHeads: number): Tensor[] {
  if (x.rank !== 3 || x.shape[2] % (count * numHeads) !== 0) {
    throw new RangeError(
      `splitStackedHeads: x must be [B, T, ${count}·H·Dh] with H=${numHeads}, got ${
        formatShape(x.shape)
      }`,
    );
  }
  const [b, t, d] = x.shape;
  const dh = d / (count * numHeads), w = numHeads * dh, shape = [b, numHeads, t, dh];
  // [B, T, count·H·Dh] -> [B, T, count, H, Dh] -> [count, B, H, T, Dh]
  const all = new Float32Array(x.size);
  const size = b * numHeads * t * dh;
  for (let i = 0; i < count; i++) {
    moveHeads(all.subarray(i * size, (i + 1) * size), x.data, shape, d, i * w, true);
  }
  return Array.from({ length: count }, (_, i) => {
    const part = new Tensor(all.subarray(i * size, (i + 1) * size), shape);
    // projection i's gradient fills its own feature block of dx, zeros elsewhere:
    // [B, H, T, Dh] -> [B, T, H·Dh] into columns i·H·Dh … (i+1)·H·Dh of [B, T, count·H·Dh]
    return recordOp("splitStackedHeads", [x], part, (g) => {
      const dx = new Float32Array(x.size);
      moveHeads(g.data, dx, shape, d, i * w, false);
      return [new Tensor(dx, x.shape)];
    });
  });
}

/**
 * Concatenates heads back into features: `[B, H, T, Dh] -> [B, T, H·Dh]`
 * (head h fills features `h·Dh .. (h+1)·Dh`).
 *
 * @param x A `[B, H, T, Dh]` tensor.
 * @returns A new `[B, T, H·Dh]` tensor.
 * @throws {RangeError} When `x` is not 4-D.
 *
 * @example Merge undoes split
 * ```ts
 * import { mergeHeads, splitHeads } from "./_heads.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[[1, 2, 3, 4], [5, 6, 7, 8]]]); // [1, 2, 4]
 * assert.deepEqual(mergeHeads(splitHeads(x, 2)).toArray(), x.toArray());
 * ```
 */
export function mergeHeads(x: Tensor): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(`mergeHeads: x must be [B, H, T, Dh], got ${formatShape(x.shape)}`);
  }
  // [B, H, T, Dh] -> [B, T, H, Dh] -> [B, T, H·Dh]
  const out = headsToFeatures(x);
  // the gradient goes back the same way: [B, T, H·Dh] -> [B, H, T, Dh]
  return recordOp("mergeHeads", [x], out, (g) => [featuresToHeads(g, x.shape[1])]);
}

/**
 * Repeats each key/value head `groups` times in a row, so that query head h
 * reads key/value head `floor(h / groups)`: `[B, Hkv, T, Dh] -> [B, Hkv·groups, T, Dh]`.
 * Returns `x` itself when `groups` is 1.
 *
 * @param x A `[B, Hkv, T, Dh]` tensor.
 * @param groups Query heads per key/value head.
 * @returns `[B, Hkv·groups, T, Dh]`.
 * @throws {RangeError} When `x` is not 4-D.
 *
 * @example One key/value head shared by two query heads
 * ```ts
 * import { repeatHeads } from "./_heads.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const kv = tensor([[[[1, 2]], [[3, 4]]]]); // [1, 2, 1, 2]
 * assert.deepEqual(repeatHeads(kv, 2).toArray(), [[[[1, 2]], [[1, 2]], [[3, 4]], [[3, 4]]]]);
 * ```
 */
export function repeatHeads(x: Tensor, groups: number): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(`repeatHeads: x must be [B, Hkv, T, Dh], got ${formatShape(x.shape)}`);
  }
  if (groups === 1) return x;
  const [b, hkv, t, dh] = x.shape;
  const block = t * dh; // one head's [T, Dh] matrix
  const out = new Float32Array(b * hkv * groups * block);
  for (let i = 0; i < b * hkv; i++) {
    const src = x.data.subarray(i * block, (i + 1) * block);
    for (let g = 0; g < groups; g++) out.set(src, (i * groups + g) * block);
  }
  // dx_h = Σ_g dy_(h·groups + g): every query head that read key/value head h
  return recordOp("repeatHeads", [x], new Tensor(out, [b, hkv * groups, t, dh]), (dy) => {
    const dx = new Float32Array(x.size);
    for (let i = 0; i < b * hkv; i++) {
      for (let g = 0; g < groups; g++) {
        const from = (i * groups + g) * block;
        for (let e = 0; e < block; e++) dx[i * block + e] += dy.data[from + e];
      }
    }
    return [new Tensor(dx, x.shape)];
  });
}

/**
 * Appends `b` after `a` along the time axis: `[B, H, Ta, Dh] ++ [B, H, Tb, Dh] -> [B, H, Ta+Tb, Dh]`.
 *
 * @param a The earlier steps.
 * @param b The new steps.
 * @returns A new tensor.
 * @throws {RangeError} When the shapes differ other than in T.
 *
 * @example Grow a cache by one step
 * ```ts
 * import { concatTime } from "./_heads.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const a = tensor([[[[1], [2]]]]), b = tensor([[[[3]]]]); // [1, 1, 2, 1] and [1, 1, 1, 1]
 * assert.deepEqual(concatTime(a, b).toArray(), [[[[1], [2], [3]]]]);
 * ```
 */
export function concatTime(a: Tensor, b: Tensor): Tensor {
  if (
    a.rank !== 4 || b.rank !== 4 || a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1] ||
    a.shape[3] !== b.shape[3]
  ) {
    throw new RangeError(
      `concatTime: both tensors must be [B, H, T, Dh] with equal B, H and Dh, got ${
        formatShape(a.shape)
      } and ${formatShape(b.shape)}`,
    );
  }
  // [B, H, Ta, Dh] ++ [B, H, Tb, Dh] -> [B, H, Ta + Tb, Dh]
  const out = noGrad(() => concat([a, b], 2));
  // each part takes back its own steps of the gradient: [B, H, Ta + Tb, Dh] -> Ta and Tb rows
  return recordOp("concatTime", [a, b], out, (g) => {
    const [n, ta, tb, dh] = [a.shape[0] * a.shape[1], a.shape[2], b.shape[2], a.shape[3]];
    const da = new Float32Array(a.size), db = new Float32Array(b.size);
    for (let i = 0; i < n; i++) {
      const from = i * (ta + tb) * dh;
      da.set(g.data.subarray(from, from + ta * dh), i * ta * dh);
      db.set(g.data.subarray(from + ta * dh, from + (ta + tb) * dh), i * tb * dh);
    }
    return [new Tensor(da, a.shape), new Tensor(db, b.shape)];
  });
}
