/**
 * The decoder stack: N decoder layers, then a final LayerNorm (PyTorch's
 * `nn.TransformerDecoder` with `norm`, which `nn.Transformer` always adds).
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
import { DecoderLayer, type DecoderLayerForwardOptions } from "./decoder_layer.ts";
import type { KVCache } from "./multi_head_attention.ts";

/** Configuration of {@link Decoder}: a layer config plus the depth. */
export interface DecoderConfig extends LayerConfig {
  /** Number of layers N; default 6 (the paper). */
  numLayers?: number;
  /** Apply a final LayerNorm `norm` after the last layer; default true (as `nn.Transformer`). */
  finalNorm?: boolean;
}

/** Options of {@link Decoder.forward}. */
export interface DecoderForwardOptions extends Omit<DecoderLayerForwardOptions, "cache"> {
  /** One self-attention cache per layer (from {@link Decoder.createCaches}) for incremental decoding. */
  caches?: readonly KVCache[];
}

/** What {@link Decoder.forward} returns (the naming scheme: lib/models/README.md). */
export interface DecoderResult {
  /** `[B, T, dModel]` (`[T, dModel]` unbatched). */
  output: Tensor;
  /** Masked self-attention weights of each layer, each `[B, H, T, T]` (B dropped unbatched). */
  selfWeights: Tensor[];
  /** Cross-attention weights of each layer over the memory, each `[B, H, T, S]` (B dropped unbatched). */
  crossWeights: Tensor[];
}

/** What {@link Decoder.forward} returns with `needWeights: false`. */
export interface DecoderOutput {
  /** `[B, T, dModel]` (`[T, dModel]` unbatched). */
  output: Tensor;
  /** Absent: the caller asked for no weights. */
  selfWeights?: undefined;
  /** Absent: the caller asked for no weights. */
  crossWeights?: undefined;
}

/**
 * A stack of decoder layers under PyTorch's names `layers.{i}.*` and `norm.*`.
 *
 * @example Decode against a memory
 * ```ts
 * import { decoder } from "./decoder.ts";
 * import { causalMask } from "../attention/masks.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const dec = decoder({ dModel: 8, numHeads: 2, dFF: 16, numLayers: 2 });
 * const rng = new Rng(0);
 * const r = dec.forward(randn([1, 3, 8], rng), randn([1, 4, 8], rng), { tgtMask: causalMask(3) });
 * assert.deepEqual(r.crossWeights[1].shape, [1, 2, 3, 4]);
 * ```
 */
export class Decoder extends Module {
  /** The layers, first to last. */
  readonly layers: readonly DecoderLayer[];
  /** The final LayerNorm, or null with `finalNorm: false`. */
  readonly norm: LayerNorm | null;

  /**
   * Builds the stack; layer i is seeded with `childSeed(seed, "layers.i")`.
   *
   * @throws {RangeError} Invalid sizes.
   * @throws {TypeError} An option of the wrong type.
   */
  constructor(config: DecoderConfig) {
    super();
    const c = resolveLayerConfig(config, "Decoder");
    const n = _nonNegativeInt(config.numLayers ?? 6, "Decoder", "numLayers");
    const finalNorm = _boolean(config.finalNorm ?? true, "Decoder", "finalNorm");
    this.useSeed(c.seed);
    this.layers = Array.from({ length: n }, (_, i) => {
      const name = `layers.${i}`;
      return this.registerModule(name, new DecoderLayer({ ...c, seed: childSeed(c.seed, name) }));
    });
    this.norm = finalNorm ? this.registerModule("norm", layerNorm(c)) : null;
  }

  /** One empty self-attention cache per layer, for incremental decoding. */
  createCaches(): KVCache[] {
    return this.layers.map((layer) => layer.selfAttn.createCache());
  }

  /**
   * Decodes target `tgt [B, T, dModel]` against `memory [B, S, dModel]` (or both unbatched).
   *
   * @throws {RangeError} When `caches` does not hold one cache per layer.
   */
  forward(
    tgt: Tensor,
    memory: Tensor,
    options: DecoderForwardOptions & { needWeights: false },
  ): DecoderOutput;
  /** {@link Decoder.forward} returning the weights too (the default). */
  forward(tgt: Tensor, memory: Tensor, options?: DecoderForwardOptions): DecoderResult;
  forward(
    tgt: Tensor,
    memory: Tensor,
    options?: DecoderForwardOptions,
  ): DecoderResult | DecoderOutput {
    const fn = "Decoder.forward";
    const { caches, ...rest } = forwardOptions(options, fn);
    if (caches !== undefined && (!Array.isArray(caches) || caches.length !== this.layers.length)) {
      throw new RangeError(
        `${fn}: caches must be an array of one KVCache per layer (${this.layers.length}), got ${
          Array.isArray(caches) ? `${caches.length}` : typeof caches
        }`,
      );
    }
    const needWeights = needWeightsOption(rest.needWeights, fn);
    let x = tgt;
    const selfWeights: Tensor[] = [], crossWeights: Tensor[] = [];
    this.layers.forEach((layer, i) => {
      const r = layer.forward(x, memory, { ...rest, needWeights, cache: caches?.[i] });
      x = r.output;
      if (r.selfWeights) selfWeights.push(r.selfWeights);
      if (r.crossWeights) crossWeights.push(r.crossWeights);
    });
    if (this.norm) x = this.norm.forward(x);
    return needWeights ? { output: x, selfWeights, crossWeights } : { output: x };
  }
}

/**
 * Builds a {@link Decoder}.
 *
 * @example Layer count
 * ```ts
 * import { decoder } from "./decoder.ts";
 * import assert from "node:assert/strict";
 * assert.equal(decoder({ dModel: 4, numHeads: 2, dFF: 8, numLayers: 3 }).layers.length, 3);
 * ```
 */
export function decoder(config: DecoderConfig): Decoder {
  return new Decoder(config);
}
