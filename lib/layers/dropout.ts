/**
 * Inverted dropout (Srivastava et al., 2014): in training, zero each element
 * with probability p and scale the survivors by 1/(1-p), so the expectation is
 * unchanged and inference needs no rescaling.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _probability } from "./_validate.ts";
import { Module } from "./module.ts";

/** Options for {@link dropout}. */
export interface DropoutOptions {
  /** Drop elements (default true, like `F.dropout`); false returns `x` unchanged. */
  training?: boolean;
  /** Source of randomness; required when training with p > 0. */
  rng?: Rng;
}

/**
 * $$\mathrm{dropout}(x)_i = \frac{m_i\,x_i}{1 - p},\qquad m_i \sim \mathrm{Bernoulli}(1 - p)$$
 *
 * Element i is dropped when `rng.uniform() < p` (one draw per element, in
 * row-major order), the convention of the attention kernel too. `p = 1` drops
 * everything and returns zeros, as PyTorch does.
 *
 * @param x Any tensor.
 * @param p Drop probability in [0, 1].
 * @param options `training` (default true) and `rng`.
 * @returns `x` itself when not training or when `p = 0`; otherwise a new tensor.
 * @throws {TypeError} When `x` is not a Tensor, or training with p > 0 and no `rng`.
 * @throws {RangeError} When `p` is outside [0, 1].
 *
 * @example Survivors are scaled by 1/(1-p); evaluation is the identity
 * ```ts
 * import { dropout } from "./dropout.ts";
 * import { ones } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const x = ones([1000]);
 * const y = dropout(x, 0.5, { rng: new Rng(0) });
 * assert.ok(y.data.every((v) => v === 0 || v === 2));
 * assert.equal(dropout(x, 0.5, { training: false }), x);
 * ```
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  checkTensor(x, "dropout", "x");
  _probability(p, "dropout", "p");
  const training = options.training ?? true;
  if (!training || p === 0) return x;
  const rng = options.rng;
  if (!rng || typeof rng.uniform !== "function") {
    throw new TypeError(
      `dropout: training with p=${p} needs an rng (e.g. { rng: new Rng(0) }), or pass { training: false }`,
    );
  }
  const out = new Float32Array(x.size);
  if (p === 1) return new Tensor(out, x.shape);
  const keep = 1 / (1 - p);
  const src = x.data;
  for (let i = 0; i < src.length; i++) out[i] = rng.uniform() < p ? 0 : src[i] * keep;
  return new Tensor(out, x.shape);
}

/** Options for {@link Dropout}. */
export interface DropoutModuleOptions {
  /** Seed of the module's own {@link Rng}; default 0. */
  seed?: number;
}

/**
 * Dropout module: active only in training mode (`module.train()`); modules
 * start in eval mode, where it is the identity. Holds its own seeded {@link Rng},
 * so a run is reproducible; it has no parameters.
 *
 * @example Identity in eval mode, random zeros in training mode
 * ```ts
 * import { Dropout } from "./dropout.ts";
 * import { ones } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const drop = new Dropout(0.25, { seed: 1 });
 * const x = ones([64]);
 * assert.equal(drop.forward(x), x);
 * const y = drop.train().forward(x);
 * assert.ok(y.data.some((v) => v === 0) && y.data.some((v) => v === Math.fround(1 / 0.75)));
 * ```
 */
export class Dropout extends Module {
  /** The module's random stream (advanced by every training-mode call). */
  readonly rng: Rng;

  /**
   * A dropout module with drop probability `p` and its own seeded Rng.
   *
   * @param p Drop probability in [0, 1].
   * @param options `seed` (default 0).
   * @throws {RangeError} When `p` is outside [0, 1].
   */
  constructor(readonly p: number, options: DropoutModuleOptions = {}) {
    super();
    _probability(p, "Dropout", "p");
    this.rng = new Rng(options.seed ?? 0);
  }

  /** {@link dropout} with this module's `p`, training flag and Rng. */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, rng: this.rng });
  }
}
