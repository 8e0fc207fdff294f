/**
 * The encoder-decoder Transformer of "Attention Is All You Need", with PyTorch
 * `nn.Transformer`'s parameter names, returning every attention map of every
 * layer and head.
 *
 * @module
 */

import { _boolean, _nonNegativeInt } from "../layers/_validate.ts";
import { childSeed, Module } from "../layers/module.ts";
import type { Mask } from "../tensor/mask.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkMask,
  forwardOptions,
  type LayerConfig,
  needWeightsOption,
  resolveLayerConfig,
  sameBatch,
  sequenceInput,
} from "./_config.ts";
import { Decoder } from "./decoder.ts";
import { Encoder } from "./encoder.ts";

/** Configuration of {@link transformer}; defaults are PyTorch's `nn.Transformer` ones. */
export interface TransformerConfig extends LayerConfig {
  /** Encoder layers; default 6. */
  numEncoderLayers?: number;
  /** Decoder layers; default 6. */
  numDecoderLayers?: number;
  /** Final LayerNorms `encoder.norm` and `decoder.norm`; default true (PyTorch always has them). */
  finalNorm?: boolean;
}

/** Options of {@link Transformer.forward}; every mask uses `true` = may attend. */
export interface TransformerForwardOptions {
  /** Encoder self-attention mask, broadcast against `[B, H, S, S]` (e.g. `paddingMask(lengths, S)`). */
  srcMask?: Mask;
  /** Decoder self-attention mask, broadcast against `[B, H, T, T]` (e.g. `causalMask(T)`). */
  tgtMask?: Mask;
  /**
   * Cross-attention mask over the memory, broadcast against `[B, H, T, S]`.
   * To keep padded source tokens out of cross-attention, pass the source padding mask here too.
   */
  memoryMask?: Mask;
  /** Return every attention map; default true. `false` leaves them out; same output. */
  needWeights?: boolean;
}

/**
 * What {@link Transformer.forward} returns (the naming scheme: lib/models/README.md):
 * the decoder output, the memory, and every attention map, one tensor per layer
 * holding all heads. Index as `decoderCrossWeights[layer].get(b, head, t, s)`.
 */
export interface TransformerResult {
  /** Decoder output `[B, T, dModel]` (`[T, dModel]` for unbatched input). */
  output: Tensor;
  /** Encoder output `[B, S, dModel]`: the K/V source of every cross-attention. */
  memory: Tensor;
  /** Encoder self-attention, per layer `[B, H, S, S]`. */
  encoderSelfWeights: Tensor[];
  /** Decoder masked self-attention, per layer `[B, H, T, T]`. */
  decoderSelfWeights: Tensor[];
  /** Decoder cross-attention over the encoder output, per layer `[B, H, T, S]`. */
  decoderCrossWeights: Tensor[];
}

/** What {@link Transformer.forward} returns with `needWeights: false`: no maps. */
export interface TransformerOutput {
  /** Decoder output `[B, T, dModel]` (`[T, dModel]` for unbatched input). */
  output: Tensor;
  /** Encoder output `[B, S, dModel]`. */
  memory: Tensor;
  /** Absent: the caller asked for no weights. */
  encoderSelfWeights?: undefined;
  /** Absent: the caller asked for no weights. */
  decoderSelfWeights?: undefined;
  /** Absent: the caller asked for no weights. */
  decoderCrossWeights?: undefined;
}

/**
 * An encoder-decoder Transformer. Parameters carry PyTorch `nn.Transformer`
 * names (`encoder.layers.{i}.self_attn.in_proj_weight`, `.linear1.weight`,
 * `.norm1.bias`, `decoder.layers.{i}.multihead_attn.*`, `encoder.norm.*`,
 * `decoder.norm.*`), so `loadStateDict(torchModel.state_dict())` works.
 *
 * @example Source padding, causal target
 * ```ts
 * import { transformer } from "./transformer.ts";
 * import { causalMask, paddingMask } from "../attention/masks.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const model = transformer({ dModel: 8, numHeads: 2, numEncoderLayers: 1, numDecoderLayers: 2, dFF: 16 });
 * const rng = new Rng(0);
 * const src = randn([2, 5, 8], rng), tgt = randn([2, 3, 8], rng);
 * const pad = paddingMask([5, 3], 5);
 * const { output, decoderCrossWeights } = model.forward(src, tgt, {
 *   srcMask: pad, memoryMask: pad, tgtMask: causalMask(3),
 * });
 * assert.deepEqual(output.shape, [2, 3, 8]);
 * assert.equal(decoderCrossWeights.length, 2);
 * assert.equal(decoderCrossWeights[0].get(1, 0, 0, 4), 0); // padded source ignored
 * ```
 */
export class Transformer extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<Required<TransformerConfig>>;
  /** The encoder stack (`encoder.*`). */
  readonly encoder: Encoder;
  /** The decoder stack (`decoder.*`). */
  readonly decoder: Decoder;

  /**
   * Builds the model; see {@link TransformerConfig}.
   *
   * @throws {RangeError} Invalid sizes (e.g. `dModel` not divisible by `numHeads`).
   */
  constructor(config: TransformerConfig) {
    super();
    const fn = "transformer";
    const c = resolveLayerConfig(config, fn);
    this.config = {
      ...c,
      numEncoderLayers: _nonNegativeInt(config.numEncoderLayers ?? 6, fn, "numEncoderLayers"),
      numDecoderLayers: _nonNegativeInt(config.numDecoderLayers ?? 6, fn, "numDecoderLayers"),
      finalNorm: _boolean(config.finalNorm ?? true, fn, "finalNorm"),
    };
    const { finalNorm } = this.config;
    this.useSeed(c.seed);
    this.encoder = this.registerModule(
      "encoder",
      new Encoder({
        ...c,
        seed: childSeed(c.seed, "encoder"),
        numLayers: this.config.numEncoderLayers,
        finalNorm,
      }),
    );
    this.decoder = this.registerModule(
      "decoder",
      new Decoder({
        ...c,
        seed: childSeed(c.seed, "decoder"),
        numLayers: this.config.numDecoderLayers,
        finalNorm,
      }),
    );
  }

  /**
   * Runs encoder and decoder: `src [B, S, dModel]`, `tgt [B, T, dModel]`
   * (or unbatched `[S, dModel]`, `[T, dModel]`).
   *
   * @throws {RangeError} Feature sizes that differ from `dModel`, batch sizes that differ,
   *   or masks that do not broadcast against their scores; messages name the expected shapes.
   */
  forward(
    src: Tensor,
    tgt: Tensor,
    options: TransformerForwardOptions & { needWeights: false },
  ): TransformerOutput;
  /** {@link Transformer.forward} returning every attention map too (the default). */
  forward(src: Tensor, tgt: Tensor, options?: TransformerForwardOptions): TransformerResult;
  forward(
    src: Tensor,
    tgt: Tensor,
    options?: TransformerForwardOptions,
  ): TransformerResult | TransformerOutput {
    const fn = "Transformer.forward";
    const o = forwardOptions(options, fn);
    const { dModel, numHeads } = this.config;
    const s = sequenceInput(src, dModel, fn, "src");
    const t = sequenceInput(tgt, dModel, fn, "tgt");
    sameBatch(s, t, fn, ["src", "tgt"], [src.shape, tgt.shape]);
    checkMask(o.srcMask, [s.batch, numHeads, s.length, s.length], fn, "srcMask");
    checkMask(o.tgtMask, [s.batch, numHeads, t.length, t.length], fn, "tgtMask");
    checkMask(o.memoryMask, [s.batch, numHeads, t.length, s.length], fn, "memoryMask");
    const needWeights = needWeightsOption(o.needWeights, fn);
    // 1) encode the whole source at once (every position in parallel)
    const enc = this.encoder.forward(src, { mask: o.srcMask, needWeights });
    // 2) decode: masked self-attention, then cross-attention on the whole memory
    const dec = this.decoder.forward(tgt, enc.output, {
      tgtMask: o.tgtMask,
      memoryMask: o.memoryMask,
      needWeights,
    });
    if (!enc.selfWeights || !dec.selfWeights || !dec.crossWeights) {
      return { output: dec.output, memory: enc.output };
    }
    return {
      output: dec.output,
      memory: enc.output,
      encoderSelfWeights: enc.selfWeights,
      decoderSelfWeights: dec.selfWeights,
      decoderCrossWeights: dec.crossWeights,
    };
  }
}

/**
 * Builds a {@link Transformer}.
 *
 * @example PyTorch parameter names
 * ```ts
 * import { transformer } from "./transformer.ts";
 * import assert from "node:assert/strict";
 * const model = transformer({ dModel: 8, numHeads: 2, numEncoderLayers: 1, numDecoderLayers: 1, dFF: 16 });
 * const keys = Object.keys(model.stateDict());
 * assert.ok(keys.includes("decoder.layers.0.multihead_attn.out_proj.weight"));
 * assert.ok(keys.includes("encoder.norm.weight") && keys.includes("decoder.norm.bias"));
 * ```
 */
export function transformer(config: TransformerConfig): Transformer {
  return new Transformer(config);
}
