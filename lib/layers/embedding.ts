/**
 * Token embeddings: a lookup table from integer ids to vectors, PyTorch's
 * `nn.Embedding`, with the paper's optional √d_model scaling.
 *
 * @module
 */

import { scale } from "../tensor/elementwise.ts";
import { recordOp } from "../tensor/op.ts";
import { Rng } from "../tensor/rng.ts";
import { checkSize, formatShape } from "../tensor/shape.ts";
import { checkTensor, randn, Tensor } from "../tensor/tensor.ts";
import { _boolean, _describe, _options, _positiveInt, _seed } from "./_validate.ts";
import { Module } from "./module.ts";

/**
 * Token ids: a flat or nested number array, an integer typed array (flat), or
 * a Tensor holding integer values (as loaded from a checkpoint).
 */
export type TokenIds =
  | number
  | readonly number[]
  | readonly (readonly number[])[]
  | readonly (readonly (readonly number[])[])[]
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Tensor;

/** Flattens `ids` to integers in [0, vocab), recording their shape; errors name the position. */
function _flattenIds(
  ids: TokenIds,
  vocab: number,
  fn: string,
): { flat: Int32Array; shape: number[] } {
  const check = (v: unknown, path: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new RangeError(
        `${fn}: id ${
          String(v)
        } at ${path} is not an integer in [0, ${vocab}) (vocabulary size ${vocab})`,
      );
    }
    return v;
  };
  if (ids instanceof Tensor) {
    const flat = new Int32Array(ids.size);
    const strides = ids.shape.map((_, a) => ids.shape.slice(a + 1).reduce((p, d) => p * d, 1));
    for (let i = 0; i < flat.length; i++) {
      if (!Number.isInteger(ids.data[i]) || ids.data[i] < 0 || ids.data[i] >= vocab) {
        const index = strides.map((s, a) => Math.floor(i / s) % ids.shape[a]);
        check(ids.data[i], `ids[${index.join("][")}]`);
      }
      flat[i] = ids.data[i];
    }
    return { flat, shape: [...ids.shape] };
  }
  if (typeof ids === "number") return { flat: Int32Array.of(check(ids, "ids")), shape: [] };
  if (ArrayBuffer.isView(ids)) {
    const arr = ids as unknown as ArrayLike<number>;
    const flat = new Int32Array(arr.length);
    for (let i = 0; i < arr.length; i++) flat[i] = check(arr[i], `ids[${i}]`);
    return { flat, shape: [arr.length] };
  }
  if (!Array.isArray(ids)) {
    throw new TypeError(
      `${fn}: ids must be a number, nested number arrays, an integer typed array or a Tensor, got ${typeof ids}`,
    );
  }
  const shape: number[] = [];
  for (let probe: unknown = ids; Array.isArray(probe); probe = probe[0]) shape.push(probe.length);
  const out: number[] = [];
  const walk = (v: unknown, axis: number, path: string) => {
    if (axis === shape.length) {
      if (Array.isArray(v)) {
        throw new RangeError(`${fn}: ids are ragged: ${path} is nested deeper than its siblings`);
      }
      out.push(check(v, path));
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) {
      throw new RangeError(
        `${fn}: ids are ragged: ${path} should be an array of length ${shape[axis]} (ids shape ${
          formatShape(shape)
        })`,
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], axis + 1, `${path}[${i}]`);
  };
  walk(ids, 0, "ids");
  return { flat: Int32Array.from(out), shape };
}

/**
 * Looks up rows of `weight [V, D]`: `out[..., :] = weight[ids[...], :]`.
 *
 * @param ids Integers in [0, V): nested arrays (shape inferred), a flat typed array, or a Tensor.
 * @param weight The table `[V, D]`.
 * @returns `[...ids.shape, D]`.
 * @throws {RangeError} An id that is not an integer in [0, V) (the message names the id,
 *   its position and V), ragged ids, or a weight that is not 2-D.
 * @throws {TypeError} When `weight` is not a Tensor or `ids` has an unsupported type.
 *
 * @example Gather two rows
 * ```ts
 * import { embedding } from "./embedding.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const table = tensor([[0, 0], [1, 1], [2, 4]]);
 * assert.deepEqual(embedding([[2, 1]], table).toArray(), [[[2, 4], [1, 1]]]);
 * assert.throws(() => embedding([3], table), /id 3 at ids\[0\].*vocabulary size 3/);
 * ```
 */
export function embedding(ids: TokenIds, weight: Tensor): Tensor {
  return _lookup(ids, weight, "embedding");
}

/** The lookup, recorded; the row `paddingIdx` (if any) gets no gradient, as in PyTorch. */
function _lookup(
  ids: TokenIds,
  weight: Tensor,
  fn: string,
  paddingIdx: number | null = null,
): Tensor {
  checkTensor(weight, fn, "weight");
  if (weight.rank !== 2) {
    throw new RangeError(
      `${fn}: weight must be [numEmbeddings, dim], got ${formatShape(weight.shape)}`,
    );
  }
  const [vocab, d] = weight.shape;
  const { flat, shape } = _flattenIds(ids, vocab, fn);
  const out = new Float32Array(checkSize([...shape, d], fn, "the embeddings [...ids, D] ="));
  for (let t = 0; t < flat.length; t++) {
    out.set(weight.data.subarray(flat[t] * d, flat[t] * d + d), t * d);
  }
  return recordOp("embedding", [weight], new Tensor(out, [...shape, d]), (dy) => {
    // out[t] = W[id_t], so dW[v] = Σ_{t : id_t = v} dy[t]: a token used twice gets
    // both gradients; the padding row gets none
    const dw = new Float32Array(vocab * d);
    for (let t = 0; t < flat.length; t++) {
      const v = flat[t];
      if (v === paddingIdx) continue;
      for (let i = 0; i < d; i++) dw[v * d + i] += dy.data[t * d + i];
    }
    return [new Tensor(dw, weight.shape)];
  });
}

/** Options for {@link Embedding}. */
export interface EmbeddingOptions {
  /** Multiply the looked-up vectors by √dim, as the paper does (section 3.4); default false. */
  scaleByDModel?: boolean;
  /** An id whose row starts at zero (PyTorch's `padding_idx`; negative counts from the end). */
  paddingIdx?: number;
  /** Seed of the N(0, 1) initialisation; default 0. */
  seed?: number;
}

/**
 * Embedding table `weight [numEmbeddings, dim]`, initialised N(0, 1) like
 * `nn.Embedding` (the `paddingIdx` row zero), PyTorch name `weight`.
 *
 * With `scaleByDModel` the output is $\mathrm{weight}[id]\cdot\sqrt{d_{\text{model}}}$,
 * the paper's scaling that puts token embeddings on the scale of the sinusoidal encodings
 * when the table is shared with the output projection. In backward the rows
 * accumulate (a token used twice gets both gradients) and the `paddingIdx` row
 * gets none, as in PyTorch.
 *
 * @example Look up and scale
 * ```ts
 * import { Embedding } from "./embedding.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const emb = new Embedding(3, 4, { scaleByDModel: true, paddingIdx: 0 });
 * emb.loadStateDict({ weight: tensor([[0, 0, 0, 0], [1, 2, 3, 4], [1, 1, 1, 1]]) });
 * assert.deepEqual(emb.forward([[1, 0]]).toArray(), [[[2, 4, 6, 8], [0, 0, 0, 0]]]); // √4 = 2
 * assert.deepEqual(emb.forward(new Int32Array([2])).shape, [1, 4]);
 * ```
 */
export class Embedding extends Module {
  /** The table `[numEmbeddings, dim]`. */
  readonly weight: Tensor;
  /** Whether outputs are multiplied by √dim. */
  readonly scaleByDModel: boolean;
  /** The padding row (non-negative), or null. */
  readonly paddingIdx: number | null;

  /**
   * A table of `numEmbeddings` vectors of size `dim`, drawn N(0, 1).
   *
   * @param numEmbeddings Vocabulary size V.
   * @param dim Embedding size.
   * @param options `scaleByDModel`, `paddingIdx`, `seed`.
   * @throws {RangeError} Non-positive sizes, or a `paddingIdx` outside [-V, V).
   */
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    _positiveInt(numEmbeddings, "Embedding", "numEmbeddings");
    _positiveInt(dim, "Embedding", "dim");
    options = _options(options, "Embedding", "options");
    checkSize([numEmbeddings, dim], "Embedding", "the table [numEmbeddings, dim] =");
    this.scaleByDModel = _boolean(options.scaleByDModel ?? false, "Embedding", "scaleByDModel");
    const pad = options.paddingIdx;
    if (pad === undefined || pad === null) {
      this.paddingIdx = null;
    } else if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
      throw new (typeof pad === "number" ? RangeError : TypeError)(
        `Embedding: paddingIdx must be an integer in [-${numEmbeddings}, ${numEmbeddings}) for numEmbeddings=${numEmbeddings}, got ${
          _describe(pad)
        }`,
      );
    } else {
      this.paddingIdx = pad < 0 ? pad + numEmbeddings : pad;
    }
    const weight = randn(
      [numEmbeddings, dim],
      new Rng(_seed(options.seed ?? 0, "Embedding", "seed")),
    );
    if (this.paddingIdx !== null) {
      weight.data.fill(0, this.paddingIdx * dim, (this.paddingIdx + 1) * dim);
    }
    this.weight = this.registerParameter("weight", weight);
  }

  /**
   * Embeds `ids` (shape `[...]`) to `[..., dim]`, times √dim with `scaleByDModel`.
   *
   * @throws {RangeError} An id that is not an integer in [0, numEmbeddings); the message
   *   names the id, its position and the vocabulary size.
   */
  forward(ids: TokenIds): Tensor {
    const e = _lookup(ids, this.weight, "Embedding.forward", this.paddingIdx);
    return this.scaleByDModel ? scale(e, Math.sqrt(this.dim)) : e;
  }
}
