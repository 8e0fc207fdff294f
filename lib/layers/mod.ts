/**
 * Layers: the building blocks a Transformer is assembled from, each with a
 * functional form and (where it has parameters) a {@link Module} whose
 * parameter names match PyTorch's.
 *
 * - Module convention and the affine layer: {@link Module}, {@link Linear}.
 * - Normalisation: {@link layerNorm} / {@link LayerNorm}, {@link rmsNorm} / {@link RMSNorm}.
 * - Activations: {@link relu}, {@link gelu}, {@link silu}, {@link tanh}, {@link swiglu}, with {@link erf}.
 * - Regularisation: {@link dropout} / {@link Dropout}.
 * - Losses: {@link crossEntropy}, {@link nllLoss}, {@link mseLoss}.
 * - Sublayers: {@link FeedForward}, and the residual {@link addNorm} / {@link AddNorm}.
 * - Tokens and positions: {@link Embedding}, {@link sinusoidalEncoding},
 *   {@link LearnedPositionalEmbedding}, {@link applyRotary} (RoPE), {@link alibiBias}
 *   (ALiBi), {@link RelativePositionBias} (T5).
 *
 * @example Embed tokens, add positions, run a pre-norm feed-forward block
 * ```ts
 * import { AddNorm, Embedding, FeedForward, sinusoidalEncoding } from "./mod.ts";
 * import { add } from "../tensor/elementwise.ts";
 * import assert from "node:assert/strict";
 *
 * const emb = new Embedding(10, 8, { scaleByDModel: true, seed: 1 });
 * const x = add(emb.forward([[1, 2, 3]]), sinusoidalEncoding(3, 8)); // [1, 3, 8]
 * const ffn = new FeedForward({ dModel: 8, dFF: 32, activation: "gelu", seed: 2 });
 * const block = new AddNorm(8, { normFirst: true });
 * const y = block.forward(x, ffn);
 * assert.deepEqual(y.shape, [1, 3, 8]);
 * ```
 *
 * @module
 */

// Exported by name, so a helper added to a layer file stays private until it is listed here.
export {
  childSeed,
  type LoadStateDictOptions,
  Module,
  type RegisterModuleOptions,
} from "./module.ts";
export { Linear, linear, type LinearOptions, linearStacked } from "./linear.ts";
export { erf, erfc } from "./erf.ts";
export { gelu, type GeluOptions, relu, silu, swiglu, tanh } from "./activations.ts";
export {
  LayerNorm,
  layerNorm,
  type LayerNormModuleOptions,
  type LayerNormOptions,
} from "./layer_norm.ts";
export {
  RMS_NORM_DEFAULT_EPS,
  RMSNorm,
  rmsNorm,
  type RMSNormModuleOptions,
  type RmsNormOptions,
} from "./rms_norm.ts";
export { batchNorm, type BatchNormOptions } from "./batch_norm.ts";
export { Dropout, dropout, type DropoutModuleOptions, type DropoutOptions } from "./dropout.ts";
export {
  FeedForward,
  type FeedForwardActivation,
  type FeedForwardConfig,
  type FeedForwardForwardOptions,
  type FeedForwardTrace,
} from "./feed_forward.ts";
export {
  AddNorm,
  addNorm,
  type AddNormModuleOptions,
  type AddNormOptions,
  type TensorFn,
} from "./add_norm.ts";
export { Embedding, embedding, type EmbeddingOptions, type TokenIds } from "./embedding.ts";
export { sinusoidalEncoding, type SinusoidalEncodingOptions } from "./sinusoidal_encoding.ts";
export {
  LearnedPositionalEmbedding,
  type LearnedPositionalEmbeddingOptions,
  type PositionOffsetOptions,
} from "./learned_positional_embedding.ts";
export {
  applyRotary,
  rotaryFrequencies,
  type RotaryFrequencyOptions,
  type RotaryOptions,
  type RotaryStyle,
} from "./rotary.ts";
export { alibiBias, type AlibiBiasOptions, alibiSlopes } from "./alibi.ts";
export {
  type RelativePositionAlignOptions,
  RelativePositionBias,
  type RelativePositionBiasOptions,
  relativePositionBucket,
  type RelativePositionBucketOptions,
} from "./relative_position_bias.ts";
export { type ClassTargets, type LossReduction } from "./_class_targets.ts";
export { crossEntropy, type CrossEntropyOptions } from "./cross_entropy.ts";
export { nllLoss, type NllLossOptions } from "./nll_loss.ts";
export { mseLoss, type MseLossOptions } from "./mse_loss.ts";
