/**
 * Tiled attention (FlashAttention's online softmax) for long sequences: the
 * same output as `scaledDotProductAttention` without building the
 * `[..., Tq, Tk]` scores, so memory grows with T·D instead of T².
 *
 * @module
 */

import { flashAttentionKernel } from "../kernels/flash.ts";
import type { Mask } from "../tensor/mask.ts";
import { sizeOf } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { kernelInputs, planAttention, resolveScale } from "./_batch.ts";
import { attentionBackward } from "./_backward.ts";
import { needsGrad } from "../tensor/autograd.ts";
import { recordOp } from "../tensor/op.ts";
import { describeValue } from "../tensor/describe.ts";

/** Options for {@link tiledAttention}. */
export interface TiledAttentionOptions {
  /** Boolean mask, **`true` = may attend**, broadcast against `[..., Tq, Tk]`. */
  mask?: Mask;
  /** Additive float bias broadcast against the scores (finite values or `-Infinity`). */
  bias?: Tensor;
  /** Factor on Q·Kᵀ. Default `1/√d_k`. */
  scale?: number;
  /** Queries and keys per tile. Default 128: scores tile 64 KiB, fits in L2. */
  blockSize?: number;
}

/** What {@link tiledAttention} returns: only the output; weights are never formed. */
export interface TiledAttentionResult {
  /** `[..., Tq, Dv]`. */
  output: Tensor;
}

/**
 * Scaled dot-product attention computed tile by tile with a running max and
 * sum per query (FlashAttention), for query `[..., Tq, Dk]`, key
 * `[..., Tk, Dk]`, value `[..., Tk, Dv]`. Agrees with
 * `scaledDotProductAttention` within float32 rounding; a fully masked row gives
 * output 0. Tiles that a mask blocks entirely (the future under a causal mask)
 * are skipped.
 *
 * @throws {RangeError} Mismatched sizes, a mask/bias that does not broadcast, a
 *   non-finite scale or a blockSize that is not a positive integer.
 * @throws {TypeError} Non-tensor arguments or a mask that is not a Mask.
 *
 * @example Matches scaledDotProductAttention under a causal mask
 * ```ts
 * import { tiledAttention } from "./tiled.ts";
 * import { scaledDotProductAttention } from "./scaled_dot_product.ts";
 * import { causalMask } from "./masks.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[1, 0], [0, 1], [1, 1]]);
 * const tiled = tiledAttention(x, x, x, { mask: causalMask(3), blockSize: 2 }).output;
 * const full = scaledDotProductAttention(x, x, x, { mask: causalMask(3) }).output;
 * const diff = tiled.data.map((v, i) => Math.abs(v - full.data[i]));
 * assert.ok(Math.max(...diff) < 1e-6);
 * ```
 */
export function tiledAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: TiledAttentionOptions = {},
): TiledAttentionResult {
  const fn = "tiledAttention";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object`);
  }
  const plan = planAttention(fn, query, key, value, options.mask, options.bias);
  const { batch, tq, dk, dv } = plan;
  const scale = resolveScale(fn, options.scale, dk);
  const blockSize = options.blockSize ?? 128;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new RangeError(
      `${fn}: blockSize must be a positive integer, got ${describeValue(blockSize)}`,
    );
  }
  const n = sizeOf(batch);
  const bias = options.bias ?? null;
  const inputs = bias ? [query, key, value, bias] : [query, key, value];
  // backward needs each query row's log-sum-exp, m + log l of the online softmax
  const lse = needsGrad(inputs) ? new Float32Array(n * tq) : null;
  const out = new Float32Array(n * tq * dv);
  for (let t = 0; t < n; t++) {
    flashAttentionKernel({
      ...kernelInputs(plan, t, query, key, value, scale, out),
      blockSize,
      lse,
      lseOffset: t * tq,
    });
  }
  let output = new Tensor(out, [...batch, tq, dv]);
  if (lse) {
    // the backward visits blockSize x blockSize tiles too: no [Tq, Tk] matrix in either pass
    const saved = { plan, query, key, value, bias, scale, dropout: 0, dropKey: null, lse, output };
    output = recordOp(fn, inputs, output, (g) => attentionBackward({ ...saved, blockSize }, g));
  }
  return { output };
}
