/**
 * Learned absolute position embeddings (BERT, GPT-2): one trained vector per
 * position, added to the token embeddings.
 *
 * @module
 */

import { add } from "../tensor/elementwise.ts";
import { recordOp } from "../tensor/op.ts";
import { Rng } from "../tensor/rng.ts";
import { checkSize, formatShape } from "../tensor/shape.ts";
import { checkTensor, randn, Tensor } from "../tensor/tensor.ts";
import { _nonNegativeInt, _options, _positiveInt, _seed } from "./_validate.ts";
import { Module } from "./module.ts";

/** Options for {@link LearnedPositionalEmbedding}. */
export interface LearnedPositionalEmbeddingOptions {
  /** Seed of the N(0, 1) initialisation (as `nn.Embedding`); default 0. */
  seed?: number;
}

/** Options for {@link LearnedPositionalEmbedding.forward} and {@link LearnedPositionalEmbedding.positions}. */
export interface PositionOffsetOptions {
  /** Position of the first row (e.g. the KV-cache length when decoding); default 0. */
  offset?: number;
}

/**
 * A table `weight [maxLen, dModel]` (an `nn.Embedding` over positions, so the
 * PyTorch name is `weight`; GPT-2 calls it `wpe.weight`), initialised N(0, 1).
 *
 * @example Add positions to a batch of token embeddings
 * ```ts
 * import { LearnedPositionalEmbedding } from "./learned_positional_embedding.ts";
 * import { tensor, zeros } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const pos = new LearnedPositionalEmbedding(3, 2);
 * pos.loadStateDict({ weight: tensor([[0, 0], [1, 1], [2, 2]]) });
 * assert.deepEqual(pos.forward(zeros([1, 2, 2]), { offset: 1 }).toArray(), [[[1, 1], [2, 2]]]);
 * assert.throws(() => pos.forward(zeros([4, 2])), RangeError); // only 3 positions
 * ```
 */
export class LearnedPositionalEmbedding extends Module {
  /** The table `[maxLen, dModel]`. */
  readonly weight: Tensor;

  /**
   * A table of `maxLen` position vectors of size `dModel`, drawn N(0, 1).
   *
   * @param maxLen Number of positions the table holds.
   * @param dModel Embedding size.
   * @param options `seed` (default 0).
   * @throws {RangeError} When a size is not a positive integer.
   */
  constructor(
    readonly maxLen: number,
    readonly dModel: number,
    options: LearnedPositionalEmbeddingOptions = {},
  ) {
    super();
    _positiveInt(maxLen, "LearnedPositionalEmbedding", "maxLen");
    _positiveInt(dModel, "LearnedPositionalEmbedding", "dModel");
    options = _options(options, "LearnedPositionalEmbedding", "options");
    checkSize([maxLen, dModel], "LearnedPositionalEmbedding", "the table [maxLen, dModel] =");
    this.weight = this.registerParameter(
      "weight",
      randn(
        [maxLen, dModel],
        new Rng(_seed(options.seed ?? 0, "LearnedPositionalEmbedding", "seed")),
      ),
    );
  }

  /**
   * The rows for positions `offset … offset + length − 1`: `[length, dModel]`.
   *
   * @throws {RangeError} When those positions run past `maxLen`.
   */
  positions(length: number, options: PositionOffsetOptions = {}): Tensor {
    const fn = "LearnedPositionalEmbedding.positions";
    _nonNegativeInt(length, fn, "length");
    options = _options(options, fn, "options");
    const offset = _nonNegativeInt(options.offset ?? 0, fn, "offset");
    if (offset + length > this.maxLen) {
      throw new RangeError(
        `${fn}: positions ${offset}…${offset + length - 1} run past maxLen=${this.maxLen}`,
      );
    }
    const d = this.dModel;
    const rows = new Tensor(this.weight.data.slice(offset * d, (offset + length) * d), [length, d]);
    return recordOp("LearnedPositionalEmbedding.positions", [this.weight], rows, (dy) => {
      // rows = W[offset : offset + length], so dW is dy in those rows and 0 elsewhere
      const dw = new Float32Array(this.weight.size);
      dw.set(dy.data, offset * d);
      return [new Tensor(dw, this.weight.shape)];
    });
  }

  /**
   * `x + P[offset : offset + T]` for `x [..., T, dModel]` (broadcast over the leading axes).
   *
   * @throws {RangeError} When `x` is not `[..., T, dModel]` or the positions run past `maxLen`.
   */
  forward(x: Tensor, options: PositionOffsetOptions = {}): Tensor {
    const fn = "LearnedPositionalEmbedding.forward";
    checkTensor(x, fn, "x");
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.dModel) {
      throw new RangeError(
        `${fn}: x must be [..., T, ${this.dModel}], got ${formatShape(x.shape)}`,
      );
    }
    const t = x.shape[x.rank - 2];
    options = _options(options, fn, "options");
    const offset = _nonNegativeInt(options.offset ?? 0, fn, "offset");
    if (offset + t > this.maxLen) {
      throw new RangeError(
        `${fn}: x=${
          formatShape(x.shape)
        } has T=${t} positions from offset ${offset}, past maxLen=${this.maxLen}`,
      );
    }
    // [..., T, D] + [T, D] -> [..., T, D]
    return add(x, this.positions(t, options));
  }
}
