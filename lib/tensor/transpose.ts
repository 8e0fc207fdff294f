/**
 * Axis permutations: `transpose` swaps the last two axes, `permute` any order.
 *
 * @module
 */

import { recordOp } from "./op.ts";
import { formatShape, sizeOf } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";

/**
 * Reorders axes: output axis i is input axis `axes[i]` (like `torch.permute`).
 *
 * @throws {RangeError} When `axes` is not a permutation of `0..rank-1`.
 *
 * @example Split heads: [B, T, H, D] -> [B, H, T, D]
 * ```ts
 * import { permute } from "./transpose.ts";
 * import { zeros } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(permute(zeros([2, 5, 4, 8]), [0, 2, 1, 3]).shape, [2, 4, 5, 8]);
 * ```
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  checkTensor(x, "permute", "x");
  const r = x.rank;
  const seen = new Set<number>();
  const norm = axes.map((a) => (a < 0 ? a + r : a));
  if (
    norm.length !== r ||
    norm.some((a) => !Number.isInteger(a) || a < 0 || a >= r || seen.has(a) || !seen.add(a))
  ) {
    throw new RangeError(
      `permute: axes ${formatShape(axes)} must be a permutation of 0..${r - 1} for x=${
        formatShape(x.shape)
      }`,
    );
  }
  const shape = norm.map((a) => x.shape[a]);
  const inStrides = new Array<number>(r);
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= x.shape[i];
  }
  const strides = norm.map((a) => inStrides[a]);
  const out = new Float32Array(sizeOf(shape));
  // y = x permuted: dx = dy permuted back, by the inverse permutation (inverse[axes[i]] = i)
  const backward = (g: Tensor) => {
    const inverse = new Array<number>(r);
    norm.forEach((a, i) => (inverse[a] = i));
    return [permute(g, inverse)];
  };
  if (out.length === 0) return recordOp("permute", [x], new Tensor(out, shape), backward);
  // Walk the output in order; the innermost axis is copied with its input stride.
  const last = r - 1;
  const inner = r === 0 ? 1 : shape[last];
  const innerStride = r === 0 ? 0 : strides[last];
  const idx = new Array<number>(Math.max(r - 1, 0)).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = x.data[src + j * innerStride];
    for (let ax = last - 1; ax >= 0; ax--) {
      idx[ax]++;
      src += strides[ax];
      if (idx[ax] < shape[ax]) break;
      src -= strides[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
  return recordOp("permute", [x], new Tensor(out, shape), backward);
}

/**
 * Swaps the last two axes: `[..., M, N] -> [..., N, M]` (`Kᵀ` in attention).
 * Recorded as a {@link permute}, so its gradient is the transpose of dy.
 *
 * @example Transpose a matrix
 * ```ts
 * import { transpose } from "./transpose.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(transpose(tensor([[1, 2, 3]])).toArray(), [[1], [2], [3]]);
 * ```
 */
export function transpose(x: Tensor): Tensor {
  checkTensor(x, "transpose", "x");
  if (x.rank < 2) {
    throw new RangeError(`transpose: x needs rank >= 2, got ${formatShape(x.shape)}`);
  }
  const axes = x.shape.map((_, i) => i);
  axes[x.rank - 2] = x.rank - 1;
  axes[x.rank - 1] = x.rank - 2;
  return permute(x, axes);
}
