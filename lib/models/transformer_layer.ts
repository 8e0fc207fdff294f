/**
 * The shared base of the Transformer's encoder and decoder layers.
 *
 * @module
 */

import { Dropout } from "../layers/dropout.ts";
import { FeedForward } from "../layers/feed_forward.ts";
import { LayerNorm } from "../layers/layer_norm.ts";
import { Module } from "../layers/module.ts";
import { type LayerConfig, type ResolvedLayerConfig, resolveLayerConfig } from "./_config.ts";
import { type MultiHeadAttention, multiHeadAttention } from "./multi_head_attention.ts";

/**
 * The base of {@link EncoderLayer} and {@link DecoderLayer}: builds their
 * sublayers from one {@link LayerConfig} under PyTorch's names (the
 * feed-forward layer as `linear1`/`linear2`, attention, norms, dropouts) and
 * makes `train()`/`eval()` reach every dropout.
 *
 * @internal
 *
 * @example The feed-forward weights sit directly on the layer, as in PyTorch
 * ```ts
 * import { TransformerLayer } from "./transformer_layer.ts";
 * import assert from "node:assert/strict";
 * const layer = new TransformerLayer({ dModel: 4, numHeads: 2, dFF: 8 }, "MyLayer", 0);
 * assert.deepEqual(Object.keys(layer.stateDict()), [
 *   "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
 * ]);
 * ```
 */
export class TransformerLayer extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<ResolvedLayerConfig>;
  /** The position-wise feed-forward layer, registered as `linear1`, `linear2`. */
  readonly feedForward: FeedForward;

  /**
   * Resolves `config` and builds the feed-forward layer.
   *
   * @param fn The subclass name, for error messages.
   * @param ffnSeedOffset Added to the config's seed for the feed-forward initialisation.
   */
  constructor(config: LayerConfig, fn: string, ffnSeedOffset: number) {
    super();
    const c = resolveLayerConfig(config, fn);
    this.config = c;
    this.feedForward = new FeedForward({
      dModel: c.dModel,
      dFF: c.dFF,
      activation: c.activation,
      dropout: c.dropout,
      seed: c.seed + ffnSeedOffset,
    });
    // PyTorch keeps linear1/linear2 directly on the layer; so do the names here.
    this.registerModule("linear1", this.feedForward.linear1);
    this.registerModule("linear2", this.feedForward.linear2);
  }

  /** A multi-head attention sublayer from the config. */
  protected attention(name: string, seedOffset: number): MultiHeadAttention {
    const c = this.config;
    return this.registerModule(
      name,
      multiHeadAttention({
        dModel: c.dModel,
        numHeads: c.numHeads,
        dropout: c.dropout,
        seed: c.seed + seedOffset,
      }),
    );
  }

  /** A LayerNorm over dModel with the config's ε. */
  protected norm(name: string): LayerNorm {
    return this.registerModule(
      name,
      new LayerNorm(this.config.dModel, { eps: this.config.layerNormEps }),
    );
  }

  /** A dropout on a sublayer output (active in training mode only). */
  protected dropout(name: string, seedOffset: number): Dropout {
    return this.registerModule(
      name,
      new Dropout(this.config.dropout, { seed: this.config.seed + seedOffset }),
    );
  }

  /** Switches training mode (dropout) here and in the feed-forward layer. */
  override train(mode = true): this {
    super.train(mode);
    this.feedForward?.train(mode);
    return this;
  }
}
