/**
 * The residual connection around every Transformer sublayer, with layer
 * normalisation in either placement:
 *
 * - post-norm (the paper, PyTorch `norm_first=False`): $x \leftarrow \mathrm{Norm}(x + \mathrm{Dropout}(\mathrm{Sublayer}(x)))$;
 * - pre-norm (GPT-2 onward, `norm_first=True`): $x \leftarrow x + \mathrm{Dropout}(\mathrm{Sublayer}(\mathrm{Norm}(x)))$.
 *
 * @module
 */

import { add } from "../tensor/elementwise.ts";
import { formatShape, sameShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";
import {
  _boolean,
  _call,
  _checkTensorFn,
  _finiteAtLeast,
  _options,
  _positiveInt,
  _probability,
  _seed,
  type TensorFn,
} from "./_validate.ts";
import { Dropout } from "./dropout.ts";
import { LayerNorm } from "./layer_norm.ts";
import { Module } from "./module.ts";

export type { TensorFn };

/** Options for {@link addNorm}. */
export interface AddNormOptions {
  /** Normalise the sublayer's input (pre-norm) instead of the sum (post-norm, default). */
  normFirst?: boolean;
  /** Applied to the sublayer's output before the add (a `Dropout` or a function); default none. */
  dropout?: TensorFn;
}

/**
 * One residual sublayer:
 * $$\text{post-norm: } \mathrm{norm}(x + \mathrm{dropout}(\mathrm{sublayer}(x))),\qquad
 * \text{pre-norm: } x + \mathrm{dropout}(\mathrm{sublayer}(\mathrm{norm}(x))).$$
 * Dropout sits on the sublayer output, before the add, where PyTorch's
 * `nn.TransformerEncoderLayer` puts its `dropout1`/`dropout2`.
 *
 * @param x `[..., dModel]`, the residual stream.
 * @param sublayer Attention or feed-forward: a function of a tensor, or anything with `forward(x)`;
 *   it must return the shape of its input.
 * @param norm The normalisation (a `LayerNorm`, `RMSNorm`, or a function).
 * @param options `normFirst` (default false) and `dropout`.
 * @returns `[..., dModel]`, the updated residual stream.
 * @throws {TypeError} When `x` is not a Tensor, a callable argument is neither a function
 *   nor has `forward`, or one of them returns a non-Tensor.
 * @throws {RangeError} When the sublayer changes the shape of the stream.
 *
 * @example Post-norm and pre-norm differ
 * ```ts
 * import { addNorm } from "./add_norm.ts";
 * import { LayerNorm } from "./layer_norm.ts";
 * import { scale } from "../tensor/elementwise.ts";
 * import { type Tensor, tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const norm = new LayerNorm(2, { eps: 0 });
 * const double = (t: Tensor) => scale(t, 2);
 * const x = tensor([[1, 3]]);
 * assert.deepEqual(addNorm(x, double, norm).toArray(), [[-1, 1]]); // norm(3x)
 * assert.deepEqual(addNorm(x, double, norm, { normFirst: true }).toArray(), [[-1, 5]]); // x + 2·norm(x)
 * ```
 */
export function addNorm(
  x: Tensor,
  sublayer: TensorFn,
  norm: TensorFn,
  options?: AddNormOptions,
): Tensor {
  const fn = "addNorm";
  checkTensor(x, fn, "x");
  const o = _options(options, fn, "options");
  const normFirst = _boolean(o.normFirst ?? false, fn, "normFirst");
  _checkTensorFn(sublayer, fn, "sublayer");
  _checkTensorFn(norm, fn, "norm");
  const drop = o.dropout === undefined ? null : _checkTensorFn(o.dropout, fn, "dropout");
  const branch = (input: Tensor): Tensor => {
    const y = _call(sublayer, input, fn, "sublayer");
    if (!sameShape(y.shape, x.shape)) {
      throw new RangeError(
        `${fn}: the sublayer must keep the residual stream's shape: x=${
          formatShape(x.shape)
        }, sublayer output=${formatShape(y.shape)}`,
      );
    }
    return drop ? _call(drop, y, fn, "dropout") : y;
  };
  if (normFirst) {
    // x + dropout(sublayer(norm(x)))
    return add(x, branch(_call(norm, x, fn, "norm")));
  }
  // norm(x + dropout(sublayer(x)))
  return _call(norm, add(x, branch(x)), fn, "norm");
}

/** Options for {@link AddNorm}. */
export interface AddNormModuleOptions {
  /** Pre-norm instead of post-norm (the paper's); default false, as PyTorch's `norm_first`. */
  normFirst?: boolean;
  /** Dropout probability on the sublayer output; default 0. */
  dropout?: number;
  /** LayerNorm ε; default 1e-5. */
  eps?: number;
  /** Root seed of the dropout stream while the module stands alone; default 0. */
  seed?: number;
}

/**
 * A residual sublayer connection owning its `norm` (a {@link LayerNorm}, parameters
 * `norm.weight`, `norm.bias`) and `dropout`: `forward(x, sublayer)` is {@link addNorm}.
 * (The Annotated Transformer's `SublayerConnection`; in PyTorch's encoder layer
 * the same parts are `norm1` + `dropout1` and `norm2` + `dropout2`.)
 *
 * @example Pre-norm block with an identity sublayer
 * ```ts
 * import { AddNorm } from "./add_norm.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const block = new AddNorm(2, { normFirst: true, eps: 0 });
 * const y = block.forward(tensor([[1, 3]]), (t) => t);
 * assert.deepEqual(y.toArray(), [[0, 4]]); // x + norm(x) = [1 - 1, 3 + 1]
 * assert.deepEqual(Object.keys(block.stateDict()), ["norm.weight", "norm.bias"]);
 * ```
 */
export class AddNorm extends Module {
  /** The layer normalisation. */
  readonly norm: LayerNorm;
  /** Dropout on the sublayer output. */
  readonly dropout: Dropout;
  /** Pre-norm when true, post-norm otherwise. */
  readonly normFirst: boolean;

  /**
   * A residual connection with its own LayerNorm(dModel) and Dropout.
   *
   * @param dModel Width of the residual stream.
   * @param options `normFirst`, `dropout`, `eps`, `seed`.
   * @throws {RangeError} A non-positive `dModel`, dropout outside [0, 1], negative `eps`.
   */
  constructor(readonly dModel: number, options: AddNormModuleOptions = {}) {
    super();
    const fn = "AddNorm";
    _positiveInt(dModel, fn, "dModel");
    const o = _options(options, fn, "options");
    const p = _probability(o.dropout ?? 0, fn, "dropout");
    const eps = _finiteAtLeast(o.eps ?? 1e-5, 0, fn, "eps");
    this.normFirst = _boolean(o.normFirst ?? false, fn, "normFirst");
    this.useSeed(_seed(o.seed ?? 0, fn, "seed"));
    this.norm = this.registerModule("norm", new LayerNorm(dModel, { eps }));
    this.dropout = this.registerModule("dropout", new Dropout(p));
  }

  /** {@link addNorm} of `x [..., dModel]` around `sublayer` with this module's norm and dropout. */
  forward(x: Tensor, sublayer: TensorFn): Tensor {
    return addNorm(x, sublayer, this.norm, { normFirst: this.normFirst, dropout: this.dropout });
  }
}
