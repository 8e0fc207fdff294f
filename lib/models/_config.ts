/**
 * Private: the shared layer configuration of encoder and decoder layers, its
 * defaults and validation, the builders of their sublayers, and the input
 * checks every model shares.
 *
 * @module
 */

import { checkScoresOperand } from "../attention/check_scores_operand.ts";
import {
  _boolean,
  _dropProbability,
  _finiteAtLeast,
  _oneOf,
  _options,
  _positiveInt,
  _seed,
} from "../layers/_validate.ts";
import { Dropout } from "../layers/dropout.ts";
import { FeedForward } from "../layers/feed_forward.ts";
import { LayerNorm } from "../layers/layer_norm.ts";
import { childSeed } from "../layers/module.ts";
import type { Mask } from "../tensor/mask.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";
import { MultiHeadAttention } from "./multi_head_attention.ts";

/** Configuration of one encoder or decoder layer (PyTorch's names where it has them). */
export interface LayerConfig {
  /** Model width (d_model, 512 in the paper). */
  dModel: number;
  /** Attention heads; must divide `dModel`. */
  numHeads: number;
  /** Feed-forward hidden width; default 2048 (PyTorch's `dim_feedforward`). */
  dFF?: number;
  /** Dropout after attention, in the FFN and on attention weights, training mode only; default 0.1 (PyTorch). */
  dropout?: number;
  /** FFN activation; default "relu" (the paper). "gelu" is the exact erf form. */
  activation?: "relu" | "gelu";
  /** Pre-norm (`x + f(norm(x))`) instead of the paper's post-norm (`norm(x + f(x))`); default false. */
  normFirst?: boolean;
  /** LayerNorm ε; default 1e-5. */
  layerNormEps?: number;
  /** Seed of every initialisation and dropout stream; default 0. */
  seed?: number;
}

/** A config with every default filled in. */
export type ResolvedLayerConfig = Required<LayerConfig>;

/** Fills defaults and validates the config (every option's type and range); errors name `fn`. */
export function resolveLayerConfig(config: LayerConfig, fn: string): ResolvedLayerConfig {
  if (config === null || typeof config !== "object") {
    throw new TypeError(`${fn}: config must be an object like { dModel: 512, numHeads: 8 }`);
  }
  const dModel = _positiveInt(config.dModel, fn, "dModel");
  const numHeads = _positiveInt(config.numHeads, fn, "numHeads");
  if (dModel % numHeads !== 0) {
    throw new RangeError(
      `${fn}: dModel=${dModel} must be divisible by numHeads=${numHeads} (each head gets dModel/numHeads features)`,
    );
  }
  return {
    dModel,
    numHeads,
    dFF: _positiveInt(config.dFF ?? 2048, fn, "dFF"),
    // attention-weight dropout cannot drop every weight
    dropout: _dropProbability(config.dropout ?? 0.1, fn, "dropout"),
    activation: _oneOf(config.activation ?? "relu", ["relu", "gelu"], fn, "activation"),
    normFirst: _boolean(config.normFirst ?? false, fn, "normFirst"),
    layerNormEps: _finiteAtLeast(config.layerNormEps ?? 1e-5, 0, fn, "layerNormEps"),
    seed: _seed(config.seed ?? 0, fn, "seed"),
  };
}

/** A validated sequence input: `[B, T, dModel]` as given, or `[T, dModel]` viewed as `[1, T, dModel]`. */
export interface SequenceInput {
  /** `[B, T, dModel]`. */
  x: Tensor;
  batch: number;
  length: number;
  /** True when the caller passed `[T, dModel]`: results drop the B axis again ({@link unbatch}). */
  unbatched: boolean;
}

/** Checks a `[B, T, dModel]` or unbatched `[T, dModel]` input; returns it as `[B, T, dModel]`. */
export function sequenceInput(x: Tensor, dModel: number, fn: string, arg: string): SequenceInput {
  checkTensor(x, fn, arg);
  if ((x.rank !== 3 && x.rank !== 2) || x.shape[x.rank - 1] !== dModel) {
    throw new RangeError(
      `${fn}: ${arg} must be [B, T, dModel=${dModel}] or unbatched [T, dModel=${dModel}], got ${
        formatShape(x.shape)
      }`,
    );
  }
  const unbatched = x.rank === 2;
  const x3 = unbatched ? x.reshape([1, ...x.shape]) : x; // [T, D] -> [1, T, D]
  return { x: x3, batch: x3.shape[0], length: x3.shape[1], unbatched };
}

/** Checks that two sequence inputs are both batched or both unbatched, with one batch size. */
export function sameBatch(
  a: SequenceInput,
  b: SequenceInput,
  fn: string,
  names: readonly [string, string],
  shapes: readonly [readonly number[], readonly number[]],
): void {
  if (a.unbatched !== b.unbatched || a.batch !== b.batch) {
    throw new RangeError(
      `${fn}: ${names[0]}=${formatShape(shapes[0])} and ${names[1]}=${
        formatShape(shapes[1])
      } must have the same batch size (and both be batched, or both unbatched)`,
    );
  }
}

/** Drops the leading B = 1 axis of a result when the input was unbatched: `[1, ...] -> [...]`. */
export function unbatch<T extends Tensor | undefined>(t: T, unbatched: boolean): T {
  return (unbatched && t ? t.reshape(t.shape.slice(1)) : t) as T;
}

/** Checks that an optional mask broadcasts against the scores `[B, H, Tq, Tk]` ({@link checkScoresOperand}). */
export function checkMask(
  m: Mask | undefined,
  scores: readonly [number, number, number, number],
  fn: string,
  arg: string,
): void {
  checkScoresOperand(fn, arg, m, scores, ["B", "H", "Tq", "Tk"]);
}

/** The attention sublayer `name` of a layer: seeded by {@link childSeed} of the layer's seed. */
export function layerAttention(c: ResolvedLayerConfig, name: string): MultiHeadAttention {
  return new MultiHeadAttention({
    dModel: c.dModel,
    numHeads: c.numHeads,
    dropout: c.dropout,
    seed: childSeed(c.seed, name),
  });
}

/** The layer's feed-forward block (dropout on its hidden activations, as PyTorch's `dropout`). */
export function layerFeedForward(c: ResolvedLayerConfig): FeedForward {
  return new FeedForward({
    dModel: c.dModel,
    dFF: c.dFF,
    activation: c.activation,
    dropout: c.dropout,
    seed: childSeed(c.seed, "feedForward"),
  });
}

/** A LayerNorm over dModel with the config's ε. */
export function layerNorm(c: ResolvedLayerConfig): LayerNorm {
  return new LayerNorm(c.dModel, { eps: c.layerNormEps });
}

/** The dropout on one sublayer's output (training mode only); its stream comes from its path. */
export function layerDropout(c: ResolvedLayerConfig): Dropout {
  return new Dropout(c.dropout);
}

/** The options object of a forward call (absent: `{}`), or a TypeError naming `fn`. */
export function forwardOptions<T extends object>(options: T | undefined, fn: string): T {
  return _options(options, fn, "options");
}

/** The `needWeights` forward option: true when absent, else a boolean. */
export function needWeightsOption(value: unknown, fn: string): boolean {
  return _boolean(value ?? true, fn, "needWeights");
}
