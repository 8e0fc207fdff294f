/**
 * Multi-head attention (Vaswani et al., 2017, §3.2.2), with grouped-query and
 * multi-query attention and a KV cache for incremental decoding:
 *
 * $$\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\,W^O,\quad
 * \mathrm{head}_h = \mathrm{Attention}(Q W^Q_h, K W^K_h, V W^V_h)$$
 *
 * Letters used in shapes: B batch, Tq queries, Tk keys, E = dModel, H query
 * heads, Hkv key/value heads, Dh = E / H features per head.
 *
 * Numbers match PyTorch's `nn.MultiheadAttention` (checked against fixtures at
 * rtol 1e-5), with two deliberate differences: masks use this library's
 * polarity (**`true` = may attend**; convert PyTorch's with `fromTorchAttnMask`
 * and `fromTorchKeyPaddingMask`), and a query that may attend to no key gets
 * weights 0 and output `outputBias` instead of NaN.
 *
 * @module
 */

import { checkScoresOperand } from "../attention/check_scores_operand.ts";
import { scaledDotProductAttention } from "../attention/scaled_dot_product.ts";
import { _boolean, _dropProbability, _options, _positiveInt, _seed } from "../layers/_validate.ts";
import { copyInto, Module, writeParameter } from "../layers/module.ts";
import { linear, linearStacked } from "../layers/linear.ts";
import type { Mask } from "../tensor/mask.ts";
import { Rng } from "../tensor/rng.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, rand, Tensor, zeros } from "../tensor/tensor.ts";
import { recordOp } from "../tensor/op.ts";
import { concatTime, mergeHeads, repeatHeads, splitHeads, splitStackedHeads } from "./_heads.ts";

/** Configuration of {@link multiHeadAttention}. */
export interface MultiHeadAttentionOptions {
  /** Model width E: the query's feature size and the output's. Must divide by `numHeads`. */
  dModel: number;
  /** Number of query heads H (PyTorch's `num_heads`). */
  numHeads: number;
  /** Key/value heads Hkv; default `numHeads` (plain MHA); 1 is multi-query attention. Must divide `numHeads`. */
  numKvHeads?: number;
  /** Feature size of the key input (PyTorch's `kdim`); default `dModel`. */
  kDim?: number;
  /** Feature size of the value input (PyTorch's `vdim`); default `dModel`. */
  vDim?: number;
  /** Probability of dropping each attention weight, in training mode only; default 0. */
  dropout?: number;
  /**
   * Seed of the initialisation and (while the module stands alone) root seed of
   * its attention-dropout stream; default 0. Inside a model, the stream derives
   * from the model's seed and this module's path.
   */
  seed?: number;
  /** Learn additive biases on the four projections; default true, as in PyTorch. */
  bias?: boolean;
}

/** Options of {@link MultiHeadAttention.forward}. */
export interface MultiHeadAttentionForwardOptions {
  /**
   * Boolean mask, **`true` = may attend**, broadcast against the per-head scores
   * `[B, H, Tq, Tk]` (`[H, Tq, Tk]` unbatched): e.g. `[B, 1, 1, Tk]` padding,
   * `[Tq, Tk]` causal. With a cache, Tk counts the cached keys too.
   */
  mask?: Mask;
  /** Additive float bias on the scores (ALiBi, relative positions), broadcast like `mask`. */
  bias?: Tensor;
  /** A {@link KVCache} from {@link MultiHeadAttention.createCache}: append this call's keys and values, attend over all. */
  cache?: KVCache;
  /** Also return the intermediates in `trace`; default false. */
  trace?: boolean;
  /** Return weights averaged over heads, `[B, Tq, Tk]` (PyTorch's default); default false: per head. */
  averageWeights?: boolean;
  /**
   * Return the attention weights; default true. `false` is PyTorch's
   * `need_weights=False`: the per-head `[B, H, Tq, Tk]` weights are never
   * copied out of the kernel and `weights` is absent. The output is the same.
   */
  needWeights?: boolean;
}

/** The intermediates of one {@link MultiHeadAttention.forward} call (unbatched calls drop the B axis). */
export interface MultiHeadAttentionTrace {
  /** Projected queries per head, `[B, H, Tq, Dh]`. */
  query: Tensor;
  /** Projected keys per key/value head, `[B, Hkv, Tk, Dh]` (cached keys included); query head h reads head `floor(h·Hkv/H)`. */
  key: Tensor;
  /** Projected values per key/value head, `[B, Hkv, Tk, Dh]` (cached values included). */
  value: Tensor;
  /** Scores `Q·Kᵀ/√Dh` (+ `bias`) per head, before the mask and softmax: `[B, H, Tq, Tk]`. */
  scores: Tensor;
  /** The heads' outputs side by side, before the output projection: `[B, Tq, E]`. */
  concat: Tensor;
}

/** What {@link MultiHeadAttention.forward} returns. */
export interface MultiHeadAttentionResult {
  /** `[B, Tq, E]` (`[Tq, E]` unbatched). */
  output: Tensor;
  /** Attention weights per head `[B, H, Tq, Tk]` (`[H, Tq, Tk]` unbatched), or averaged over heads with `averageWeights`. */
  weights: Tensor;
  /** The intermediates; only with `trace: true`. */
  trace?: MultiHeadAttentionTrace;
}

/** What {@link MultiHeadAttention.forward} returns with `needWeights: false`: no weights. */
export interface MultiHeadAttentionOutput extends Omit<MultiHeadAttentionResult, "weights"> {
  /** Absent: the caller asked for no weights. */
  weights?: undefined;
}

/**
 * Keys and values projected by earlier calls, for incremental (autoregressive)
 * decoding. Stored per key/value head as `[B, Hkv, T, Dh]`, before the heads
 * are repeated for grouped-query attention.
 *
 * **Contract.** Pass the same cache to successive `forward` calls of one
 * {@link MultiHeadAttention}. Each call projects its `key` and `value` inputs,
 * appends them after the cached ones, and lets its queries attend over every
 * cached key, oldest first. The cache does not know positions: for causal
 * decoding pass no mask when feeding one token per call, or
 * `causalMask(Tq, cache.length + Tq, { align: "bottom-right" })` when feeding
 * Tq tokens at once (the mask's Tk is the total after appending). Fed token by
 * token, the outputs equal one causal pass over the whole sequence. Meant for
 * self-attention; for cross-attention the encoder's keys would be appended
 * again on every call. The batch size must stay the same; {@link KVCache.reset}
 * empties the cache.
 *
 * @example Two calls fill a cache of three steps
 * ```ts
 * import { multiHeadAttention } from "./multi_head_attention.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const mha = multiHeadAttention({ dModel: 4, numHeads: 2 });
 * const cache = mha.createCache();
 * const x = randn([1, 3, 4], new Rng(0));
 * mha.forward(x, x, x, { cache }); // a 3-token prompt, attending bidirectionally (no mask)
 * assert.equal(cache.length, 3);
 * assert.deepEqual(cache.key!.shape, [1, 2, 3, 2]);
 * ```
 */
export class KVCache {
  #key: Tensor | null = null;
  #value: Tensor | null = null;

  /**
   * An empty cache for `numKvHeads` heads of `headDim` features.
   *
   * @param numKvHeads Hkv of the attention that will use it.
   * @param headDim Dh of the attention that will use it.
   * @throws {RangeError} When either size is not a positive integer.
   */
  constructor(readonly numKvHeads: number, readonly headDim: number) {
    for (const [name, v] of [["numKvHeads", numKvHeads], ["headDim", headDim]] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw new RangeError(`KVCache: ${name} must be a positive integer, got ${String(v)}`);
      }
    }
  }

  /** Number of cached time steps. */
  get length(): number {
    return this.#key ? this.#key.shape[2] : 0;
  }

  /** Cached keys `[B, Hkv, T, Dh]`, or null while empty. */
  get key(): Tensor | null {
    return this.#key;
  }

  /** Cached values `[B, Hkv, T, Dh]`, or null while empty. */
  get value(): Tensor | null {
    return this.#value;
  }

  /**
   * Appends new keys and values (each `[B, Hkv, Tnew, Dh]`) and returns everything cached.
   *
   * @param key New keys `[B, Hkv, Tnew, Dh]`.
   * @param value New values `[B, Hkv, Tnew, Dh]`.
   * @returns The cached keys and values after appending, `[B, Hkv, T, Dh]` each.
   * @throws {RangeError} When the shapes do not fit this cache or its batch size.
   *
   * @example Append one step
   * ```ts
   * import { KVCache } from "./multi_head_attention.ts";
   * import { zeros } from "../tensor/tensor.ts";
   * import assert from "node:assert/strict";
   * const cache = new KVCache(1, 2);
   * const { key } = cache.append(zeros([1, 1, 1, 2]), zeros([1, 1, 1, 2]));
   * assert.deepEqual(key.shape, [1, 1, 1, 2]);
   * ```
   */
  append(key: Tensor, value: Tensor): { key: Tensor; value: Tensor } {
    checkTensor(key, "KVCache.append", "key");
    checkTensor(value, "KVCache.append", "value");
    const b = this.#key ? this.#key.shape[0] : key.shape[0];
    for (const [name, t] of [["key", key], ["value", value]] as const) {
      const ok = t.rank === 4 && t.shape[0] === b && t.shape[1] === this.numKvHeads &&
        t.shape[2] === key.shape[2] && t.shape[3] === this.headDim;
      if (!ok) {
        throw new RangeError(
          `KVCache.append: ${name} must be [B=${b}, Hkv=${this.numKvHeads}, T, Dh=${this.headDim}]` +
            ` (key and value with the same T, B as cached so far), got key=${
              formatShape(key.shape)
            }, value=${formatShape(value.shape)}`,
        );
      }
    }
    this.#key = this.#key ? concatTime(this.#key, key) : key;
    this.#value = this.#value ? concatTime(this.#value, value) : value;
    return { key: this.#key, value: this.#value! };
  }

  /** Empties the cache (to decode a new sequence, possibly with another batch size). */
  reset(): void {
    this.#key = null;
    this.#value = null;
  }
}

/** One checkpoint entry: a PyTorch key and the parameters stacked (along axis 0) under it. */
interface _CheckpointEntry {
  key: string;
  parts: Tensor[];
}

/**
 * Multi-head attention as a {@link Module}. Build one with {@link multiHeadAttention}.
 *
 * **Parameters** (PyTorch `nn.Linear` layout `[out, in]`, so a projection is
 * `y = x·Wᵀ + b`; rows `h·Dh .. (h+1)·Dh` of a projection belong to head h):
 *
 * | parameter | shape | paper | PyTorch key |
 * |---|---|---|---|
 * | `queryWeight` | `[E, E]` | W^Q = [W^Q_1 … W^Q_H], transposed | `in_proj_weight[0:E]` or `q_proj_weight` |
 * | `keyWeight` | `[Hkv·Dh, kDim]` | W^K, transposed | `in_proj_weight[E:2E]` or `k_proj_weight` |
 * | `valueWeight` | `[Hkv·Dh, vDim]` | W^V, transposed | `in_proj_weight[2E:3E]` or `v_proj_weight` |
 * | `outputWeight` | `[E, E]` | W^O, transposed | `out_proj.weight` |
 * | `queryBias`, `keyBias`, `valueBias` | `[E]`, `[Hkv·Dh]`, `[Hkv·Dh]` | (not in the paper) | `in_proj_bias` (stacked) or `q/k/v_proj_bias` |
 * | `outputBias` | `[E]` | (not in the paper) | `out_proj.bias` |
 *
 * `parameters()` uses the names on the left; `stateDict()` / `loadStateDict()`
 * use PyTorch's, in one of three layouts:
 * - kDim = vDim = E, Hkv = H: `in_proj_weight [3E, E]`, `in_proj_bias [3E]` (q, k, v stacked);
 * - kDim or vDim ≠ E: `q_proj_weight [E, E]`, `k_proj_weight [E, kDim]`, `v_proj_weight [E, vDim]`, `in_proj_bias [3E]`;
 * - grouped-query (Hkv < H, no PyTorch equivalent): `q_proj_weight`, `k_proj_weight`, `v_proj_weight`,
 *   `q_proj_bias`, `k_proj_bias`, `v_proj_bias`;
 *
 * always followed by `out_proj.weight` and `out_proj.bias`. Biases are absent with `bias: false`.
 * Inside a larger model the same names appear under its prefix (`encoder.layers.0.self_attn.in_proj_weight`).
 *
 * **Initialisation** follows PyTorch: Xavier-uniform projections (over the stacked
 * `[3E, E]` matrix in the first layout, per matrix otherwise), `outputWeight`
 * uniform in ±1/√E, biases 0.
 *
 * @example Self-attention over a batch
 * ```ts
 * import { multiHeadAttention } from "./multi_head_attention.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const mha = multiHeadAttention({ dModel: 8, numHeads: 2, seed: 1 });
 * const x = randn([3, 5, 8], new Rng(0)); // [B, T, E]
 * const { output, weights } = mha.forward(x, x, x);
 * assert.deepEqual(output.shape, [3, 5, 8]);
 * assert.deepEqual(weights.shape, [3, 2, 5, 5]); // per head
 * assert.deepEqual(Object.keys(mha.stateDict()), [
 *   "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
 * ]);
 * ```
 */
export class MultiHeadAttention extends Module {
  /** Model width E. */
  readonly dModel: number;
  /** Query heads H. */
  readonly numHeads: number;
  /** Key/value heads Hkv (H for plain MHA, 1 for multi-query). */
  readonly numKvHeads: number;
  /** Features per head Dh = E / H. */
  readonly headDim: number;
  /** Key input feature size. */
  readonly kDim: number;
  /** Value input feature size. */
  readonly vDim: number;
  /** Probability of dropping an attention weight in training mode. */
  readonly dropout: number;
  /** W^Q, `[E, E]`. */
  readonly queryWeight: Tensor;
  /** W^K, `[Hkv·Dh, kDim]`. */
  readonly keyWeight: Tensor;
  /** W^V, `[Hkv·Dh, vDim]`. */
  readonly valueWeight: Tensor;
  /** W^O, `[E, E]`. */
  readonly outputWeight: Tensor;
  /** `[E]`, or null without biases. */
  readonly queryBias: Tensor | null;
  /** `[Hkv·Dh]`, or null without biases. */
  readonly keyBias: Tensor | null;
  /** `[Hkv·Dh]`, or null without biases. */
  readonly valueBias: Tensor | null;
  /** `[E]`, or null without biases. */
  readonly outputBias: Tensor | null;

  /**
   * Validates the configuration and initialises the parameters; see {@link multiHeadAttention}.
   *
   * @param options The configuration.
   * @throws {RangeError} Non-positive or non-integer sizes, `dModel % numHeads !== 0`,
   *   `numKvHeads` not dividing `numHeads`, `dropout` outside [0, 1).
   * @throws {TypeError} A non-integer seed or a non-boolean `bias`.
   */
  constructor(options: MultiHeadAttentionOptions) {
    super();
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        "multiHeadAttention: options must be an object like { dModel: 512, numHeads: 8 }",
      );
    }
    const fn = "multiHeadAttention";
    const dModel = _positiveInt(options.dModel, fn, "dModel");
    const numHeads = _positiveInt(options.numHeads, fn, "numHeads");
    const numKvHeads = _positiveInt(options.numKvHeads ?? numHeads, fn, "numKvHeads");
    const kDim = _positiveInt(options.kDim ?? dModel, fn, "kDim");
    const vDim = _positiveInt(options.vDim ?? dModel, fn, "vDim");
    if (dModel % numHeads !== 0) {
      throw new RangeError(
        `multiHeadAttention: dModel must be divisible by numHeads, got dModel=${dModel}, numHeads=${numHeads}`,
      );
    }
    if (numHeads % numKvHeads !== 0) {
      throw new RangeError(
        `multiHeadAttention: numKvHeads must divide numHeads, got numHeads=${numHeads}, numKvHeads=${numKvHeads}`,
      );
    }
    const dropout = _dropProbability(options.dropout ?? 0, fn, "dropout");
    const bias = _boolean(options.bias ?? true, fn, "bias");
    const seed = _seed(options.seed ?? 0, fn, "seed");
    this.dModel = dModel;
    this.numHeads = numHeads;
    this.numKvHeads = numKvHeads;
    this.headDim = dModel / numHeads;
    this.kDim = kDim;
    this.vDim = vDim;
    this.dropout = dropout;
    this.useSeed(seed);
    const rng = new Rng(seed);

    // PyTorch's init: xavier_uniform_ bound √(6 / (fan_in + fan_out)); the packed
    // layout draws q, k and v from one [3E, E] matrix, so fan_out is 3E there.
    const kvOut = numKvHeads * this.headDim;
    const packed = this.#layout() === "packed";
    const xavier = (out: number, inp: number, fanOut: number) => {
      const bound = Math.sqrt(6 / (inp + fanOut));
      return rand([out, inp], rng, { low: -bound, high: bound });
    };
    this.queryWeight = this.registerParameter(
      "queryWeight",
      xavier(dModel, dModel, packed ? 3 * dModel : dModel),
    );
    this.keyWeight = this.registerParameter(
      "keyWeight",
      xavier(kvOut, kDim, packed ? 3 * dModel : kvOut),
    );
    this.valueWeight = this.registerParameter(
      "valueWeight",
      xavier(kvOut, vDim, packed ? 3 * dModel : kvOut),
    );
    // nn.Linear's default (kaiming_uniform_ with a=√5) is uniform in ±1/√fan_in.
    const outBound = 1 / Math.sqrt(dModel);
    this.outputWeight = this.registerParameter(
      "outputWeight",
      rand([dModel, dModel], rng, { low: -outBound, high: outBound }),
    );
    this.queryBias = bias ? this.registerParameter("queryBias", zeros([dModel])) : null;
    this.keyBias = bias ? this.registerParameter("keyBias", zeros([kvOut])) : null;
    this.valueBias = bias ? this.registerParameter("valueBias", zeros([kvOut])) : null;
    this.outputBias = bias ? this.registerParameter("outputBias", zeros([dModel])) : null;
  }

  /**
   * A fresh, empty {@link KVCache} sized for this attention's key/value heads.
   *
   * @returns An empty cache.
   *
   * @example Decoding token by token equals one causal pass
   * ```ts
   * import { multiHeadAttention } from "./multi_head_attention.ts";
   * import { causalMask } from "../attention/masks.ts";
   * import { randn, tensor } from "../tensor/tensor.ts";
   * import { Rng } from "../tensor/rng.ts";
   * import { assertClose } from "../testing/assert_close.ts";
   * import assert from "node:assert/strict";
   * const mha = multiHeadAttention({ dModel: 4, numHeads: 2, seed: 3 });
   * const x = randn([3, 4], new Rng(0)); // unbatched [T=3, E=4]
   * const full = mha.forward(x, x, x, { mask: causalMask(3) }).output.toArray() as number[][];
   * const cache = mha.createCache();
   * const rows = x.toArray() as number[][];
   * for (let t = 0; t < 3; t++) {
   *   const token = tensor([rows[t]]); // [1, E]
   *   const step = mha.forward(token, token, token, { cache }).output; // attends to tokens 0..t
   *   assertClose(step, [full[t]], { atol: 1e-6 });
   * }
   * assert.equal(cache.length, 3);
   * ```
   */
  createCache(): KVCache {
    return new KVCache(this.numKvHeads, this.headDim);
  }

  /**
   * Multi-head attention of `query` over `key`/`value`.
   *
   * @param query `[B, Tq, E]`, or `[Tq, E]` unbatched.
   * @param key `[B, Tk, kDim]` (`[Tk, kDim]`).
   * @param value `[B, Tk, vDim]` (`[Tk, vDim]`).
   * @param options Mask, score bias, KV cache, trace and head averaging.
   * @returns `output [B, Tq, E]`, per-head `weights [B, H, Tq, Tk]` (B dropped when unbatched;
   *   absent with `needWeights: false`) and, with `trace`, the intermediates.
   * @throws {RangeError} Inputs of the wrong rank or feature size, batch or sequence sizes that
   *   differ, a mask or bias that does not broadcast against `[B, H, Tq, Tk]`; the message names
   *   the expected and actual shapes.
   * @throws {TypeError} Non-tensor inputs, a mask that is not a {@link Mask}, a cache that is not a {@link KVCache}.
   *
   * @example Cross-attention with a padding mask
   * ```ts
   * import { multiHeadAttention } from "./multi_head_attention.ts";
   * import { paddingMask } from "../attention/masks.ts";
   * import { randn } from "../tensor/tensor.ts";
   * import { Rng } from "../tensor/rng.ts";
   * import assert from "node:assert/strict";
   * const mha = multiHeadAttention({ dModel: 8, numHeads: 4, kDim: 6, vDim: 6 });
   * const rng = new Rng(0);
   * const target = randn([2, 3, 8], rng), memory = randn([2, 5, 6], rng);
   * const { output, weights, trace } = mha.forward(target, memory, memory, {
   *   mask: paddingMask([5, 2], 5), // the second memory has 2 real tokens
   *   trace: true,
   * });
   * assert.deepEqual(output.shape, [2, 3, 8]);
   * assert.equal(weights.get(1, 0, 0, 4), 0); // padding gets no weight
   * assert.deepEqual(trace!.scores.shape, [2, 4, 3, 5]);
   * ```
   */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options: MultiHeadAttentionForwardOptions & { needWeights: false },
  ): MultiHeadAttentionOutput;
  /** {@link MultiHeadAttention.forward} returning the weights too (the default). */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options?: MultiHeadAttentionForwardOptions,
  ): MultiHeadAttentionResult;
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options: MultiHeadAttentionForwardOptions = {},
  ): MultiHeadAttentionResult | MultiHeadAttentionOutput {
    const fn = "MultiHeadAttention.forward";
    options = _options(options, fn, "options");
    const needWeights = _boolean(options.needWeights ?? true, fn, "needWeights");
    const trace = _boolean(options.trace ?? false, fn, "trace");
    const averageWeights = _boolean(options.averageWeights ?? false, fn, "averageWeights");
    const { batched, batch, tq } = this.#checkInputs(query, key, value);
    const cache = options.cache;
    if (cache !== undefined && !(cache instanceof KVCache)) {
      throw new TypeError(`${fn}: cache must be a KVCache from createCache()`);
    }
    // Work on [B, T, features]; unbatched inputs get B = 1: [T, D] -> [1, T, D].
    const q3 = batched ? query : query.reshape([1, ...query.shape]);
    const k3 = batched ? key : key.reshape([1, ...key.shape]);
    const v3 = batched ? value : value.reshape([1, ...value.shape]);

    // 1) project: Q = query·W^Qᵀ + b, K = key·W^Kᵀ + b, V = value·W^Vᵀ + b, then
    // 2) split heads (and extend the cache): [B, T, H·Dh] -> [B, T, H, Dh] -> [B, H, T, Dh]
    let qHeads: Tensor, kHeads: Tensor, vHeads: Tensor;
    if (query === key && key === value && this.#layout() === "packed") {
      // self-attention: the three projections as one product, like PyTorch's in_proj_weight:
      // [B, T, E] x [3E, E]ᵀ -> [B, T, 3E] -> three [B, H, T, Dh]
      const qkv = linearStacked(
        q3,
        [this.queryWeight, this.keyWeight, this.valueWeight],
        [this.queryBias, this.keyBias, this.valueBias],
      );
      [qHeads, kHeads, vHeads] = splitStackedHeads(qkv, 3, this.numHeads);
    } else {
      const qProj = linear(q3, this.queryWeight, this.queryBias); // [B, Tq, E] x [E, E]ᵀ -> [B, Tq, E]
      const kProj = linear(k3, this.keyWeight, this.keyBias); // [B, Tk, kDim] x [Hkv·Dh, kDim]ᵀ -> [B, Tk, Hkv·Dh]
      const vProj = linear(v3, this.valueWeight, this.valueBias); // [B, Tk, vDim] x [Hkv·Dh, vDim]ᵀ -> [B, Tk, Hkv·Dh]
      qHeads = splitHeads(qProj, this.numHeads); // [B, H, Tq, Dh]
      kHeads = splitHeads(kProj, this.numKvHeads); // [B, Hkv, Tk, Dh]
      vHeads = splitHeads(vProj, this.numKvHeads); // [B, Hkv, Tk, Dh]
    }
    if (cache) {
      if (cache.numKvHeads !== this.numKvHeads || cache.headDim !== this.headDim) {
        throw new RangeError(
          `${fn}: cache holds ${cache.numKvHeads} heads of ${cache.headDim} features, this attention needs ${this.numKvHeads} of ${this.headDim}; use createCache()`,
        );
      }
      if (cache.length > 0 && cache.key!.shape[0] !== batch) {
        throw new RangeError(
          `${fn}: cache holds a batch of ${
            cache.key!.shape[0]
          } sequences, inputs have ${batch}; call cache.reset() for a new batch`,
        );
      }
      ({ key: kHeads, value: vHeads } = cache.append(kHeads, vHeads)); // [B, Hkv, Tcached + Tk, Dh]
    }
    const tk = kHeads.shape[2];
    const scores = batched ? [batch, this.numHeads, tq, tk] : [this.numHeads, tq, tk];
    const axes = batched ? ["B", "H", "Tq", "Tk"] : ["H", "Tq", "Tk"];
    checkScoresOperand(fn, "mask", options.mask, scores, axes);
    checkScoresOperand(fn, "bias", options.bias, scores, axes, "bias");

    // 3) attend, each query head over its key/value head:
    //    [B, Hkv, Tk, Dh] -> [B, H, Tk, Dh] (each kv head repeated H/Hkv times), then
    //    softmax([B, H, Tq, Dh] x [B, H, Dh, Tk] / √Dh) x [B, H, Tk, Dh] -> [B, H, Tq, Dh]
    const groups = this.numHeads / this.numKvHeads;
    const attention = scaledDotProductAttention(
      qHeads,
      repeatHeads(kHeads, groups),
      repeatHeads(vHeads, groups),
      {
        mask: options.mask,
        bias: options.bias,
        dropout: this.training ? this.dropout : 0,
        // the next call of this module's stream: hashKey(root seed, path)
        dropoutKey: this.training && this.dropout > 0 ? this.nextRandomKey() : undefined,
        returnScores: trace,
        needWeights,
      },
    );

    // 4) concat heads: [B, H, Tq, Dh] -> [B, Tq, H, Dh] -> [B, Tq, E]
    const concat = mergeHeads(attention.output);

    // 5) output projection: [B, Tq, E] x [E, E]ᵀ -> [B, Tq, E]
    const output = linear(concat, this.outputWeight, this.outputBias);

    // Unbatched results drop the B axis again: [1, ...] -> [...].
    const unbatch = (t: Tensor): Tensor => batched ? t : t.reshape(t.shape.slice(1));
    const perHead: Tensor | undefined = attention.weights; // absent with needWeights: false
    const result: MultiHeadAttentionResult | MultiHeadAttentionOutput = perHead
      ? {
        output: unbatch(output),
        weights: unbatch(averageWeights ? averageHeads(perHead) : perHead),
      }
      : { output: unbatch(output) };
    if (trace) {
      result.trace = {
        query: unbatch(qHeads),
        key: unbatch(kHeads),
        value: unbatch(vHeads),
        scores: unbatch(attention.scores!),
        concat: unbatch(concat),
      };
    }
    return result;
  }

  /**
   * The parameters under PyTorch's `nn.MultiheadAttention` names (copies); see the class
   * documentation for the three layouts.
   *
   * @returns Tensors by PyTorch key, in PyTorch's order.
   *
   * @example kDim ≠ dModel uses separate projection weights
   * ```ts
   * import { multiHeadAttention } from "./multi_head_attention.ts";
   * import assert from "node:assert/strict";
   * const sd = multiHeadAttention({ dModel: 4, numHeads: 2, kDim: 3, vDim: 5 }).stateDict();
   * assert.deepEqual(sd["k_proj_weight"].shape, [4, 3]);
   * assert.deepEqual(sd["in_proj_bias"].shape, [12]);
   * ```
   */
  override stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const { key, parts } of this.#checkpointEntries()) out[key] = stack(parts);
    return out;
  }

  /**
   * The gradients under the {@link stateDict} names: `in_proj_weight`'s is the Q, K and V
   * weight gradients stacked `[3E, E]` (zeros for a part without one; null when none of
   * the three has one), like the gradient of PyTorch's single `in_proj_weight`.
   *
   * @example Self-attention: one stacked gradient, as PyTorch's
   * ```ts
   * import { multiHeadAttention } from "./multi_head_attention.ts";
   * import { randn } from "../tensor/tensor.ts";
   * import { Rng } from "../tensor/rng.ts";
   * import { sum } from "../tensor/reduce.ts";
   * import assert from "node:assert/strict";
   * const mha = multiHeadAttention({ dModel: 4, numHeads: 2, seed: 1 });
   * const x = randn([2, 3, 4], new Rng(0));
   * sum(mha.forward(x, x, x, { needWeights: false }).output).backward();
   * const g = mha.grads();
   * assert.deepEqual(Object.keys(g), mha.stateDictKeys());
   * assert.deepEqual(g.in_proj_weight!.shape, [12, 4]);
   * ```
   */
  override grads(): Record<string, Tensor | null> {
    const out: Record<string, Tensor | null> = {};
    for (const { key, parts } of this.#checkpointEntries()) {
      out[key] = parts.every((p) => p.grad === null)
        ? null
        : stack(parts.map((p) => p.grad ?? zeros(p.shape)));
    }
    return out;
  }

  /** The keys of {@link stateDict}, in PyTorch's order, without stacking any tensor. */
  override stateDictKeys(): string[] {
    return this.#checkpointEntries().map((e) => e.key);
  }

  /**
   * Loads this module's PyTorch-named entries under `prefix` (called by `loadStateDict`,
   * also when this attention sits inside a larger model).
   *
   * @param dict Tensors by (prefixed) PyTorch key.
   * @param prefix Prepended to every key, e.g. `"encoder.layers.0.self_attn."`.
   * @param strict Throw on a missing key.
   * @throws {RangeError} A missing key (with `strict`) or a tensor of the wrong shape, naming the
   *   key and both shapes.
   */
  protected override loadOwn(dict: Record<string, Tensor>, prefix: string, strict: boolean): void {
    for (const { key, parts } of this.#checkpointEntries()) {
      const name = prefix + key;
      if (!(name in dict)) {
        if (strict) throw new RangeError(`MultiHeadAttention.loadStateDict: missing key ${name}`);
        continue;
      }
      const source = dict[name];
      if (parts.length === 1) {
        copyInto(parts[0], source, name, "MultiHeadAttention");
        continue;
      }
      // A stacked entry (in_proj_weight / in_proj_bias): check the whole, then copy each slice.
      const expected = [parts.reduce((n, p) => n + p.shape[0], 0), ...parts[0].shape.slice(1)];
      checkTensor(source, "MultiHeadAttention.loadStateDict", name);
      if (source.rank !== expected.length || source.shape.some((d, i) => d !== expected[i])) {
        throw new RangeError(
          `MultiHeadAttention.loadStateDict: ${name} has shape ${
            formatShape(source.shape)
          }, expected ${formatShape(expected)}`,
        );
      }
      let offset = 0;
      for (const p of parts) {
        writeParameter(p, source.data.subarray(offset, offset + p.size));
        offset += p.size;
      }
    }
  }

  /** Which PyTorch naming this configuration uses. */
  #layout(): "packed" | "separate" | "grouped" {
    if (this.numKvHeads !== this.numHeads) return "grouped";
    return this.kDim === this.dModel && this.vDim === this.dModel ? "packed" : "separate";
  }

  /** PyTorch keys in PyTorch's order, each with the parameters stacked under it. */
  #checkpointEntries(): _CheckpointEntry[] {
    const layout = this.#layout();
    const biases = this.queryBias ? [this.queryBias, this.keyBias!, this.valueBias!] : null;
    const entries: _CheckpointEntry[] = [];
    if (layout === "packed") {
      entries.push({
        key: "in_proj_weight",
        parts: [this.queryWeight, this.keyWeight, this.valueWeight],
      });
    } else {
      entries.push({ key: "q_proj_weight", parts: [this.queryWeight] });
      entries.push({ key: "k_proj_weight", parts: [this.keyWeight] });
      entries.push({ key: "v_proj_weight", parts: [this.valueWeight] });
    }
    if (biases && layout === "grouped") {
      entries.push({ key: "q_proj_bias", parts: [biases[0]] });
      entries.push({ key: "k_proj_bias", parts: [biases[1]] });
      entries.push({ key: "v_proj_bias", parts: [biases[2]] });
    } else if (biases) {
      entries.push({ key: "in_proj_bias", parts: biases });
    }
    entries.push({ key: "out_proj.weight", parts: [this.outputWeight] });
    if (this.outputBias) entries.push({ key: "out_proj.bias", parts: [this.outputBias] });
    return entries;
  }

  /** Checks ranks, feature sizes and batch/sequence agreement of query, key and value. */
  #checkInputs(
    query: Tensor,
    key: Tensor,
    value: Tensor,
  ): { batched: boolean; batch: number; tq: number } {
    const fn = "MultiHeadAttention.forward";
    checkTensor(query, fn, "query");
    checkTensor(key, fn, "key");
    checkTensor(value, fn, "value");
    const batched = query.rank === 3;
    const lead = batched ? "B, " : "";
    const expect = (name: string, t: Tensor, time: string, features: number, label: string) => {
      if (t.rank !== query.rank || t.shape[t.rank - 1] !== features) {
        throw new RangeError(
          `${fn}: ${name} must be [${lead}${time}, ${label}=${features}]${
            name === "query"
              ? ` or [${time}, ${label}=${features}] unbatched`
              : " (the same rank as query)"
          }, got ${name}=${formatShape(t.shape)}`,
        );
      }
    };
    if (query.rank !== 2 && query.rank !== 3) {
      throw new RangeError(
        `${fn}: query must be [B, Tq, dModel=${this.dModel}] or unbatched [Tq, dModel=${this.dModel}], got query=${
          formatShape(query.shape)
        }`,
      );
    }
    expect("query", query, "Tq", this.dModel, "dModel");
    expect("key", key, "Tk", this.kDim, "kDim");
    expect("value", value, "Tk", this.vDim, "vDim");
    const lk = key.shape.slice(0, -1), lv = value.shape.slice(0, -1);
    if (lk.some((d, i) => d !== lv[i])) {
      throw new RangeError(
        `${fn}: key and value must have the same ${
          batched ? "batch size and " : ""
        }length Tk, got key=${formatShape(key.shape)}, value=${formatShape(value.shape)}`,
      );
    }
    if (batched && query.shape[0] !== key.shape[0]) {
      throw new RangeError(
        `${fn}: query and key batch sizes differ, got query=${formatShape(query.shape)}, key=${
          formatShape(key.shape)
        }`,
      );
    }
    return { batched, batch: batched ? query.shape[0] : 1, tq: query.shape[query.rank - 2] };
  }
}

/** Concatenates tensors along axis 0 into a new tensor. */
function stack(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0].clone();
  const data = new Float32Array(parts.reduce((n, p) => n + p.size, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.size;
  }
  return new Tensor(data, [parts.reduce((n, p) => n + p.shape[0], 0), ...parts[0].shape.slice(1)]);
}

/**
 * Builds a {@link MultiHeadAttention}, initialised like PyTorch's `nn.MultiheadAttention` from `seed`.
 *
 * @param options `dModel`, `numHeads` and optionally `numKvHeads`, `kDim`, `vDim`, `bias`, `dropout`, `seed`.
 * @returns A module in eval mode (call `.train()` to enable attention dropout).
 * @throws {RangeError} Non-positive sizes, `dModel % numHeads !== 0`, `numKvHeads` not dividing `numHeads`.
 *
 * @example Grouped-query attention: 4 query heads share 2 key/value heads
 * ```ts
 * import { multiHeadAttention } from "./multi_head_attention.ts";
 * import assert from "node:assert/strict";
 * const gqa = multiHeadAttention({ dModel: 8, numHeads: 4, numKvHeads: 2 });
 * assert.deepEqual(gqa.keyWeight.shape, [4, 8]); // Hkv·Dh = 2·2
 * assert.throws(() => multiHeadAttention({ dModel: 8, numHeads: 3 }), RangeError);
 * ```
 */
export function multiHeadAttention(options: MultiHeadAttentionOptions): MultiHeadAttention {
  return new MultiHeadAttention(options);
}

/**
 * Averages attention weights over the head axis, like PyTorch's `average_attn_weights=True`:
 * `[B, H, Tq, Tk] -> [B, Tq, Tk]`, or unbatched `[H, Tq, Tk] -> [Tq, Tk]`.
 *
 * @param weights Per-head weights, 4-D (batched) or 3-D (unbatched).
 * @returns The mean over heads (accumulated in float64).
 * @throws {RangeError} When `weights` is not 3-D or 4-D.
 *
 * @example Two heads average to their mean
 * ```ts
 * import { averageHeads } from "./multi_head_attention.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([[[1, 0]], [[0, 1]]]); // [H=2, Tq=1, Tk=2]
 * assert.deepEqual(averageHeads(w).toArray(), [[0.5, 0.5]]);
 * ```
 */
export function averageHeads(weights: Tensor): Tensor {
  checkTensor(weights, "averageHeads", "weights");
  if (weights.rank !== 3 && weights.rank !== 4) {
    throw new RangeError(
      `averageHeads: weights must be [B, H, Tq, Tk] or unbatched [H, Tq, Tk], got ${
        formatShape(weights.shape)
      }`,
    );
  }
  const batched = weights.rank === 4;
  const [b, h, tq, tk] = batched ? weights.shape : [1, ...weights.shape];
  const block = tq * tk; // one head's [Tq, Tk]
  const out = new Float32Array(b * block);
  const sum = new Float64Array(block);
  for (let i = 0; i < b; i++) {
    sum.fill(0);
    for (let j = 0; j < h; j++) {
      const off = (i * h + j) * block;
      for (let e = 0; e < block; e++) sum[e] += weights.data[off + e];
    }
    for (let e = 0; e < block; e++) out[i * block + e] = sum[e] / h;
  }
  // [B, H, Tq, Tk] -> [B, Tq, Tk]
  return recordOp(
    "averageHeads",
    [weights],
    new Tensor(out, batched ? [b, tq, tk] : [tq, tk]),
    (g) => {
      // avg = (1/H) Σ_h w_h, so dw_h = dAvg / H for every head
      const dw = new Float32Array(weights.size);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < h; j++) {
          const off = (i * h + j) * block;
          for (let e = 0; e < block; e++) dw[off + e] = g.data[i * block + e] / h;
        }
      }
      return [new Tensor(dw, weights.shape)];
    },
  );
}
