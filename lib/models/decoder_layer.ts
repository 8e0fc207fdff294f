/**
 * One Transformer decoder layer: masked self-attention over the target, then
 * cross-attention whose keys and values come from the **whole** encoder output
 * (the memory), then the feed-forward layer; each wrapped in Add & Norm.
 *
 * Post-norm (the paper):
 * $$x \leftarrow \mathrm{LN}_1(x + \mathrm{SelfAttn}(x)),\; x \leftarrow \mathrm{LN}_2(x + \mathrm{CrossAttn}(x, m)),\; x \leftarrow \mathrm{LN}_3(x + \mathrm{FFN}(x))$$
 *
 * @module
 */

import { addNorm } from "../layers/add_norm.ts";
import type { Dropout } from "../layers/dropout.ts";
import type { FeedForward } from "../layers/feed_forward.ts";
import type { LayerNorm } from "../layers/layer_norm.ts";
import { Module } from "../layers/module.ts";
import type { Mask } from "../tensor/mask.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkMask,
  forwardOptions,
  layerAttention,
  type LayerConfig,
  layerDropout,
  layerFeedForward,
  layerNorm,
  needWeightsOption,
  type ResolvedLayerConfig,
  resolveLayerConfig,
  sameBatch,
  sequenceInput,
  unbatch,
} from "./_config.ts";
import { KVCache, type MultiHeadAttention } from "./multi_head_attention.ts";

/** Options of {@link DecoderLayer.forward}. */
export interface DecoderLayerForwardOptions {
  /** Self-attention mask over the target, `true` = may attend; usually `causalMask(T)`. */
  tgtMask?: Mask;
  /** Cross-attention mask over the memory, e.g. the source padding mask `[B, 1, 1, S]`. */
  memoryMask?: Mask;
  /**
   * Self-attention KV cache for incremental decoding: feed one new target
   * position per call (no `tgtMask` needed then).
   */
  cache?: KVCache;
  /**
   * Return the attention weights; default true. `false` (PyTorch's
   * `need_weights=False`) leaves `selfWeights` and `crossWeights` out; same output.
   */
  needWeights?: boolean;
}

/** What {@link DecoderLayer.forward} returns (the naming scheme: lib/models/README.md). */
export interface DecoderLayerResult {
  /** `[B, T, dModel]` (`[T, dModel]` unbatched). */
  output: Tensor;
  /** Masked self-attention weights per head, `[B, H, T, T]` (`[B, H, T, cached + T]` with a cache; B dropped unbatched). */
  selfWeights: Tensor;
  /** Cross-attention weights per head over the memory, `[B, H, T, S]` (B dropped unbatched). */
  crossWeights: Tensor;
}

/** What {@link DecoderLayer.forward} returns with `needWeights: false`. */
export interface DecoderLayerOutput {
  /** `[B, T, dModel]` (`[T, dModel]` unbatched). */
  output: Tensor;
  /** Absent: the caller asked for no weights. */
  selfWeights?: undefined;
  /** Absent: the caller asked for no weights. */
  crossWeights?: undefined;
}

/**
 * A Transformer decoder layer under PyTorch `nn.TransformerDecoderLayer`'s
 * names: `self_attn.*`, `multihead_attn.*` (cross-attention), `linear1.*`,
 * `linear2.*`, `norm1.*`, `norm2.*`, `norm3.*`.
 *
 * @example Cross-attention reads every encoder position
 * ```ts
 * import { decoderLayer } from "./decoder_layer.ts";
 * import { causalMask } from "../attention/masks.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const layer = decoderLayer({ dModel: 8, numHeads: 2, dFF: 16 });
 * const rng = new Rng(1);
 * const tgt = randn([1, 3, 8], rng), memory = randn([1, 5, 8], rng);
 * const r = layer.forward(tgt, memory, { tgtMask: causalMask(3) });
 * assert.deepEqual(r.crossWeights.shape, [1, 2, 3, 5]);
 * assert.equal(r.selfWeights.get(0, 0, 0, 2), 0); // no peeking at future targets
 * ```
 */
export class DecoderLayer extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<ResolvedLayerConfig>;
  /** Masked multi-head self-attention (`self_attn`). */
  readonly selfAttn: MultiHeadAttention;
  /** Cross-attention over the encoder output (`multihead_attn`). */
  readonly crossAttn: MultiHeadAttention;
  /** The position-wise feed-forward block (parameters `linear1.*`, `linear2.*`). */
  readonly feedForward: FeedForward;
  /** LayerNorm around self-attention. */
  readonly norm1: LayerNorm;
  /** LayerNorm around cross-attention. */
  readonly norm2: LayerNorm;
  /** LayerNorm around the feed-forward layer. */
  readonly norm3: LayerNorm;
  /** Dropout on the self-attention output, before the residual add. */
  readonly dropout1: Dropout;
  /** Dropout on the cross-attention output, before the residual add. */
  readonly dropout2: Dropout;
  /** Dropout on the feed-forward output, before the residual add. */
  readonly dropout3: Dropout;

  /**
   * Builds the layer; see {@link LayerConfig} for the defaults. Each part is
   * seeded by `childSeed(seed, name)`; every dropout draws from the stream of its path.
   *
   * @throws {RangeError} Invalid sizes (e.g. `dModel` not divisible by `numHeads`).
   * @throws {TypeError} An option of the wrong type (e.g. `normFirst: "false"`).
   */
  constructor(config: LayerConfig) {
    super();
    const c = resolveLayerConfig(config, "DecoderLayer");
    this.config = c;
    this.useSeed(c.seed);
    this.selfAttn = this.registerModule("self_attn", layerAttention(c, "self_attn"));
    this.crossAttn = this.registerModule("multihead_attn", layerAttention(c, "multihead_attn"));
    this.feedForward = this.registerModule("feedForward", layerFeedForward(c), { inline: true });
    this.norm1 = this.registerModule("norm1", layerNorm(c));
    this.norm2 = this.registerModule("norm2", layerNorm(c));
    this.norm3 = this.registerModule("norm3", layerNorm(c));
    this.dropout1 = this.registerModule("dropout1", layerDropout(c));
    this.dropout2 = this.registerModule("dropout2", layerDropout(c));
    this.dropout3 = this.registerModule("dropout3", layerDropout(c));
  }

  /**
   * Runs the layer on target `x [B, T, dModel]` against `memory [B, S, dModel]`
   * (or both unbatched, `[T, dModel]` and `[S, dModel]`).
   *
   * @throws {RangeError} Wrong feature sizes, batch sizes that differ, masks that do not
   *   broadcast against the scores.
   */
  forward(
    x: Tensor,
    memory: Tensor,
    options: DecoderLayerForwardOptions & { needWeights: false },
  ): DecoderLayerOutput;
  /** {@link DecoderLayer.forward} returning the weights too (the default). */
  forward(x: Tensor, memory: Tensor, options?: DecoderLayerForwardOptions): DecoderLayerResult;
  forward(
    x: Tensor,
    memory: Tensor,
    options?: DecoderLayerForwardOptions,
  ): DecoderLayerResult | DecoderLayerOutput {
    const fn = "DecoderLayer.forward";
    const o = forwardOptions(options, fn);
    const { dModel, numHeads, normFirst } = this.config;
    const tgt = sequenceInput(x, dModel, fn, "x");
    const mem = sequenceInput(memory, dModel, fn, "memory");
    sameBatch(tgt, mem, fn, ["x", "memory"], [x.shape, memory.shape]);
    if (o.cache !== undefined && !(o.cache instanceof KVCache)) {
      throw new TypeError(`${fn}: cache must be a KVCache from selfAttn.createCache()`);
    }
    const { batch, length } = tgt;
    const cached = o.cache?.length ?? 0;
    checkMask(o.tgtMask, [batch, numHeads, length, cached + length], fn, "tgtMask");
    checkMask(o.memoryMask, [batch, numHeads, length, mem.length], fn, "memoryMask");
    const needWeights = needWeightsOption(o.needWeights, fn);
    let selfWeights: Tensor | undefined, crossWeights: Tensor | undefined;
    const selfAttn = (h: Tensor): Tensor => {
      const r = this.selfAttn.forward(h, h, h, { mask: o.tgtMask, cache: o.cache, needWeights });
      selfWeights = r.weights;
      return r.output;
    };
    // K and V come from the whole encoder output, Q from the decoder.
    const crossAttn = (h: Tensor): Tensor => {
      const r = this.crossAttn.forward(h, mem.x, mem.x, { mask: o.memoryMask, needWeights });
      crossWeights = r.weights;
      return r.output;
    };
    // post-norm: x = LN1(x + Dropout(SelfAttn(x)));     pre-norm: x = x + Dropout(SelfAttn(LN1(x)))
    let h = addNorm(tgt.x, selfAttn, this.norm1, { normFirst, dropout: this.dropout1 });
    // post-norm: x = LN2(x + Dropout(CrossAttn(x, m))); pre-norm: x = x + Dropout(CrossAttn(LN2(x), m))
    h = addNorm(h, crossAttn, this.norm2, { normFirst, dropout: this.dropout2 });
    // post-norm: x = LN3(x + Dropout(FFN(x)));          pre-norm: x = x + Dropout(FFN(LN3(x)))
    h = addNorm(h, this.feedForward, this.norm3, { normFirst, dropout: this.dropout3 });
    const output = unbatch(h, tgt.unbatched);
    if (!selfWeights || !crossWeights) return { output };
    return {
      output,
      selfWeights: unbatch(selfWeights, tgt.unbatched),
      crossWeights: unbatch(crossWeights, tgt.unbatched),
    };
  }
}

/**
 * Builds a {@link DecoderLayer}.
 *
 * @example PyTorch names
 * ```ts
 * import { decoderLayer } from "./decoder_layer.ts";
 * import assert from "node:assert/strict";
 * const keys = Object.keys(decoderLayer({ dModel: 4, numHeads: 1, dFF: 8 }).stateDict());
 * assert.ok(keys.includes("multihead_attn.in_proj_weight") && keys.includes("norm3.bias"));
 * ```
 */
export function decoderLayer(config: LayerConfig): DecoderLayer {
  return new DecoderLayer(config);
}
