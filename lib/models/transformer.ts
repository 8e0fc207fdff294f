/**
 * The encoder-decoder Transformer of "Attention Is All You Need", with PyTorch
 * `nn.Transformer`'s parameter names, returning every attention map of every
 * layer and head.
 *
 * @module
 */

import { Module } from "../layers/module.ts";
import type { Mask } from "../tensor/mask.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";
import { checkMask, checkSequence, type LayerConfig, resolveLayerConfig } from "./_config.ts";
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
}

/**
 * Every attention map of one forward pass, per layer; each tensor holds all
 * heads. Index as `attention.decoderCross[layer].get(b, head, t, s)`.
 */
export interface TransformerAttention {
  /** Encoder self-attention, per layer `[B, H, S, S]`. */
  encoder: Tensor[];
  /** Decoder masked self-attention, per layer `[B, H, T, T]`. */
  decoderSelf: Tensor[];
  /** Decoder cross-attention over the encoder output, per layer `[B, H, T, S]`. */
  decoderCross: Tensor[];
}

/** What {@link Transformer.forward} returns. */
export interface TransformerResult {
  /** Decoder output `[B, T, dModel]` (`[T, dModel]` for unbatched input). */
  output: Tensor;
  /** Encoder output `[B, S, dModel]`: the K/V source of every cross-attention. */
  memory: Tensor;
  /** Every attention map; see {@link TransformerAttention}. */
  attention: TransformerAttention;
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
 * const { output, attention } = model.forward(src, tgt, {
 *   srcMask: pad, memoryMask: pad, tgtMask: causalMask(3),
 * });
 * assert.deepEqual(output.shape, [2, 3, 8]);
 * assert.equal(attention.decoderCross.length, 2);
 * assert.equal(attention.decoderCross[0].get(1, 0, 0, 4), 0); // padded source ignored
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
    const c = resolveLayerConfig(config, "transformer");
    this.config = {
      ...c,
      numEncoderLayers: config.numEncoderLayers ?? 6,
      numDecoderLayers: config.numDecoderLayers ?? 6,
      finalNorm: config.finalNorm ?? true,
    };
    const { finalNorm } = this.config;
    this.encoder = this.registerModule(
      "encoder",
      new Encoder({ ...c, numLayers: this.config.numEncoderLayers, finalNorm }),
    );
    this.decoder = this.registerModule(
      "decoder",
      new Decoder({
        ...c,
        seed: c.seed + 10_000,
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
  forward(src: Tensor, tgt: Tensor, options: TransformerForwardOptions = {}): TransformerResult {
    const fn = "Transformer.forward";
    checkTensor(src, fn, "src");
    checkTensor(tgt, fn, "tgt");
    const unbatched = src.rank === 2 && tgt.rank === 2;
    const s3 = unbatched ? src.reshape([1, ...src.shape]) : src;
    const t3 = unbatched ? tgt.reshape([1, ...tgt.shape]) : tgt;
    const { dModel, numHeads } = this.config;
    const s = checkSequence(s3, dModel, fn, "src");
    const t = checkSequence(t3, dModel, fn, "tgt");
    if (s.batch !== t.batch) {
      throw new RangeError(
        `${fn}: src=${formatShape(src.shape)} and tgt=${
          formatShape(tgt.shape)
        } must have the same batch size`,
      );
    }
    checkMask(options.srcMask, [s.batch, numHeads, s.length, s.length], fn, "srcMask");
    checkMask(options.tgtMask, [s.batch, numHeads, t.length, t.length], fn, "tgtMask");
    checkMask(options.memoryMask, [s.batch, numHeads, t.length, s.length], fn, "memoryMask");
    // 1) encode the whole source at once (every position in parallel)
    const enc = this.encoder.forward(s3, { mask: options.srcMask });
    // 2) decode: masked self-attention, then cross-attention on the whole memory
    const dec = this.decoder.forward(t3, enc.output, {
      tgtMask: options.tgtMask,
      memoryMask: options.memoryMask,
    });
    const squeeze = (x: Tensor) => (unbatched ? x.reshape(x.shape.slice(1)) : x);
    return {
      output: squeeze(dec.output),
      memory: squeeze(enc.output),
      attention: {
        encoder: enc.selfAttention.map(squeeze),
        decoderSelf: dec.selfAttention.map(squeeze),
        decoderCross: dec.crossAttention.map(squeeze),
      },
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
