/**
 * # Attention Lab
 *
 * Transformer attention you can read, run and inspect, in TypeScript for Deno.
 * Every computation is a small exact builder checked against PyTorch's numbers:
 * scaled dot-product attention, masks, multi-head attention, positional
 * encodings, encoder and decoder layers. Each returns its result plus the
 * intermediates a notebook wants to plot (per-head weights, scores, Q, K, V).
 *
 * **Mask polarity: `true` means "may attend"** (as in Keras, JAX and PyTorch's
 * `F.scaled_dot_product_attention`). PyTorch's `nn.MultiheadAttention` and
 * `nn.Transformer` use the opposite; convert with `fromTorchAttnMask` and
 * `fromTorchKeyPaddingMask`. A fully masked row gives weights 0 and output 0.
 *
 * Plots live in the `@attention-lab/core/plot` entry point.
 *
 * @example Causal self-attention on three tokens
 * ```ts
 * import { causalMask, randn, Rng, scaledDotProductAttention } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const x = randn([3, 4], new Rng(0)); // [T, d_k]
 * const { output, weights } = scaledDotProductAttention(x, x, x, { mask: causalMask(3) });
 * assert.deepEqual(output.shape, [3, 4]);
 * assert.equal(weights.get(0, 1), 0); // token 0 cannot see token 1
 * ```
 *
 * @module
 */

// Tensor core
export {
  full,
  type NestedArray,
  ones,
  rand,
  randn,
  Tensor,
  tensor,
  zeros,
} from "./lib/tensor/tensor.ts";
export { Mask, mask, type NestedBool } from "./lib/tensor/mask.ts";
export { type CounterKey, RandomStream, Rng } from "./lib/tensor/rng.ts";
export { broadcastShapes, formatShape, type Shape, sizeOf } from "./lib/tensor/shape.ts";
export { matmul, type MatmulOptions } from "./lib/tensor/matmul.ts";
export { permute, transpose } from "./lib/tensor/transpose.ts";
export { concat, select, slice } from "./lib/tensor/slice.ts";
export { add, div, map, mul, scale, sub } from "./lib/tensor/elementwise.ts";
export { logSoftmax, softmax } from "./lib/tensor/softmax.ts";
export { type Axis, max, mean, type ReduceOptions, sum } from "./lib/tensor/reduce.ts";
export { type BackwardOptions, isGradEnabled, noGrad } from "./lib/tensor/autograd.ts";

// Attention
export {
  type AttentionOptions,
  type AttentionOutput,
  type AttentionResult,
  dotProductAttention,
  scaledDotProductAttention,
} from "./lib/attention/scaled_dot_product.ts";
export { additiveAttention, type AdditiveAttentionOptions } from "./lib/attention/additive.ts";
export {
  tiledAttention,
  type TiledAttentionOptions,
  type TiledAttentionResult,
} from "./lib/attention/tiled.ts";
export {
  causalMask,
  type CausalMaskOptions,
  combineMasks,
  fromTorchAttnMask,
  type FromTorchAttnMaskOptions,
  fromTorchKeyPaddingMask,
  invertMask,
  maskToBias,
  paddingMask,
} from "./lib/attention/masks.ts";

// Layers, positional encodings and the module convention
export {
  AddNorm,
  addNorm,
  type AddNormModuleOptions,
  type AddNormOptions,
  alibiBias,
  type AlibiBiasOptions,
  alibiSlopes,
  applyRotary,
  batchNorm,
  type BatchNormOptions,
  childSeed,
  Dropout,
  dropout,
  type DropoutModuleOptions,
  type DropoutOptions,
  Embedding,
  embedding,
  type EmbeddingOptions,
  erf,
  erfc,
  FeedForward,
  type FeedForwardActivation,
  type FeedForwardConfig,
  type FeedForwardForwardOptions,
  type FeedForwardTrace,
  gelu,
  type GeluOptions,
  LayerNorm,
  layerNorm,
  type LayerNormModuleOptions,
  type LayerNormOptions,
  LearnedPositionalEmbedding,
  type LearnedPositionalEmbeddingOptions,
  Linear,
  linear,
  type LinearOptions,
  linearStacked,
  type LoadStateDictOptions,
  Module,
  type PositionOffsetOptions,
  type RegisterModuleOptions,
  type RelativePositionAlignOptions,
  RelativePositionBias,
  type RelativePositionBiasOptions,
  relativePositionBucket,
  type RelativePositionBucketOptions,
  relu,
  RMS_NORM_DEFAULT_EPS,
  RMSNorm,
  rmsNorm,
  type RMSNormModuleOptions,
  type RmsNormOptions,
  rotaryFrequencies,
  type RotaryFrequencyOptions,
  type RotaryOptions,
  type RotaryStyle,
  silu,
  sinusoidalEncoding,
  type SinusoidalEncodingOptions,
  swiglu,
  tanh,
  type TensorFn,
  type TokenIds,
} from "./lib/layers/mod.ts";

// Losses
export {
  type ClassTargets,
  crossEntropy,
  type CrossEntropyOptions,
  type LossReduction,
  mseLoss,
  type MseLossOptions,
  nllLoss,
  type NllLossOptions,
} from "./lib/layers/mod.ts";

// Models
export {
  averageHeads,
  KVCache,
  MultiHeadAttention,
  multiHeadAttention,
  type MultiHeadAttentionForwardOptions,
  type MultiHeadAttentionOptions,
  type MultiHeadAttentionOutput,
  type MultiHeadAttentionResult,
  type MultiHeadAttentionTrace,
} from "./lib/models/multi_head_attention.ts";
export type { LayerConfig, ResolvedLayerConfig } from "./lib/models/_config.ts";
export {
  EncoderLayer,
  encoderLayer,
  type EncoderLayerForwardOptions,
  type EncoderLayerOutput,
  type EncoderLayerResult,
} from "./lib/models/encoder_layer.ts";
export {
  DecoderLayer,
  decoderLayer,
  type DecoderLayerForwardOptions,
  type DecoderLayerOutput,
  type DecoderLayerResult,
} from "./lib/models/decoder_layer.ts";
export {
  Encoder,
  encoder,
  type EncoderConfig,
  type EncoderForwardOptions,
  type EncoderOutput,
  type EncoderResult,
} from "./lib/models/encoder.ts";
export {
  Decoder,
  decoder,
  type DecoderConfig,
  type DecoderForwardOptions,
  type DecoderOutput,
  type DecoderResult,
} from "./lib/models/decoder.ts";
export {
  Transformer,
  transformer,
  type TransformerConfig,
  type TransformerForwardOptions,
  type TransformerOutput,
  type TransformerResult,
} from "./lib/models/transformer.ts";
export {
  type Beam,
  type BeamSearchOptions,
  type GreedyDecodeOptions,
  type GreedyDecodeResult,
  Seq2Seq,
  seq2seq,
  type Seq2SeqConfig,
  type Seq2SeqDecodeResult,
  type Seq2SeqEncodeResult,
  type Seq2SeqForwardOptions,
  type Seq2SeqOutput,
  type Seq2SeqResult,
} from "./lib/models/seq2seq.ts";
export {
  GPT,
  gpt,
  GPTBlock,
  type GPTConfig,
  type GPTForwardOptions,
  type GPTGenerateOptions,
  type GPTGenerateResult,
  type GPTOutput,
  type GPTResult,
  type LMLossOptions,
  type ResolvedGPTConfig,
} from "./lib/models/gpt.ts";

// Head analysis
export {
  alignmentScore,
  copyingScore,
  type ExpectedAlignment,
  prefixMatchingScore,
  type PrefixMatchingSpec,
  type PrefixMatchingTarget,
  previousTokenScore,
} from "./lib/analysis/mod.ts";

// Training: optimizers, gradient clipping, learning-rate schedules
export {
  Adam,
  type AdamOptions,
  type AdamResolved,
  AdamW,
  clipGradNorm,
  type ClipGradNormOptions,
  Optimizer,
  type OptimizerParams,
  type OptimizerStateDict,
  type ParameterState,
  type ParameterStateDict,
  SGD,
  type SGDOptions,
  type SGDResolved,
  transformerLearningRate,
  type TransformerLearningRateOptions,
  warmupCosineLearningRate,
  type WarmupCosineLearningRateOptions,
} from "./lib/optim/mod.ts";

// IO and testing
export {
  loadSafetensors,
  type LoadSafetensorsOptions,
  readSafetensorsMetadata,
  type SafetensorsDtype,
  saveSafetensors,
} from "./lib/io/safetensors.ts";
export { loadModule, saveModule } from "./lib/io/module_io.ts";
export {
  assertClose,
  type AssertCloseOptions,
  type CloseInput,
  maxAbsDiff,
  maxRelDiff,
} from "./lib/testing/assert_close.ts";
