/**
 * Private: the shared layer configuration of encoder and decoder layers, its
 * defaults and validation.
 *
 * @module
 */

import { Mask } from "../tensor/mask.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";

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

/** Fills defaults and validates the config; errors name `fn`. */
export function resolveLayerConfig(config: LayerConfig, fn: string): ResolvedLayerConfig {
  if (config === null || typeof config !== "object") {
    throw new TypeError(`${fn}: config must be an object like { dModel: 512, numHeads: 8 }`);
  }
  const activation = config.activation ?? "relu";
  if (activation !== "relu" && activation !== "gelu") {
    throw new RangeError(`${fn}: activation must be "relu" or "gelu", got ${String(activation)}`);
  }
  for (const key of ["dModel", "numHeads"] as const) {
    const v = config[key];
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`${fn}: ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (config.dModel % config.numHeads !== 0) {
    throw new RangeError(
      `${fn}: dModel=${config.dModel} must be divisible by numHeads=${config.numHeads} (each head gets dModel/numHeads features)`,
    );
  }
  return {
    dModel: config.dModel,
    numHeads: config.numHeads,
    dFF: config.dFF ?? 2048,
    dropout: config.dropout ?? 0.1,
    activation,
    normFirst: config.normFirst ?? false,
    layerNormEps: config.layerNormEps ?? 1e-5,
    seed: config.seed ?? 0,
  };
}

/** Checks a `[B, T, dModel]` input; returns its batch and length. */
export function checkSequence(
  x: Tensor,
  dModel: number,
  fn: string,
  arg: string,
): { batch: number; length: number } {
  checkTensor(x, fn, arg);
  if (x.rank !== 3 || x.shape[2] !== dModel) {
    throw new RangeError(
      `${fn}: ${arg} must be [B, T, dModel=${dModel}], got ${formatShape(x.shape)}`,
    );
  }
  return { batch: x.shape[0], length: x.shape[1] };
}

/** Checks that an optional mask broadcasts against the scores `[B, H, Tq, Tk]`. */
export function checkMask(
  m: Mask | undefined,
  scores: readonly number[],
  fn: string,
  arg: string,
): void {
  if (m === undefined || m === null) return;
  if (!(m instanceof Mask)) {
    throw new TypeError(`${fn}: ${arg} must be a Mask (true = may attend)`);
  }
  const [b, h, tq, tk] = scores;
  // Every mask axis, aligned from the right, must be 1 or the score's size.
  const ok = m.rank <= 4 &&
    m.shape.every((d, i) => d === 1 || d === scores[scores.length - m.rank + i]);
  if (!ok) {
    throw new RangeError(
      `${fn}: ${arg}=${
        formatShape(m.shape)
      } must broadcast against the attention scores [B=${b}, H=${h}, Tq=${tq}, Tk=${tk}] (e.g. [${b}, 1, 1, ${tk}] padding or [${tq}, ${tk}] causal)`,
    );
  }
}
