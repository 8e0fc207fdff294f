/**
 * One Transformer encoder layer: self-attention, then the feed-forward layer,
 * each wrapped in a residual connection and LayerNorm (Add & Norm).
 *
 * Post-norm (the paper, `normFirst: false`):
 * $$x \leftarrow \mathrm{LN}_1(x + \mathrm{SelfAttn}(x)), \quad x \leftarrow \mathrm{LN}_2(x + \mathrm{FFN}(x))$$
 * Pre-norm (`normFirst: true`):
 * $$x \leftarrow x + \mathrm{SelfAttn}(\mathrm{LN}_1(x)), \quad x \leftarrow x + \mathrm{FFN}(\mathrm{LN}_2(x))$$
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
  sequenceInput,
  unbatch,
} from "./_config.ts";
import type { MultiHeadAttention } from "./multi_head_attention.ts";

/** What {@link EncoderLayer.forward} returns (the naming scheme: lib/models/README.md). */
export interface EncoderLayerResult {
  /** `[B, S, dModel]` (`[S, dModel]` unbatched). */
  output: Tensor;
  /** Self-attention weights per head, `[B, H, S, S]` (`[H, S, S]` unbatched). */
  selfWeights: Tensor;
}

/** What {@link EncoderLayer.forward} returns with `needWeights: false`. */
export interface EncoderLayerOutput extends Omit<EncoderLayerResult, "selfWeights"> {
  /** Absent: the caller asked for no weights. */
  selfWeights?: undefined;
}

/** Options of {@link EncoderLayer.forward}. */
export interface EncoderLayerForwardOptions {
  /** `true` = may attend, broadcast against `[B, H, S, S]`. */
  mask?: Mask;
  /**
   * Return the self-attention weights; default true. `false` skips copying
   * them out, as PyTorch's layer does (`need_weights=False`); same output.
   */
  needWeights?: boolean;
}

/**
 * A Transformer encoder layer under PyTorch `nn.TransformerEncoderLayer`'s names:
 * `self_attn.*`, `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`. The feed-forward
 * block is the child `feedForward`, registered inline, so its `linear1`/`linear2`
 * appear directly on the layer as in PyTorch.
 *
 * @example Encode two sequences, the second padded
 * ```ts
 * import { encoderLayer } from "./encoder_layer.ts";
 * import { paddingMask } from "../attention/masks.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const layer = encoderLayer({ dModel: 8, numHeads: 2, dFF: 16 });
 * const x = randn([2, 4, 8], new Rng(0));
 * const { output, selfWeights } = layer.forward(x, { mask: paddingMask([4, 2], 4) });
 * assert.deepEqual(output.shape, [2, 4, 8]);
 * assert.equal(selfWeights.get(1, 0, 0, 3), 0); // padding gets no attention
 * ```
 */
export class EncoderLayer extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<ResolvedLayerConfig>;
  /** Multi-head self-attention (`self_attn`). */
  readonly selfAttn: MultiHeadAttention;
  /** The position-wise feed-forward block (parameters `linear1.*`, `linear2.*`). */
  readonly feedForward: FeedForward;
  /** LayerNorm around the attention sublayer. */
  readonly norm1: LayerNorm;
  /** LayerNorm around the feed-forward sublayer. */
  readonly norm2: LayerNorm;
  /** Dropout on the attention sublayer's output, before the residual add. */
  readonly dropout1: Dropout;
  /** Dropout on the feed-forward sublayer's output, before the residual add. */
  readonly dropout2: Dropout;

  /**
   * Builds the layer; see {@link LayerConfig} for the defaults. Each part is
   * seeded by `childSeed(seed, name)`; every dropout draws from the stream of its path.
   *
   * @throws {RangeError} Invalid sizes (e.g. `dModel` not divisible by `numHeads`).
   * @throws {TypeError} An option of the wrong type (e.g. `normFirst: "false"`).
   */
  constructor(config: LayerConfig) {
    super();
    const c = resolveLayerConfig(config, "EncoderLayer");
    this.config = c;
    this.useSeed(c.seed);
    this.selfAttn = this.registerModule("self_attn", layerAttention(c, "self_attn"));
    this.feedForward = this.registerModule("feedForward", layerFeedForward(c), { inline: true });
    this.norm1 = this.registerModule("norm1", layerNorm(c));
    this.norm2 = this.registerModule("norm2", layerNorm(c));
    this.dropout1 = this.registerModule("dropout1", layerDropout(c));
    this.dropout2 = this.registerModule("dropout2", layerDropout(c));
  }

  /**
   * Runs the layer on `x [B, S, dModel]` (or unbatched `[S, dModel]`).
   *
   * @param options `mask`: `true` = may attend, broadcast against `[B, H, S, S]`;
   *   `needWeights: false` leaves `selfWeights` out.
   */
  forward(
    x: Tensor,
    options: EncoderLayerForwardOptions & { needWeights: false },
  ): EncoderLayerOutput;
  /** {@link EncoderLayer.forward} returning the weights too (the default). */
  forward(x: Tensor, options?: EncoderLayerForwardOptions): EncoderLayerResult;
  forward(
    x: Tensor,
    options?: EncoderLayerForwardOptions,
  ): EncoderLayerResult | EncoderLayerOutput {
    const fn = "EncoderLayer.forward";
    const o = forwardOptions(options, fn);
    const input = sequenceInput(x, this.config.dModel, fn, "x");
    const { batch, length } = input;
    checkMask(o.mask, [batch, this.config.numHeads, length, length], fn, "mask");
    const needWeights = needWeightsOption(o.needWeights, fn);
    const { normFirst } = this.config;
    let selfWeights: Tensor | undefined;
    const selfAttn = (h: Tensor): Tensor => {
      const r = this.selfAttn.forward(h, h, h, { mask: o.mask, needWeights });
      selfWeights = r.weights;
      return r.output;
    };
    // post-norm: x = LN1(x + Dropout(SelfAttn(x)));  pre-norm: x = x + Dropout(SelfAttn(LN1(x)))
    let h = addNorm(input.x, selfAttn, this.norm1, { normFirst, dropout: this.dropout1 });
    // post-norm: x = LN2(x + Dropout(FFN(x)));       pre-norm: x = x + Dropout(FFN(LN2(x)))
    h = addNorm(h, this.feedForward, this.norm2, { normFirst, dropout: this.dropout2 });
    const output = unbatch(h, input.unbatched);
    return selfWeights
      ? { output, selfWeights: unbatch(selfWeights, input.unbatched) }
      : { output };
  }
}

/**
 * Builds an {@link EncoderLayer}.
 *
 * @example Pre-norm layer with GELU
 * ```ts
 * import { encoderLayer } from "./encoder_layer.ts";
 * import assert from "node:assert/strict";
 * const layer = encoderLayer({ dModel: 8, numHeads: 2, dFF: 32, activation: "gelu", normFirst: true });
 * assert.equal(layer.numParameters(), 4 * (8 * 8 + 8) + (32 * 8 + 32) + (8 * 32 + 8) + 4 * 8);
 * ```
 */
export function encoderLayer(config: LayerConfig): EncoderLayer {
  return new EncoderLayer(config);
}
