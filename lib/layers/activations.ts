/**
 * Elementwise activations of the feed-forward sublayer: ReLU (the paper's),
 * GELU (BERT, GPT; exact erf form and tanh approximation), SiLU, tanh, and the
 * SwiGLU gate of LLaMA-style models.
 *
 * Every function reads float32, computes in float64 and rounds once, so each
 * output is the correctly rounded value of the formula up to the error of the
 * float64 math (erf: < 2e-15). NaN in gives NaN out, as in PyTorch.
 *
 * @module
 */

import { recordOp } from "../tensor/op.ts";
import { formatShape, sameShape } from "../tensor/shape.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { _describe, _options } from "./_validate.ts";
import { erfc } from "./erf.ts";

/**
 * Applies `f` (float64) to every element of `x`. The backward passes write their loops out
 * instead of sharing a callback: one call site fed several closures is megamorphic, which
 * V8 does not inline (~20 ns per element).
 */
function _unary(x: Tensor, fn: string, f: (v: number) => number): Tensor {
  checkTensor(x, fn, "x");
  const src = x.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
  return new Tensor(out, x.shape);
}

/**
 * Rectified linear unit, $\mathrm{ReLU}(x) = \max(0, x)$ (NaN stays NaN).
 *
 * @param x Any tensor.
 * @returns A new tensor of the same shape.
 * @throws {TypeError} When `x` is not a Tensor.
 *
 * @example Negative values become zero
 * ```ts
 * import { relu } from "./activations.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(relu(tensor([-2, 0, 3])).toArray(), [0, 0, 3]);
 * ```
 */
export function relu(x: Tensor): Tensor {
  checkTensor(x, "relu", "x");
  // On the float32 bits, without a branch: a float comparison per element mispredicts on
  // half the entries of random activations (1.3-1.6 ms -> ~0.15 ms on [128, 2048]).
  // Negative numbers, -0 and -inf (sign bit set) become +0; NaN (either sign) stays.
  const src = new Uint32Array(x.data.buffer, x.data.byteOffset, x.data.length);
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    const keep = ~(b >> 31) | -((b & 0x7fffffff) > 0x7f800000); // all ones: positive or NaN
    bits[i] = b & keep;
  }
  const y = new Tensor(out, x.shape);
  // dx = dy · [y > 0] (0 at x = 0, as PyTorch's threshold_backward; NaN passes dy through)
  return recordOp("relu", [x], y, (g) => [_reluBackward(g, bits)]);
}

/**
 * dy · [y > 0 or y is NaN] from the bits of y, without a branch: y is +0 exactly where
 * the mask is 0, and (b | -b) has the sign bit set for every other b. dy · 0 keeps the
 * product's sign and NaN, as the float formula does (6-7 ms -> 1.3-2 ms on [512, 2048]).
 */
function _reluBackward(g: Tensor, yBits: Uint32Array): Tensor {
  const gd = g.data, yb = new Int32Array(yBits.buffer, yBits.byteOffset, yBits.length);
  const dx = new Float32Array(gd.length);
  for (let i = 0; i < gd.length; i++) {
    const b = yb[i];
    dx[i] = gd[i] * ((b | -b) >>> 31);
  }
  return new Tensor(dx, g.shape);
}

/** Options for {@link gelu}. */
export interface GeluOptions {
  /**
   * `"none"` (default, PyTorch's default): the exact $x\,\Phi(x)$ with erf.
   * `"tanh"`: the tanh approximation of the GELU paper and GPT-2.
   */
  approximate?: "none" | "tanh";
}

const _SQRT_HALF = Math.SQRT1_2;
const _SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const _INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** σ(v) = 1 / (1 + e^{-v}) in float64. */
function _sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** SiLU'(v) = σ(v)(1 + v(1 - σ(v))), PyTorch's silu_backward. */
function _siluDerivative(v: number): number {
  const s = _sigmoid(v);
  return s * (1 + v * (1 - s));
}
/**
 * Gaussian error linear unit.
 *
 * Exact (`approximate: "none"`):
 * $$\mathrm{GELU}(x) = x\,\Phi(x) = \tfrac{x}{2}\left(1 + \operatorname{erf}\left(x/\sqrt{2}\right)\right),$$
 * computed as $\tfrac{x}{2}\operatorname{erfc}(-x/\sqrt2)$ so that the negative tail keeps
 * its relative precision. Tanh approximation (`approximate: "tanh"`):
 * $$\tfrac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right).$$
 *
 * @param x Any tensor.
 * @param options `approximate`: `"none"` (default) or `"tanh"`.
 * @returns A new tensor of the same shape.
 * @throws {TypeError} When `x` is not a Tensor.
 * @throws {RangeError} When `approximate` is not `"none"` or `"tanh"`.
 *
 * @example Exact and tanh forms agree to about 1e-3
 * ```ts
 * import { gelu } from "./activations.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([-1, 0, 1, 2]);
 * const exact = gelu(x).data, approx = gelu(x, { approximate: "tanh" }).data;
 * assert.ok(Math.abs(exact[2] - 0.8413447) < 1e-7); // 1 · Φ(1)
 * assert.ok(exact.every((v, i) => Math.abs(v - approx[i]) < 1e-3));
 * ```
 */
export function gelu(x: Tensor, options: GeluOptions = {}): Tensor {
  options = _options(options, "gelu", "options");
  const approximate = options.approximate ?? "none";
  if (approximate === "none") {
    const y = _unary(x, "gelu", (v) => 0.5 * v * erfc(-v * _SQRT_HALF));
    // dx = dy · (Φ(x) + x φ(x)),  Φ(x) = erfc(-x/√2)/2,  φ(x) = e^{-x²/2}/√(2π)
    return recordOp("gelu", [x], y, (g) => {
      const gd = g.data, xd = x.data, dx = new Float32Array(gd.length);
      for (let i = 0; i < gd.length; i++) {
        const v = xd[i];
        dx[i] = gd[i] * (0.5 * erfc(-v * _SQRT_HALF) + v * Math.exp(-0.5 * v * v) * _INV_SQRT_2PI);
      }
      return [new Tensor(dx, g.shape)];
    });
  }
  if (approximate === "tanh") {
    const y = _unary(
      x,
      "gelu",
      (v) => 0.5 * v * (1 + Math.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))),
    );
    // u = √(2/π)(x + 0.044715 x³), t = tanh(u):
    // dx = dy · (½(1 + t) + ½x (1 - t²) √(2/π)(1 + 3·0.044715 x²))   (PyTorch's gelu_backward)
    return recordOp("gelu", [x], y, (g) => {
      const gd = g.data, xd = x.data, dx = new Float32Array(gd.length);
      for (let i = 0; i < gd.length; i++) {
        const v = xd[i];
        const t = Math.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
        dx[i] = gd[i] *
          (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v));
      }
      return [new Tensor(dx, g.shape)];
    });
  }
  throw new RangeError(`gelu: approximate must be "none" or "tanh", got ${_describe(approximate)}`);
}

/**
 * Sigmoid linear unit (Swish with β = 1), $\mathrm{SiLU}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}$.
 *
 * @param x Any tensor.
 * @returns A new tensor of the same shape.
 * @throws {TypeError} When `x` is not a Tensor.
 *
 * @example SiLU(0) = 0 and SiLU(x) ≈ x for large x
 * ```ts
 * import { silu } from "./activations.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = silu(tensor([0, 20, -1000])).data;
 * assert.deepEqual([y[0], Math.round(y[1])], [0, 20]);
 * assert.ok(Object.is(y[2], -0) || y[2] === 0);
 * ```
 */
export function silu(x: Tensor): Tensor {
  // e^{-x} overflows to Infinity for x < -709, and x / Infinity = -0: no NaN.
  const y = _unary(x, "silu", (v) => v / (1 + Math.exp(-v)));
  // dx = dy · σ(x)(1 + x(1 - σ(x)))
  return recordOp("silu", [x], y, (g) => {
    const gd = g.data, xd = x.data, dx = new Float32Array(gd.length);
    for (let i = 0; i < gd.length; i++) dx[i] = gd[i] * _siluDerivative(xd[i]);
    return [new Tensor(dx, g.shape)];
  });
}

/**
 * Hyperbolic tangent, elementwise.
 *
 * @param x Any tensor.
 * @returns A new tensor of the same shape, in [-1, 1].
 * @throws {TypeError} When `x` is not a Tensor.
 *
 * @example Saturates at ±1
 * ```ts
 * import { tanh } from "./activations.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(tanh(tensor([-100, 0, 100])).toArray(), [-1, 0, 1]);
 * ```
 */
export function tanh(x: Tensor): Tensor {
  const y = _unary(x, "tanh", Math.tanh);
  // dx = dy · (1 - y²)   (from the output, as PyTorch's tanh_backward)
  return recordOp("tanh", [x], y, (g) => {
    const gd = g.data, yd = y.data, dx = new Float32Array(gd.length);
    for (let i = 0; i < gd.length; i++) dx[i] = gd[i] * (1 - yd[i] * yd[i]);
    return [new Tensor(dx, g.shape)];
  });
}

/**
 * The SwiGLU gate (Shazeer, "GLU Variants Improve Transformer", 2020):
 * $$\mathrm{SwiGLU}(x) = \mathrm{SiLU}(xW) \odot (xV),$$
 * given the two projections: `gate` $= xW$ and `up` $= xV$ (LLaMA's `w1(x)` and `w3(x)`).
 *
 * @param gate `[..., F]`, the projection that goes through SiLU.
 * @param up `[..., F]`, the linear projection it multiplies; same shape as `gate`.
 * @returns `[..., F]`: `silu(gate) * up`.
 * @throws {TypeError} When either argument is not a Tensor.
 * @throws {RangeError} When the shapes differ.
 *
 * @example A zero gate closes the unit
 * ```ts
 * import { swiglu } from "./activations.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = swiglu(tensor([[0, 10]]), tensor([[5, 2]]));
 * assert.equal(y.get(0, 0), 0);
 * assert.ok(Math.abs(y.get(0, 1) - 2 * 10 / (1 + Math.exp(-10))) < 1e-5);
 * ```
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  checkTensor(gate, "swiglu", "gate");
  checkTensor(up, "swiglu", "up");
  if (!sameShape(gate.shape, up.shape)) {
    throw new RangeError(
      `swiglu: gate and up must have the same shape, got gate=${formatShape(gate.shape)}, up=${
        formatShape(up.shape)
      }`,
    );
  }
  const g = gate.data, u = up.data;
  const out = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
  // y = silu(gate) ⊙ up:  d gate = dy ⊙ up ⊙ silu'(gate),  d up = dy ⊙ silu(gate)
  return recordOp("swiglu", [gate, up], new Tensor(out, gate.shape), (dy) => {
    const d = dy.data;
    const dGate = new Float32Array(g.length), dUp = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      dGate[i] = d[i] * u[i] * _siluDerivative(g[i]);
      dUp[i] = d[i] * (g[i] / (1 + Math.exp(-g[i])));
    }
    return [new Tensor(dGate, gate.shape), new Tensor(dUp, up.shape)];
  });
}
