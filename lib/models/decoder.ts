/**
 * The decoder stack: N decoder layers, then a final LayerNorm (PyTorch's
 * `nn.TransformerDecoder` with `norm`, which `nn.Transformer` always adds).
 *
 * @module
 */

import { LayerNorm } from "../layers/layer_norm.ts";
import { Module } from "../layers/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type LayerConfig, resolveLayerConfig } from "./_config.ts";
import { DecoderLayer, type DecoderLayerForwardOptions } from "./decoder_layer.ts";
import { _numLayers } from "./encoder.ts";
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

/** What {@link Decoder.forward} returns. */
export interface DecoderResult {
  /** `[B, T, dModel]`. */
  output: Tensor;
  /** Masked self-attention weights of each layer, each `[B, H, T, T]`. */
  selfAttention: Tensor[];
  /** Cross-attention weights of each layer over the memory, each `[B, H, T, S]`. */
  crossAttention: Tensor[];
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
 * assert.deepEqual(r.crossAttention[1].shape, [1, 2, 3, 4]);
 * ```
 */
export class Decoder extends Module {
  /** The layers, first to last. */
  readonly layers: readonly DecoderLayer[];
  /** The final LayerNorm, or null with `finalNorm: false`. */
  readonly norm: LayerNorm | null;

  /**
   * Builds the stack; layer i is seeded with `seed + 100·i`.
   *
   * @throws {RangeError} Invalid sizes.
   */
  constructor(config: DecoderConfig) {
    super();
    const c = resolveLayerConfig(config, "Decoder");
    const n = _numLayers(config.numLayers ?? 6, "Decoder", "numLayers");
    this.layers = Array.from(
      { length: n },
      (_, i) =>
        this.registerModule(`layers.${i}`, new DecoderLayer({ ...c, seed: c.seed + 100 * i })),
    );
    this.norm = config.finalNorm === false
      ? null
      : this.registerModule("norm", new LayerNorm(c.dModel, { eps: c.layerNormEps }));
  }

  /** One empty self-attention cache per layer, for incremental decoding. */
  createCaches(): KVCache[] {
    return this.layers.map((layer) => layer.selfAttn.createCache());
  }

  /**
   * Decodes target `tgt [B, T, dModel]` against `memory [B, S, dModel]`.
   *
   * @throws {RangeError} When `caches` does not hold one cache per layer.
   */
  forward(tgt: Tensor, memory: Tensor, options: DecoderForwardOptions = {}): DecoderResult {
    const { caches, ...rest } = options;
    if (caches && caches.length !== this.layers.length) {
      throw new RangeError(
        `Decoder.forward: caches must hold one KVCache per layer (${this.layers.length}), got ${caches.length}`,
      );
    }
    let x = tgt;
    const selfAttention: Tensor[] = [], crossAttention: Tensor[] = [];
    this.layers.forEach((layer, i) => {
      const r = layer.forward(x, memory, { ...rest, cache: caches?.[i] });
      x = r.output;
      selfAttention.push(r.selfAttention);
      crossAttention.push(r.crossAttention);
    });
    if (this.norm) x = this.norm.forward(x);
    return { output: x, selfAttention, crossAttention };
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
