/**
 * The fixed sinusoidal positional encoding of "Attention Is All You Need" (section 3.5).
 *
 * @module
 */

import { checkSize } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { _finiteAbove, _nonNegativeInt, _options, _positiveInt } from "./_validate.ts";

/** Options for {@link sinusoidalEncoding}. */
export interface SinusoidalEncodingOptions {
  /** The wavelength base; default 10000 (the paper's). */
  base?: number;
}

/**
 * The table `[maxLen, dModel]` of
 * $$PE_{(pos,\,2i)} = \sin\left(\frac{pos}{10000^{2i/d_{\text{model}}}}\right),\qquad
 * PE_{(pos,\,2i+1)} = \cos\left(\frac{pos}{10000^{2i/d_{\text{model}}}}\right).$$
 *
 * Angles are computed in float64 and each value rounded once to float32. The
 * PyTorch tutorial builds the frequencies in float32 (`exp(arange(0, d, 2) * -ln(10000)/d)`),
 * so its table drifts from this one as pos grows (for dModel = 512: 7e-6 up to pos 100, 6e-5 up to
 * pos 1000, 4e-4 up to pos 5000).
 *
 * **Odd `dModel`** is accepted and the formula applied as written: the last column
 * (index d−1, even) is a sine with i = (d−1)/2 and has no cosine partner. (The
 * tutorial's code fails on odd sizes.)
 *
 * @param maxLen Number of positions (rows), pos = 0 … maxLen−1.
 * @param dModel Encoding size (columns).
 * @param options `base` (default 10000).
 * @returns Tensor `[maxLen, dModel]`, every value in [-1, 1].
 * @throws {RangeError} When `maxLen` is not a non-negative integer, `dModel` not a
 *   positive integer, or `base` not a finite number > 1.
 *
 * @example Row 0 alternates sin 0 = 0 and cos 0 = 1
 * ```ts
 * import { sinusoidalEncoding } from "./sinusoidal_encoding.ts";
 * import assert from "node:assert/strict";
 * const pe = sinusoidalEncoding(50, 4);
 * assert.deepEqual(pe.shape, [50, 4]);
 * assert.deepEqual((pe.toArray() as number[][])[0], [0, 1, 0, 1]);
 * assert.equal(pe.get(1, 0), Math.fround(Math.sin(1))); // i = 0: wavelength 2π
 * ```
 */
export function sinusoidalEncoding(
  maxLen: number,
  dModel: number,
  options: SinusoidalEncodingOptions = {},
): Tensor {
  _nonNegativeInt(maxLen, "sinusoidalEncoding", "maxLen");
  _positiveInt(dModel, "sinusoidalEncoding", "dModel");
  options = _options(options, "sinusoidalEncoding", "options");
  const base = _finiteAbove(options.base ?? 10000, 1, "sinusoidalEncoding", "base");
  checkSize([maxLen, dModel], "sinusoidalEncoding", "the table [maxLen, dModel] =");
  // Inverse wavelengths 1 / base^(2i/d), one per sin/cos pair.
  const pairs = Math.ceil(dModel / 2);
  const invFreq = new Float64Array(pairs);
  for (let i = 0; i < pairs; i++) invFreq[i] = Math.pow(base, (-2 * i) / dModel);
  const out = new Float32Array(maxLen * dModel);
  for (let pos = 0; pos < maxLen; pos++) {
    const row = pos * dModel;
    for (let i = 0; i < pairs; i++) {
      const angle = pos * invFreq[i];
      out[row + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < dModel) out[row + 2 * i + 1] = Math.cos(angle);
    }
  }
  return new Tensor(out, [maxLen, dModel]);
}
