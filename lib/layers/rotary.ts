/**
 * Rotary position embedding, RoPE (Su et al., "RoFormer", 2021): rotate each
 * pair of query/key features by an angle proportional to the position, so that
 * the dot product of a query at m and a key at n depends only on m − n.
 *
 * @module
 */

import { recordOp } from "../tensor/op.ts";
import { checkSize, formatShape } from "../tensor/shape.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _describe, _finiteAbove, _oneOf, _options, _positiveInt } from "./_validate.ts";

/** How features are paired for rotation. */
export type RotaryStyle = "interleaved" | "half";

/** Options for {@link applyRotary}. */
export interface RotaryOptions {
  /**
   * Position of each of the T rows (any finite numbers); default 0 … T−1.
   * When decoding with a KV cache, pass the absolute positions (cache length onwards).
   */
  positions?: ArrayLike<number>;
  /** The frequency base; default 10000 (the paper's; LLaMA 3 uses 500000). */
  base?: number;
  /**
   * `"interleaved"` (default; the RoFormer paper, GPT-J, Meta's LLaMA code):
   * pairs (0, 1), (2, 3), …. `"half"` (GPT-NeoX, Hugging Face LLaMA):
   * pairs (i, i + D/2), the "rotate_half" layout.
   */
  style?: RotaryStyle;
}

/** Options for {@link rotaryFrequencies}. */
export interface RotaryFrequencyOptions {
  /** The frequency base; default 10000. */
  base?: number;
}

/**
 * The D/2 rotation frequencies $\theta_i = \text{base}^{-2i/D}$, i = 0 … D/2 − 1, in float64.
 *
 * @param dim The rotated feature size D (even).
 * @param options `base` (default 10000).
 * @returns `Float64Array` of length D/2, decreasing from 1.
 * @throws {RangeError} When `dim` is not a positive even integer or `base` is not a finite number > 1.
 *
 * @example Frequencies for D = 4
 * ```ts
 * import { rotaryFrequencies } from "./rotary.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...rotaryFrequencies(4)], [1, 0.01]);
 * ```
 */
export function rotaryFrequencies(dim: number, options: RotaryFrequencyOptions = {}): Float64Array {
  options = _options(options, "rotaryFrequencies", "options");
  return _frequencies(dim, options.base ?? 10000, "rotaryFrequencies");
}

function _frequencies(dim: number, base: number, fn: string): Float64Array {
  _positiveInt(dim, fn, "dim");
  if (dim % 2 !== 0) {
    throw new RangeError(
      `${fn}: the rotated size must be even (features rotate in pairs), got ${dim}`,
    );
  }
  _finiteAbove(base, 1, fn, "base");
  const theta = new Float64Array(checkSize([dim / 2], fn, "the frequencies [dim / 2] ="));
  for (let i = 0; i < theta.length; i++) theta[i] = Math.pow(base, (-2 * i) / dim);
  return theta;
}

/**
 * Rotates query or key features by their positions. For the pair $(x_a, x_b)$
 * with frequency $\theta_i$ at position m:
 * $$\begin{pmatrix} y_a \\ y_b \end{pmatrix} =
 * \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\ \sin m\theta_i & \cos m\theta_i \end{pmatrix}
 * \begin{pmatrix} x_a \\ x_b \end{pmatrix},\qquad \theta_i = \text{base}^{-2i/D},$$
 * where (a, b) = (2i, 2i+1) for `"interleaved"` and (i, i + D/2) for `"half"`.
 * The two styles are the same rotation with the features permuted, so a checkpoint
 * must be used with the style it was trained with. Angles are computed in float64.
 *
 * Apply it to queries and keys (not values) after the head split, before the scores.
 *
 * @param x `[..., T, D]` with D even (e.g. `[B, H, T, headDim]`).
 * @param options `positions` (length T), `base` (default 10000), `style` (default `"interleaved"`).
 * @returns `[..., T, D]`, the rotated features.
 * @throws {TypeError} When `x` is not a Tensor.
 * @throws {RangeError} When `x` has rank < 2 or odd D, `positions` is not T finite numbers,
 *   `base` is not > 1, or `style` is unknown.
 *
 * @example Position 0 is the identity; scores depend on the offset only
 * ```ts
 * import { applyRotary } from "./rotary.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const v = [1, 2, 3, 4];
 * const x = tensor([v, v, v, v]); // the same vector at positions 0..3
 * const r = applyRotary(x).toArray() as number[][];
 * assert.deepEqual(r[0], v);
 * const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);
 * assert.ok(Math.abs(dot(r[0], r[1]) - dot(r[2], r[3])) < 1e-5); // m − n = 1 in both
 * ```
 */
export function applyRotary(x: Tensor, options: RotaryOptions = {}): Tensor {
  const fn = "applyRotary";
  checkTensor(x, fn, "x");
  if (x.rank < 2) {
    throw new RangeError(`${fn}: x must be [..., T, D], got ${formatShape(x.shape)}`);
  }
  const t = x.shape[x.rank - 2];
  const d = x.shape[x.rank - 1];
  if (d % 2 !== 0 || d === 0) {
    throw new RangeError(
      `${fn}: the feature size D must be even and positive (features rotate in pairs), got x=${
        formatShape(x.shape)
      }`,
    );
  }
  options = _options(options, fn, "options");
  const style = _oneOf(options.style ?? "interleaved", ["interleaved", "half"], fn, "style");
  const theta = _frequencies(d, options.base ?? 10000, fn);
  const positions = options.positions;
  if (positions !== undefined) {
    if (positions === null || typeof positions.length !== "number" || positions.length !== t) {
      throw new RangeError(
        `${fn}: positions must hold T=${t} numbers for x=${formatShape(x.shape)}, got ${
          positions === null ? "null" : `length ${String(positions.length)}`
        }`,
      );
    }
    for (let i = 0; i < t; i++) {
      if (typeof positions[i] !== "number" || !Number.isFinite(positions[i])) {
        throw new (typeof positions[i] === "number" ? RangeError : TypeError)(
          `${fn}: positions[${i}] must be a finite number, got ${_describe(positions[i])}`,
        );
      }
    }
  }
  // cos/sin table [T, D/2] in float64, shared by every leading index.
  const half = d / 2;
  const cos = new Float64Array(t * half);
  const sin = new Float64Array(t * half);
  for (let p = 0; p < t; p++) {
    const m = positions ? positions[p] : p;
    for (let i = 0; i < half; i++) {
      cos[p * half + i] = Math.cos(m * theta[i]);
      sin[p * half + i] = Math.sin(m * theta[i]);
    }
  }
  const out = new Float32Array(x.size);
  _rotate(x.data, out, cos, sin, t, d, style, 1);
  return recordOp("applyRotary", [x], new Tensor(out, x.shape), (dy) => {
    // y = R(mθ)·x with R orthogonal, so dx = R(mθ)ᵀ·dy = R(−mθ)·dy: the inverse rotation
    const dx = new Float32Array(x.size);
    _rotate(dy.data, dx, cos, sin, t, d, style, -1);
    return [new Tensor(dx, x.shape)];
  });
}

/**
 * Rotates every pair of `src [..., T, D]` into `out` by its position's angle
 * (`sign` 1), or by minus it (`sign` −1, the transpose of the rotation).
 */
function _rotate(
  src: Float32Array,
  out: Float32Array,
  cos: Float64Array,
  sin: Float64Array,
  t: number,
  d: number,
  style: RotaryStyle,
  sign: 1 | -1,
): void {
  const half = d / 2;
  // Pair i is (row + a, row + b): interleaved a = 2i, b = 2i + 1; half a = i, b = i + D/2.
  const stepA = style === "interleaved" ? 2 : 1;
  const offB = style === "interleaved" ? 1 : half;
  for (let row = 0; row < src.length; row += d) {
    const p = (row / d) % t;
    for (let i = 0; i < half; i++) {
      const a = row + i * stepA;
      const b = a + offB;
      const c = cos[p * half + i], s = sign * sin[p * half + i];
      const xa = src[a], xb = src[b];
      out[a] = xa * c - xb * s;
      out[b] = xa * s + xb * c;
    }
  }
}
