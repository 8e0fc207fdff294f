/**
 * Layers: the building blocks a Transformer is assembled from, each with a
 * functional form and (where it has parameters) a {@link Module} whose
 * parameter names match PyTorch's.
 *
 * - Module convention and the affine layer: {@link Module}, {@link Linear}.
 * - Normalisation: {@link layerNorm} / {@link LayerNorm}, {@link rmsNorm} / {@link RMSNorm}.
 * - Activations: {@link relu}, {@link gelu}, {@link silu}, {@link tanh}, {@link swiglu}, with {@link erf}.
 * - Regularisation: {@link dropout} / {@link Dropout}.
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

export * from "./module.ts";
export * from "./linear.ts";
export * from "./erf.ts";
export * from "./activations.ts";
export * from "./layer_norm.ts";
export * from "./rms_norm.ts";
export * from "./batch_norm.ts";
export * from "./dropout.ts";
export * from "./feed_forward.ts";
export * from "./add_norm.ts";
export * from "./embedding.ts";
export * from "./sinusoidal_encoding.ts";
export * from "./learned_positional_embedding.ts";
export * from "./rotary.ts";
export * from "./alibi.ts";
export * from "./relative_position_bias.ts";
