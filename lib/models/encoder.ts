/**
 * The encoder stack: N encoder layers, then a final LayerNorm (PyTorch's
 * `nn.TransformerEncoder` with `norm`, which `nn.Transformer` always adds).
 *
 * @module
 */

import { _boolean, _nonNegativeInt } from "../layers/_validate.ts";
import type { LayerNorm } from "../layers/layer_norm.ts";
import { childSeed, Module } from "../layers/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  forwardOptions,
  type LayerConfig,
  layerNorm,
  needWeightsOption,
  resolveLayerConfig,
} from "./_config.ts";
import { EncoderLayer, type EncoderLayerForwardOptions } from "./encoder_layer.ts";

/** Configuration of {@link Encoder}: a layer config plus the depth. */
export interface EncoderConfig extends LayerConfig {
  /** Number of layers N; default 6 (the paper). */
  numLayers?: number;
  /** Apply a final LayerNorm `norm` after the last layer; default true (as `nn.Transformer`). */
  finalNorm?: boolean;
}

/** Options of {@link Encoder.forward}: those of each layer. */
export type EncoderForwardOptions = EncoderLayerForwardOptions;

/** What {@link Encoder.forward} returns (the naming scheme: lib/models/README.md). */
export interface EncoderResult {
  /** The memory the decoder attends to, `[B, S, dModel]` (`[S, dModel]` unbatched). */
  output: Tensor;
  /** Self-attention weights of each layer, each `[B, H, S, S]` (`[H, S, S]` unbatched). */
  selfWeights: Tensor[];
}

/** What {@link Encoder.forward} returns with `needWeights: false`. */
export interface EncoderOutput extends Omit<EncoderResult, "selfWeights"> {
  /** Absent: the caller asked for no weights. */
  selfWeights?: undefined;
}

/**
 * A stack of encoder layers under PyTorch's names `layers.{i}.*` and `norm.*`.
 *
 * @example Two layers, every attention map returned
 * ```ts
 * import { encoder } from "./encoder.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const enc = encoder({ dModel: 8, numHeads: 2, dFF: 16, numLayers: 2 });
 * const { output, selfWeights } = enc.forward(randn([1, 5, 8], new Rng(0)));
 * assert.deepEqual(output.shape, [1, 5, 8]);
 * assert.equal(selfWeights.length, 2);
 * ```
 */
export class Encoder extends Module {
  /** The layers, first to last. */
  readonly layers: readonly EncoderLayer[];
  /** The final LayerNorm, or null with `finalNorm: false`. */
  readonly norm: LayerNorm | null;

  /**
   * Builds the stack; layer i is seeded with `childSeed(seed, "layers.i")`.
   *
   * @throws {RangeError} Invalid sizes.
   * @throws {TypeError} An option of the wrong type.
   */
  constructor(config: EncoderConfig) {
    super();
    const c = resolveLayerConfig(config, "Encoder");
    const n = _nonNegativeInt(config.numLayers ?? 6, "Encoder", "numLayers");
    const finalNorm = _boolean(config.finalNorm ?? true, "Encoder", "finalNorm");
    this.useSeed(c.seed);
    this.layers = Array.from({ length: n }, (_, i) => {
      const name = `layers.${i}`;
      return this.registerModule(name, new EncoderLayer({ ...c, seed: childSeed(c.seed, name) }));
    });
    this.norm = finalNorm ? this.registerModule("norm", layerNorm(c)) : null;
  }

  /**
   * Encodes `src [B, S, dModel]` (or unbatched `[S, dModel]`).
   *
   * @param options `mask`: `true` = may attend, broadcast against `[B, H, S, S]` (e.g. padding);
   *   `needWeights: false` leaves `selfWeights` out.
   */
  forward(src: Tensor, options: EncoderForwardOptions & { needWeights: false }): EncoderOutput;
  /** {@link Encoder.forward} returning the weights too (the default). */
  forward(src: Tensor, options?: EncoderForwardOptions): EncoderResult;
  forward(src: Tensor, options?: EncoderForwardOptions): EncoderResult | EncoderOutput {
    const fn = "Encoder.forward";
    const o = forwardOptions(options, fn);
    const needWeights = needWeightsOption(o.needWeights, fn);
    let x = src;
    const selfWeights: Tensor[] = [];
    for (const layer of this.layers) {
      const r = layer.forward(x, { mask: o.mask, needWeights });
      x = r.output;
      if (r.selfWeights) selfWeights.push(r.selfWeights);
    }
    if (this.norm) x = this.norm.forward(x);
    return needWeights ? { output: x, selfWeights } : { output: x };
  }
}

/**
 * Builds an {@link Encoder}.
 *
 * @example PyTorch names
 * ```ts
 * import { encoder } from "./encoder.ts";
 * import assert from "node:assert/strict";
 * const keys = Object.keys(encoder({ dModel: 4, numHeads: 1, dFF: 8, numLayers: 1 }).stateDict());
 * assert.ok(keys.includes("layers.0.self_attn.in_proj_weight") && keys.includes("norm.weight"));
 * ```
 */
export function encoder(config: EncoderConfig): Encoder {
  return new Encoder(config);
}
