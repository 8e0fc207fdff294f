/**
 * The encoder stack: N encoder layers, then a final LayerNorm (PyTorch's
 * `nn.TransformerEncoder` with `norm`, which `nn.Transformer` always adds).
 *
 * @module
 */

import { LayerNorm } from "../layers/layer_norm.ts";
import { Module } from "../layers/module.ts";
import type { Mask } from "../tensor/mask.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type LayerConfig, resolveLayerConfig } from "./_config.ts";
import { EncoderLayer } from "./encoder_layer.ts";

/** Configuration of {@link Encoder}: a layer config plus the depth. */
export interface EncoderConfig extends LayerConfig {
  /** Number of layers N; default 6 (the paper). */
  numLayers?: number;
  /** Apply a final LayerNorm `norm` after the last layer; default true (as `nn.Transformer`). */
  finalNorm?: boolean;
}

/** What {@link Encoder.forward} returns. */
export interface EncoderResult {
  /** The memory the decoder attends to, `[B, S, dModel]`. */
  output: Tensor;
  /** Self-attention weights of each layer, each `[B, H, S, S]`. */
  selfAttention: Tensor[];
}

/** Checks and returns a positive layer count. */
export function _numLayers(n: unknown, fn: string, arg: string): number {
  if (!Number.isSafeInteger(n) || (n as number) < 0) {
    throw new RangeError(`${fn}: ${arg} must be a non-negative integer, got ${String(n)}`);
  }
  return n as number;
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
 * const { output, selfAttention } = enc.forward(randn([1, 5, 8], new Rng(0)));
 * assert.deepEqual(output.shape, [1, 5, 8]);
 * assert.equal(selfAttention.length, 2);
 * ```
 */
export class Encoder extends Module {
  /** The layers, first to last. */
  readonly layers: readonly EncoderLayer[];
  /** The final LayerNorm, or null with `finalNorm: false`. */
  readonly norm: LayerNorm | null;

  /**
   * Builds the stack; layer i is seeded with `seed + 100·i`.
   *
   * @throws {RangeError} Invalid sizes.
   */
  constructor(config: EncoderConfig) {
    super();
    const c = resolveLayerConfig(config, "Encoder");
    const n = _numLayers(config.numLayers ?? 6, "Encoder", "numLayers");
    this.layers = Array.from(
      { length: n },
      (_, i) =>
        this.registerModule(`layers.${i}`, new EncoderLayer({ ...c, seed: c.seed + 100 * i })),
    );
    this.norm = config.finalNorm === false
      ? null
      : this.registerModule("norm", new LayerNorm(c.dModel, { eps: c.layerNormEps }));
  }

  /**
   * Encodes `src [B, S, dModel]`.
   *
   * @param options `mask`: `true` = may attend, broadcast against `[B, H, S, S]` (e.g. padding).
   */
  forward(src: Tensor, options: { mask?: Mask } = {}): EncoderResult {
    let x = src;
    const selfAttention: Tensor[] = [];
    for (const layer of this.layers) {
      const r = layer.forward(x, options);
      x = r.output;
      selfAttention.push(r.selfAttention);
    }
    if (this.norm) x = this.norm.forward(x);
    return { output: x, selfAttention };
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
