/**
 * Inverted dropout (Srivastava et al., 2014): in training, zero each element
 * with probability p and scale the survivors by 1/(1-p), so the expectation is
 * unchanged and inference needs no rescaling.
 *
 * @module
 */

import { dropoutAt, MAX_RANDOM_INDEX } from "../kernels/random.ts";
import { recordOp } from "../tensor/op.ts";
import type { CounterKey, Rng } from "../tensor/rng.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _boolean, _counterKey, _probability, _seed } from "./_validate.ts";
import { Module } from "./module.ts";

/** Options for {@link dropout}. */
export interface DropoutOptions {
  /** Drop elements (default true, like `F.dropout`); false returns `x` unchanged. */
  training?: boolean;
  /** Source of the call's key (one `rng.nextKey()` per call); this or `key` is required when training with p > 0. */
  rng?: Rng;
  /**
   * The counter-based key of this call: element i is dropped when
   * `uniformAt(key.key, key.call, i) < p`. The same key gives the same mask,
   * so a backward pass can regenerate it. Takes precedence over `rng`.
   */
  key?: CounterKey;
}

/**
 * $$\mathrm{dropout}(x)_i = \frac{m_i\,x_i}{1 - p},\qquad m_i \sim \mathrm{Bernoulli}(1 - p)$$
 *
 * The mask comes from the counter-based generator (Philox4x32-10 in
 * `kernels/random.ts`): element i (row-major) is dropped when its number
 * `u(key, call, i) < p`, the convention of the attention kernel too; with an
 * `rng`, the key is `rng.nextKey()`, drawn once per call. `p = 1` drops
 * everything and returns zeros, as PyTorch does. Backward keeps no mask: it
 * draws the same one again from the key, dx = m ⊙ dy / (1 − p).
 *
 * @param x Any tensor.
 * @param p Drop probability in [0, 1].
 * @param options `training` (default true) and `key` or `rng`.
 * @returns `x` itself when not training or when `p = 0`; otherwise a new tensor.
 * @throws {TypeError} When `x` is not a Tensor, or training with p > 0 and neither `key` nor `rng`.
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
  if (options === null || typeof options !== "object") {
    throw new TypeError(`dropout: options must be an object`);
  }
  const training = _boolean(options.training ?? true, "dropout", "training");
  if (!training || p === 0) return x;
  const { rng } = options;
  let key: CounterKey;
  if (options.key !== undefined) key = _counterKey(options.key, "dropout", "key");
  else if (rng && typeof rng.nextKey === "function") key = rng.nextKey();
  else {
    throw new TypeError(
      `dropout: training with p=${p} needs a key or an rng (e.g. { rng: new Rng(0) }), or pass { training: false }`,
    );
  }
  if (x.size > MAX_RANDOM_INDEX) {
    throw new RangeError(`dropout: x has ${x.size} elements, more than a stream addresses`);
  }
  const out = new Float32Array(x.size);
  // p = 1 drops everything: zeros, and a zero gradient
  if (p < 1) dropoutAt(x.data, 0, out, 0, x.size, p, key.key, key.call, 0);
  return recordOp("dropout", [x], new Tensor(out, x.shape), (dy) => {
    // y = m ⊙ x / (1 − p), so dx = m ⊙ dy / (1 − p): the same mask, regenerated from
    // (key, call) by the counter-based generator instead of stored
    const dx = new Float32Array(x.size);
    if (p < 1) dropoutAt(dy.data, 0, dx, 0, x.size, p, key.key, key.call, 0);
    return [new Tensor(dx, x.shape)];
  });
}

/** Options for {@link Dropout}. */
export interface DropoutModuleOptions {
  /**
   * Root seed of the module's random stream while it stands alone; default 0.
   * Registered inside a model, the stream derives from the model's seed and
   * this module's path instead.
   */
  seed?: number;
}

/**
 * Dropout module: active only in training mode (`module.train()`); modules
 * start in eval mode, where it is the identity. Each training-mode call takes
 * the next key of the module's counter-based stream ({@link Module.streamKey},
 * from the root seed and the module's path), so a run is reproducible, two
 * dropouts of one model never draw the same mask, and `lastKey` regenerates the
 * last mask. It has no parameters.
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
  /** The key of the last training-mode call (null before the first): `dropout(x, p, { key })` redraws its mask. */
  lastKey: CounterKey | null = null;

  /**
   * A dropout module with drop probability `p` and its own random stream.
   *
   * @param p Drop probability in [0, 1].
   * @param options `seed` (default 0).
   * @throws {RangeError} When `p` is outside [0, 1].
   */
  constructor(readonly p: number, options: DropoutModuleOptions = {}) {
    super();
    _probability(p, "Dropout", "p");
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Dropout: options must be an object like { seed: 0 }`);
    }
    this.useSeed(_seed(options.seed ?? 0, "Dropout", "seed"));
  }

  /** {@link dropout} with this module's `p`, training flag and the next key of its stream. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return checkTensor(x, "Dropout.forward", "x");
    this.lastKey = this.nextRandomKey();
    return dropout(x, this.p, { key: this.lastKey });
  }
}
