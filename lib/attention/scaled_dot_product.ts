/**
 * Scaled dot-product attention, the core of the Transformer:
 *
 * $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}} + B\right)V$$
 *
 * @module
 */

import { attentionKernels, attentionScratchBytes } from "../kernels/attention.ts";
import { needsGrad } from "../tensor/autograd.ts";
import { recordInspection, recordOp } from "../tensor/op.ts";
import type { Mask } from "../tensor/mask.ts";
import type { CounterKey, Rng } from "../tensor/rng.ts";
import { checkSize, sizeOf } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import {
  INSPECT_HINT,
  kernelInputs,
  planAttention,
  resolveNeedWeights,
  resolveScale,
} from "./_batch.ts";
import { attentionBackward } from "./_backward.ts";
import { describeValue } from "../tensor/describe.ts";

/** Options for {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /**
   * Boolean mask, **`true` = may attend**, broadcast against the scores
   * `[..., Tq, Tk]` (e.g. `[Tq, Tk]` causal, `[B, 1, 1, Tk]` padding).
   */
  mask?: Mask;
  /** Additive float bias broadcast against the scores (ALiBi, relative positions, `-Infinity`). */
  bias?: Tensor;
  /** Factor on Q·Kᵀ. Default `1/√d_k`. */
  scale?: number;
  /** Probability of dropping each attention weight (inverted dropout). Default 0. */
  dropout?: number;
  /**
   * Source of the dropout key (one `rng.nextKey()` per call); this or
   * `dropoutKey` is required when `dropout > 0`.
   */
  rng?: Rng;
  /**
   * The counter-based key of this call's dropout: weight e of the row-major
   * `[..., Tq, Tk]` weights is dropped when `uniformAt(key, call, e) < dropout`,
   * on every path and thread count; the same key redraws the same mask.
   * Takes precedence over `rng`.
   */
  dropoutKey?: CounterKey;
  /** Also return the scores Q·Kᵀ·scale + bias before masking and softmax. */
  returnScores?: boolean;
  /**
   * Return the attention weights; default true. With `false` (PyTorch's
   * `need_weights=False`) the `[..., Tq, Tk]` weights stay in the kernel's
   * scratch memory and `weights` is absent from the result: no Tq×Tk array is
   * allocated or copied, which is most of the cost beyond the arithmetic at
   * large Tq·Tk. The output is the same.
   */
  needWeights?: boolean;
}

/** What {@link scaledDotProductAttention} returns (with `needWeights: false`, see {@link AttentionOutput}). */
export interface AttentionResult {
  /** `[..., Tq, Dv]`: each query's weighted average of the values. */
  output: Tensor;
  /** `[..., Tq, Tk]`: softmax weights (after dropout, if any); masked entries are exactly 0. */
  weights: Tensor;
  /** `[..., Tq, Tk]`: scaled scores plus bias, before the mask; only with `returnScores`. */
  scores?: Tensor;
}

/** What {@link scaledDotProductAttention} returns with `needWeights: false`: no weights. */
export interface AttentionOutput extends Omit<AttentionResult, "weights"> {
  /** Absent: the caller asked for no weights. */
  weights?: undefined;
}

/**
 * Scaled dot-product attention for query `[..., Tq, Dk]`, key `[..., Tk, Dk]`
 * and value `[..., Tk, Dv]`, with the leading dimensions broadcast.
 *
 * Steps: (1) scores = Q·Kᵀ·scale (+ bias); (2) blocked keys get -∞; (3) softmax
 * over keys, stabilised by subtracting each row's maximum, so logits of ±1e4 are
 * fine; (4) output = weights·V.
 *
 * **A fully masked row** (a query allowed to see no key) gets weights 0 and
 * output 0, never NaN. PyTorch 2's `F.scaled_dot_product_attention` behaves the
 * same; `nn.MultiheadAttention` returns NaN there.
 *
 * **Gradients** (autograd): the output records its backward w.r.t. query,
 * key, value and bias when one of them requires grad. The forward then keeps
 * only each query row's log-sum-exp besides the output, and the backward
 * recomputes the weights block by block (FlashAttention-2,
 * `kernels/attention_backward.ts`), regenerating the dropout mask from its
 * key. A masked key, and every operand of a fully masked row, gets gradient 0.
 * The returned `weights` and `scores` are values only (not recorded).
 *
 * @throws {RangeError} Mismatched feature sizes or sequence lengths, or a mask/bias
 *   that does not broadcast against `[..., Tq, Tk]`.
 * @throws {TypeError} Non-tensor arguments, a non-Mask mask, dropout without an rng.
 *
 * @example Self-attention on two tokens with a causal mask
 * ```ts
 * import { scaledDotProductAttention } from "./scaled_dot_product.ts";
 * import { causalMask } from "./masks.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[1, 0], [0, 1]]);
 * const { output, weights } = scaledDotProductAttention(x, x, x, { mask: causalMask(2) });
 * assert.deepEqual((weights.toArray() as number[][])[0], [1, 0]); // token 0 sees only itself
 * assert.deepEqual((output.toArray() as number[][])[0], [1, 0]);
 * ```
 *
 * @example Gradients: d sum(output) / d value_j is the total weight key j receives
 * ```ts
 * import { scaledDotProductAttention } from "./scaled_dot_product.ts";
 * import { causalMask } from "./masks.ts";
 * import { sum } from "../tensor/reduce.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const q = tensor([[1, 0], [0, 1], [1, 1]]), v = tensor([[1, 2], [3, 4], [5, 6]]);
 * v.requiresGrad = true;
 * const { output, weights } = scaledDotProductAttention(q, q, v, { mask: causalMask(3) });
 * sum(output).backward();
 * const w = weights.toArray() as number[][];
 * const received = [0, 1, 2].map((j) => w[0][j] + w[1][j] + w[2][j]);
 * (v.grad!.toArray() as number[][]).forEach((row, j) => {
 *   for (const g of row) assert.ok(Math.abs(g - received[j]) < 1e-6);
 * });
 * ```
 *
 * @example Output only: `needWeights: false` skips the `[Tq, Tk]` weights
 * ```ts
 * import { scaledDotProductAttention } from "./scaled_dot_product.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const rng = new Rng(0);
 * const q = randn([64, 16], rng), k = randn([64, 16], rng), v = randn([64, 16], rng);
 * const full = scaledDotProductAttention(q, k, v);
 * const lean = scaledDotProductAttention(q, k, v, { needWeights: false });
 * assert.equal(lean.weights, undefined);
 * assert.deepEqual(lean.output.data, full.output.data);
 * ```
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AttentionOptions & { needWeights: false },
): AttentionOutput;
/** {@link scaledDotProductAttention} returning the weights too (the default). */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options?: AttentionOptions,
): AttentionResult;
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AttentionOptions = {},
): AttentionResult | AttentionOutput {
  return runAttention("scaledDotProductAttention", query, key, value, options, undefined);
}

/**
 * Unscaled dot-product attention, softmax(Q·Kᵀ)·V: the same as
 * {@link scaledDotProductAttention} with `scale: 1`. Shown in the notebooks to
 * see how large d_k saturates the softmax without the 1/√d_k factor.
 *
 * @example Unscaled scores are the raw dot products
 * ```ts
 * import { dotProductAttention } from "./scaled_dot_product.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const q = tensor([[2, 0]]), k = tensor([[1, 0], [0, 1]]);
 * const { scores } = dotProductAttention(q, k, k, { returnScores: true });
 * assert.deepEqual(scores!.toArray(), [[2, 0]]);
 * ```
 */
export function dotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: Omit<AttentionOptions, "scale"> & { needWeights: false },
): AttentionOutput;
/** {@link dotProductAttention} returning the weights too (the default). */
export function dotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options?: Omit<AttentionOptions, "scale">,
): AttentionResult;
export function dotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: Omit<AttentionOptions, "scale"> = {},
): AttentionResult | AttentionOutput {
  return runAttention("dotProductAttention", query, key, value, options, 1);
}

function runAttention(
  fn: string,
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AttentionOptions,
  fixedScale: number | undefined,
): AttentionResult | AttentionOutput {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object`);
  }
  const plan = planAttention(fn, query, key, value, options.mask, options.bias);
  const { batch, tq, tk, dk, dv } = plan;
  const scale = resolveScale(fn, fixedScale ?? options.scale, dk);
  const dropout = options.dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) {
    throw new RangeError(`${fn}: dropout must be in [0, 1), got ${describeValue(dropout)}`);
  }
  let dropKey: CounterKey | null = null;
  if (dropout > 0) {
    if (options.dropoutKey !== undefined) {
      const k = options.dropoutKey;
      if (
        k === null || typeof k !== "object" || !Number.isInteger(k.key) || !Number.isInteger(k.call)
      ) {
        throw new TypeError(`${fn}: dropoutKey must be { key, call } with two integers`);
      }
      dropKey = { key: k.key >>> 0, call: k.call >>> 0 };
    } else if (options.rng && typeof options.rng.nextKey === "function") {
      dropKey = options.rng.nextKey();
    } else {
      throw new TypeError(
        `${fn}: dropout=${dropout} needs a dropoutKey or an rng (e.g. rng: new Rng(0))`,
      );
    }
  }
  const needWeights = resolveNeedWeights(fn, options.needWeights);
  if (needWeights || options.returnScores) {
    checkSize([...batch, tq, tk], fn, "the weights [...batch, Tq, Tk] =");
  }
  const n = sizeOf(batch);
  const bias = options.bias ?? null;
  const inputs = bias ? [query, key, value, bias] : [query, key, value];
  // backward needs only each query row's log-sum-exp (and the output), never the weights
  const lse = needsGrad(inputs) ? new Float32Array(n * tq) : null;
  const out = new Float32Array(n * tq * dv);
  const weights = needWeights ? new Float32Array(n * tq * tk) : null;
  // In grad mode the fused (batched, threaded) kernels read L from the weights; when the
  // caller wants none, a scratch copy that fits the kernels' score budget lets them run
  // (it is dropped on return), else L comes from the scores in a one-thread hook.
  const fused = lse !== null && bias === null && dropout === 0 && !options.returnScores;
  const scratch = !weights && fused && n * tq * tk * 4 <= attentionScratchBytes()
    ? new Float32Array(n * tq * tk)
    : null;
  const scores = options.returnScores ? new Float32Array(n * tq * tk) : null;
  // one problem per batch element (heads included), run together
  attentionKernels(Array.from({ length: n }, (_, t) => ({
    ...kernelInputs(plan, t, query, key, value, scale, out),
    weights: weights ?? scratch,
    weightsOffset: t * tq * tk,
    scores,
    scoresOffset: t * tq * tk,
    dropout,
    // problem t's weights are elements t·Tq·Tk … of the call's stream
    dropoutKey: dropKey ? { ...dropKey, first: t * tq * tk } : null,
    lse,
    lseOffset: t * tq,
  })));
  let output = new Tensor(out, [...batch, tq, dv]);
  if (lse) {
    const saved = { plan, query, key, value, bias, scale, dropout, dropKey, lse, output };
    output = recordOp(fn, inputs, output, (g) => attentionBackward(saved, g));
  }
  // weights and scores are for inspection: a loss that uses them throws in backward
  const inspect = (what: string, data: Float32Array) =>
    recordInspection(`${fn} ${what}`, inputs, new Tensor(data, [...batch, tq, tk]), INSPECT_HINT);
  const result: AttentionResult | AttentionOutput = weights
    ? { output, weights: inspect("weights", weights) }
    : { output };
  if (scores) result.scores = inspect("scores", scores);
  return result;
}
