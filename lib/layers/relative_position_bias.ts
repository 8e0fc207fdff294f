/**
 * T5's relative position bias (Raffel et al., 2020): each head learns one
 * scalar per bucket of key − query distance and adds it to the attention
 * scores. Buckets are exact for short distances and logarithmic up to a
 * maximum distance, beyond which all distances share the last bucket.
 *
 * @module
 */

import { recordOp } from "../tensor/op.ts";
import { checkSize } from "../tensor/shape.ts";
import { Rng } from "../tensor/rng.ts";
import { randn, Tensor } from "../tensor/tensor.ts";
import { _boolean, _nonNegativeInt, _oneOf, _options, _positiveInt, _seed } from "./_validate.ts";
import { Module } from "./module.ts";

/** Options for {@link relativePositionBucket} and {@link RelativePositionBias}. */
export interface RelativePositionBucketOptions {
  /** Separate buckets for keys before and after the query (encoder); default true. Decoders use false. */
  bidirectional?: boolean;
  /** Number of buckets; default 32 (T5's). */
  numBuckets?: number;
  /** Distances from here on share the last bucket; default 128 (T5's). */
  maxDistance?: number;
}

interface _BucketConfig {
  bidirectional: boolean;
  numBuckets: number;
  maxDistance: number;
  maxExact: number;
  /** Buckets per direction. */
  perSide: number;
}

function _bucketConfig(options: RelativePositionBucketOptions, fn: string): _BucketConfig {
  options = _options(options, fn, "options");
  const bidirectional = _boolean(options.bidirectional ?? true, fn, "bidirectional");
  const numBuckets = _positiveInt(options.numBuckets ?? 32, fn, "numBuckets");
  const maxDistance = _positiveInt(options.maxDistance ?? 128, fn, "maxDistance");
  const perSide = bidirectional ? Math.floor(numBuckets / 2) : numBuckets;
  const maxExact = Math.floor(perSide / 2);
  if (maxExact < 1) {
    throw new RangeError(
      `${fn}: numBuckets must be at least ${bidirectional ? 4 : 2} ${
        bidirectional ? "when bidirectional" : "when unidirectional"
      } (half of each side's buckets are exact distances), got ${numBuckets}`,
    );
  }
  if (maxDistance <= maxExact) {
    throw new RangeError(
      `${fn}: maxDistance must exceed the ${maxExact} exact buckets of numBuckets=${numBuckets}, got ${maxDistance}`,
    );
  }
  return { bidirectional, numBuckets, maxDistance, maxExact, perSide };
}

function _bucket(rel: number, c: _BucketConfig): number {
  let bucket = 0;
  let n: number;
  if (c.bidirectional) {
    // Keys after the query use the upper half of the buckets.
    if (rel > 0) bucket += c.perSide;
    n = Math.abs(rel);
  } else {
    // Keys after the query (rel > 0) all fall in bucket 0.
    n = rel < 0 ? -rel : 0;
  }
  if (n < c.maxExact) return bucket + n;
  const large = c.maxExact +
    Math.trunc(
      (Math.log(n / c.maxExact) / Math.log(c.maxDistance / c.maxExact)) * (c.perSide - c.maxExact),
    );
  return bucket + Math.min(large, c.perSide - 1);
}

/**
 * The T5 bucket of a relative position `key − query`. With B buckets per
 * direction (numBuckets/2 if bidirectional, else numBuckets) and E = ⌊B/2⌋, a
 * distance n goes to bucket n when n < E, else
 * $$E + \left\lfloor \frac{\ln(n/E)}{\ln(\text{maxDistance}/E)}\,(B - E) \right\rfloor,$$
 * capped at B − 1. Bidirectional: keys after the query (relative position > 0)
 * are offset by B. Unidirectional: keys after the query share bucket 0.
 * Computed in float64; it agrees with the Hugging Face float32 version for all
 * |relative position| < 3000 under several configurations (see the tests).
 *
 * @param relativePosition `keyPosition − queryPosition`, an integer.
 * @param options `bidirectional` (default true), `numBuckets` (default 32), `maxDistance` (default 128).
 * @returns The bucket, an integer in [0, numBuckets).
 * @throws {RangeError} A non-integer position, or bucket settings with no room for exact
 *   buckets (numBuckets < 4 bidirectional, < 2 otherwise) or `maxDistance` not above them.
 *
 * @example Exact near, logarithmic far
 * ```ts
 * import { relativePositionBucket } from "./relative_position_bias.ts";
 * import assert from "node:assert/strict";
 * assert.equal(relativePositionBucket(0), 0);
 * assert.equal(relativePositionBucket(-3), 3); // key 3 before the query
 * assert.equal(relativePositionBucket(3), 19); // key 3 after: 16 + 3
 * assert.equal(relativePositionBucket(-1000), 15); // past maxDistance: the last bucket
 * assert.equal(relativePositionBucket(5, { bidirectional: false }), 0);
 * ```
 */
export function relativePositionBucket(
  relativePosition: number,
  options: RelativePositionBucketOptions = {},
): number {
  if (typeof relativePosition !== "number" || !Number.isSafeInteger(relativePosition)) {
    throw new RangeError(
      `relativePositionBucket: relativePosition must be an integer, got ${
        String(relativePosition)
      }`,
    );
  }
  return _bucket(relativePosition, _bucketConfig(options, "relativePositionBucket"));
}

/** Options for {@link RelativePositionBias}. */
export interface RelativePositionBiasOptions extends RelativePositionBucketOptions {
  /** Seed of the N(0, 1) initialisation of the table (as `nn.Embedding`); default 0. */
  seed?: number;
}

/** Options for {@link RelativePositionBias.forward} and {@link RelativePositionBias.buckets}. */
export interface RelativePositionAlignOptions {
  /**
   * `"top-left"` (default): query i is at position i. `"bottom-right"` (KV-cache
   * decoding, as Hugging Face T5 slices its bias): query i is at i + (tk − tq).
   */
  align?: "top-left" | "bottom-right";
}

/**
 * T5's learned relative position bias: a table `weight [numBuckets, numHeads]`
 * (T5's `relative_attention_bias.weight`, an `nn.Embedding`) giving
 * $$B_{h,i,j} = \mathrm{weight}\left[\mathrm{bucket}(j - i),\ h\right],$$
 * to pass as `scaledDotProductAttention`'s `bias`. T5 computes it in the first
 * layer and shares it with the others.
 *
 * @example The bias depends only on j − i
 * ```ts
 * import { RelativePositionBias } from "./relative_position_bias.ts";
 * import assert from "node:assert/strict";
 * const rpb = new RelativePositionBias(2, { numBuckets: 8, maxDistance: 16, seed: 3 });
 * const b = rpb.forward(4).toArray() as number[][][]; // [2, 4, 4]
 * assert.equal(b[1][0][1], b[1][2][3]);
 * assert.equal(b[0][1][0], rpb.weight.get(1, 0)); // key one before the query: bucket 1
 * ```
 */
export class RelativePositionBias extends Module {
  /** The table `[numBuckets, numHeads]`. */
  readonly weight: Tensor;
  readonly #config: _BucketConfig;

  /**
   * A bias table for `numHeads` heads, drawn N(0, 1).
   *
   * @param numHeads Number of heads H.
   * @param options Bucket settings (`bidirectional`, `numBuckets`, `maxDistance`) and `seed`.
   * @throws {RangeError} As {@link relativePositionBucket}, or a non-positive `numHeads`.
   */
  constructor(readonly numHeads: number, options: RelativePositionBiasOptions = {}) {
    super();
    _positiveInt(numHeads, "RelativePositionBias", "numHeads");
    this.#config = _bucketConfig(options, "RelativePositionBias");
    checkSize(
      [this.#config.numBuckets, numHeads],
      "RelativePositionBias",
      "the table [numBuckets, H] =",
    );
    this.weight = this.registerParameter(
      "weight",
      randn(
        [this.#config.numBuckets, numHeads],
        new Rng(_seed(options.seed ?? 0, "RelativePositionBias", "seed")),
      ),
    );
  }

  /** Whether keys before and after the query have separate buckets. */
  get bidirectional(): boolean {
    return this.#config.bidirectional;
  }

  /** Number of buckets. */
  get numBuckets(): number {
    return this.#config.numBuckets;
  }

  /** Distance from which all positions share the last bucket. */
  get maxDistance(): number {
    return this.#config.maxDistance;
  }

  /**
   * The bucket of every (query, key) pair, `[Tq, Tk]` (integers stored as float32), for plots.
   *
   * @throws {RangeError} When `tq`/`tk` is not a non-negative integer or `align` is unknown.
   */
  buckets(tq: number, tk: number = tq, options: RelativePositionAlignOptions = {}): Tensor {
    return new Tensor(Float32Array.from(this.#bucketIndex(tq, tk, options, "buckets")), [tq, tk]);
  }

  /**
   * The bias `[H, Tq, Tk]`: `weight[bucket(j − i), h]`.
   *
   * @throws {RangeError} When `tq`/`tk` is not a non-negative integer or `align` is unknown.
   */
  forward(tq: number, tk: number = tq, options: RelativePositionAlignOptions = {}): Tensor {
    const h = this.numHeads;
    checkSize([h, tq, tk], "RelativePositionBias.forward", "the bias [H, Tq, Tk] =");
    const idx = this.#bucketIndex(tq, tk, options, "forward");
    const out = new Float32Array(h * tq * tk);
    // weight [numBuckets, H] gathered and laid out as [H, Tq, Tk]
    for (let head = 0; head < h; head++) {
      const o = head * tq * tk;
      for (let p = 0; p < idx.length; p++) out[o + p] = this.weight.data[idx[p] * h + head];
    }
    return recordOp("RelativePositionBias", [this.weight], new Tensor(out, [h, tq, tk]), (dy) => {
      // B[h, i, j] = W[bucket(j − i), h], so dW[b, h] = Σ_{(i, j) in bucket b} dB[h, i, j]
      const dw = new Float32Array(this.weight.size);
      for (let head = 0; head < h; head++) {
        const o = head * tq * tk;
        for (let p = 0; p < idx.length; p++) dw[idx[p] * h + head] += dy.data[o + p];
      }
      return [new Tensor(dw, this.weight.shape)];
    });
  }

  #bucketIndex(
    tq: number,
    tk: number,
    options: RelativePositionAlignOptions,
    method: string,
  ): Int32Array {
    const fn = `RelativePositionBias.${method}`;
    _nonNegativeInt(tq, fn, "tq");
    _nonNegativeInt(tk, fn, "tk");
    options = _options(options, fn, "options");
    const align = _oneOf(options.align ?? "top-left", ["top-left", "bottom-right"], fn, "align");
    const shift = align === "bottom-right" ? tk - tq : 0;
    const idx = new Int32Array(checkSize([tq, tk], fn, "the buckets [Tq, Tk] ="));
    for (let i = 0; i < tq; i++) {
      for (let j = 0; j < tk; j++) idx[i * tk + j] = _bucket(j - (i + shift), this.#config);
    }
    return idx;
  }
}
