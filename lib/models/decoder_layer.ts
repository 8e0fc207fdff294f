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

import type { Dropout } from "../layers/dropout.ts";
import type { LayerNorm } from "../layers/layer_norm.ts";
import { add } from "../tensor/elementwise.ts";
import type { Mask } from "../tensor/mask.ts";
import { formatShape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { checkMask, checkSequence, type LayerConfig } from "./_config.ts";
import { TransformerLayer } from "./transformer_layer.ts";
import type { KVCache, MultiHeadAttention } from "./multi_head_attention.ts";

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
}

/** What {@link DecoderLayer.forward} returns. */
export interface DecoderLayerResult {
  /** `[B, T, dModel]`. */
  output: Tensor;
  /** Masked self-attention weights per head, `[B, H, T, T]` (`[B, H, T, cached + T]` with a cache). */
  selfAttention: Tensor;
  /** Cross-attention weights per head over the memory, `[B, H, T, S]`. */
  crossAttention: Tensor;
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
 * assert.deepEqual(r.crossAttention.shape, [1, 2, 3, 5]);
 * assert.equal(r.selfAttention.get(0, 0, 0, 2), 0); // no peeking at future targets
 * ```
 */
export class DecoderLayer extends TransformerLayer {
  /** Masked multi-head self-attention (`self_attn`). */
  readonly selfAttn: MultiHeadAttention;
  /** Cross-attention over the encoder output (`multihead_attn`). */
  readonly crossAttn: MultiHeadAttention;
  /** LayerNorm around self-attention. */
  readonly norm1: LayerNorm;
  /** LayerNorm around cross-attention. */
  readonly norm2: LayerNorm;
  /** LayerNorm around the feed-forward layer. */
  readonly norm3: LayerNorm;
  /** Dropouts on the three sublayer outputs, before each residual add. */
  readonly dropouts: readonly [Dropout, Dropout, Dropout];

  /**
   * Builds the layer; see {@link LayerConfig} for the defaults.
   *
   * @throws {RangeError} Invalid sizes (e.g. `dModel` not divisible by `numHeads`).
   */
  constructor(config: LayerConfig) {
    super(config, "DecoderLayer", 2);
    this.selfAttn = this.attention("self_attn", 0);
    this.crossAttn = this.attention("multihead_attn", 1);
    this.norm1 = this.norm("norm1");
    this.norm2 = this.norm("norm2");
    this.norm3 = this.norm("norm3");
    this.dropouts = [
      this.dropout("dropout1", 3),
      this.dropout("dropout2", 4),
      this.dropout("dropout3", 5),
    ];
  }

  /**
   * Runs the layer on target `x [B, T, dModel]` against `memory [B, S, dModel]`.
   *
   * @throws {RangeError} Wrong feature sizes, batch sizes that differ, masks that do not
   *   broadcast against the scores.
   */
  forward(x: Tensor, memory: Tensor, options: DecoderLayerForwardOptions = {}): DecoderLayerResult {
    const fn = "DecoderLayer.forward";
    const { dModel, numHeads } = this.config;
    const { batch, length } = checkSequence(x, dModel, fn, "x");
    const mem = checkSequence(memory, dModel, fn, "memory");
    if (mem.batch !== batch) {
      throw new RangeError(
        `${fn}: x=${formatShape(x.shape)} and memory=${
          formatShape(memory.shape)
        } must have the same batch size`,
      );
    }
    const cached = options.cache?.length ?? 0;
    checkMask(options.tgtMask, [batch, numHeads, length, cached + length], fn, "tgtMask");
    checkMask(options.memoryMask, [batch, numHeads, length, mem.length], fn, "memoryMask");
    const selfAttention = (h: Tensor) =>
      this.selfAttn.forward(h, h, h, { mask: options.tgtMask, cache: options.cache });
    // K and V come from the whole encoder output, Q from the decoder.
    const crossAttention = (h: Tensor) =>
      this.crossAttn.forward(h, memory, memory, { mask: options.memoryMask });
    const ff = (h: Tensor) => this.feedForward.forward(h);
    const [drop1, drop2, drop3] = this.dropouts;
    let sa, ca;
    if (this.config.normFirst) {
      // x = x + SelfAttn(LN1(x)); x = x + CrossAttn(LN2(x), m); x = x + FFN(LN3(x))
      sa = selfAttention(this.norm1.forward(x));
      x = add(x, drop1.forward(sa.output));
      ca = crossAttention(this.norm2.forward(x));
      x = add(x, drop2.forward(ca.output));
      x = add(x, drop3.forward(ff(this.norm3.forward(x))));
    } else {
      // x = LN1(x + SelfAttn(x)); x = LN2(x + CrossAttn(x, m)); x = LN3(x + FFN(x))
      sa = selfAttention(x);
      x = this.norm1.forward(add(x, drop1.forward(sa.output)));
      ca = crossAttention(x);
      x = this.norm2.forward(add(x, drop2.forward(ca.output)));
      x = this.norm3.forward(add(x, drop3.forward(ff(x))));
    }
    return { output: x, selfAttention: sa.weights, crossAttention: ca.weights };
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
