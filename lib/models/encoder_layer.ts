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

import type { Dropout } from "../layers/dropout.ts";
import type { LayerNorm } from "../layers/layer_norm.ts";
import { resolveNeedWeights } from "../attention/_batch.ts";
import { add } from "../tensor/elementwise.ts";
import type { Mask } from "../tensor/mask.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { checkMask, checkSequence, type LayerConfig } from "./_config.ts";
import { TransformerLayer } from "./transformer_layer.ts";
import type { MultiHeadAttention } from "./multi_head_attention.ts";

/** What {@link EncoderLayer.forward} returns. */
export interface EncoderLayerResult {
  /** `[B, S, dModel]`. */
  output: Tensor;
  /** Self-attention weights per head, `[B, H, S, S]`. */
  selfAttention: Tensor;
}

/** What {@link EncoderLayer.forward} returns with `needWeights: false`. */
export interface EncoderLayerOutput extends Omit<EncoderLayerResult, "selfAttention"> {
  /** Absent: the caller asked for no weights. */
  selfAttention?: undefined;
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
 * `self_attn.*`, `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`.
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
 * const { output, selfAttention } = layer.forward(x, { mask: paddingMask([4, 2], 4) });
 * assert.deepEqual(output.shape, [2, 4, 8]);
 * assert.equal(selfAttention.get(1, 0, 0, 3), 0); // padding gets no attention
 * ```
 */
export class EncoderLayer extends TransformerLayer {
  /** Multi-head self-attention (`self_attn`). */
  readonly selfAttn: MultiHeadAttention;
  /** LayerNorm around the attention sublayer. */
  readonly norm1: LayerNorm;
  /** LayerNorm around the feed-forward sublayer. */
  readonly norm2: LayerNorm;
  /** Dropout on the attention sublayer's output, before the residual add. */
  readonly dropout1: Dropout;
  /** Dropout on the feed-forward sublayer's output, before the residual add. */
  readonly dropout2: Dropout;

  /**
   * Builds the layer; see {@link LayerConfig} for the defaults.
   *
   * @throws {RangeError} Invalid sizes (e.g. `dModel` not divisible by `numHeads`).
   */
  constructor(config: LayerConfig) {
    super(config, "EncoderLayer", 1);
    this.selfAttn = this.attention("self_attn", 0);
    this.norm1 = this.norm("norm1");
    this.norm2 = this.norm("norm2");
    this.dropout1 = this.dropout("dropout1", 2);
    this.dropout2 = this.dropout("dropout2", 3);
  }

  /**
   * Runs the layer on `x [B, S, dModel]`.
   *
   * @param options `mask`: `true` = may attend, broadcast against `[B, H, S, S]`;
   *   `needWeights: false` leaves `selfAttention` out.
   */
  forward(
    x: Tensor,
    options: EncoderLayerForwardOptions & { needWeights: false },
  ): EncoderLayerOutput;
  /** {@link EncoderLayer.forward} returning the weights too (the default). */
  forward(x: Tensor, options?: EncoderLayerForwardOptions): EncoderLayerResult;
  forward(
    x: Tensor,
    options: EncoderLayerForwardOptions = {},
  ): EncoderLayerResult | EncoderLayerOutput {
    const fn = "EncoderLayer.forward";
    const { batch, length } = checkSequence(x, this.config.dModel, fn, "x");
    checkMask(options.mask, [batch, this.config.numHeads, length, length], fn, "mask");
    const needWeights = resolveNeedWeights(fn, options.needWeights);
    const selfAttention = (h: Tensor) =>
      this.selfAttn.forward(h, h, h, { mask: options.mask, needWeights });
    const ff = (h: Tensor) => this.feedForward.forward(h);
    let weights: Tensor | undefined;
    if (this.config.normFirst) {
      // x = x + SelfAttn(LN1(x));  x = x + FFN(LN2(x))
      const sa = selfAttention(this.norm1.forward(x));
      weights = sa.weights;
      x = add(x, this.dropout1.forward(sa.output));
      x = add(x, this.dropout2.forward(ff(this.norm2.forward(x))));
    } else {
      // x = LN1(x + SelfAttn(x));  x = LN2(x + FFN(x))
      const sa = selfAttention(x);
      weights = sa.weights;
      x = this.norm1.forward(add(x, this.dropout1.forward(sa.output)));
      x = this.norm2.forward(add(x, this.dropout2.forward(ff(x))));
    }
    return weights ? { output: x, selfAttention: weights } : { output: x };
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
