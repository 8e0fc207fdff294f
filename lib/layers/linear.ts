/**
 * The affine layer y = x·Wᵀ + b in PyTorch's layout (`weight` is `[out, in]`).
 *
 * @module
 */

import { gemm, gemmStacked } from "../kernels/matmul.ts";
import { recordOp } from "../tensor/op.ts";
import { sum } from "../tensor/reduce.ts";
import { Rng } from "../tensor/rng.ts";
import { checkSize, formatShape, sizeOf } from "../tensor/shape.ts";
import { checkTensor, rand, Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";
import { _boolean, _describe, _options, _seed } from "./_validate.ts";

/**
 * $y = xW^\top + b$ for x `[..., in]`, weight `[out, in]`, bias `[out]`.
 *
 * @throws {RangeError} When x's last size is not `in`, or bias is not `[out]`.
 *
 * @example Project 2 features to 1
 * ```ts
 * import { linear } from "./linear.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const y = linear(tensor([[1, 2]]), tensor([[3, 4]]), tensor([0.5]));
 * assert.deepEqual(y.toArray(), [[11.5]]);
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor(x, "linear", "x");
  checkTensor(weight, "linear", "weight");
  if (weight.rank !== 2) {
    throw new RangeError(`linear: weight must be [out, in], got ${formatShape(weight.shape)}`);
  }
  const [outF, inF] = weight.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new RangeError(
      `linear: x=${formatShape(x.shape)} must end in in_features=${inF} to match weight=${
        formatShape(weight.shape)
      }`,
    );
  }
  if (bias) {
    checkTensor(bias, "linear", "bias");
    if (bias.rank !== 1 || bias.shape[0] !== outF) {
      throw new RangeError(
        `linear: bias must be [${outF}] to match weight=${formatShape(weight.shape)}, got ${
          formatShape(bias.shape)
        }`,
      );
    }
  }
  const lead = x.shape.slice(0, -1);
  const rows = sizeOf(lead);
  checkSize([...lead, outF], "linear", "the output");
  const out = new Float32Array(rows * outF);
  // [N, in] x [out, in]ᵀ (+ b) -> [N, out]: the kernel packs Wᵀ once per call and adds b
  // in its epilogue. Packed weights are not cached across calls: parameters can be
  // overwritten in place (loadStateDict, user code), and checking a cached copy costs
  // as much as packing again.
  gemm({
    a: x.data,
    aOffset: 0,
    b: weight.data,
    bOffset: 0,
    c: out,
    cOffset: 0,
    m: rows,
    k: inF,
    n: outF,
    transposeB: true,
    bias: bias ? bias.data : null,
  });
  return recordOp(
    "linear",
    bias ? [x, weight, bias] : [x, weight],
    new Tensor(out, [...lead, outF]),
    (dy) => {
      // y = x·Wᵀ + b with every leading axis flattened into N rows:
      //   dx = dy·W          [N, out] x [out, in] -> [N, in]
      //   dW = dyᵀ·x         [out, N] x [N, in] -> [out, in]   (summed over the N rows)
      //   db = Σ_N dy        [out]
      const dx = x.requiresGrad ? productGradX(dy.data, weight.data, rows, outF, inF) : null;
      const dw = weight.requiresGrad ? productGradW(dy.data, x.data, rows, outF, inF) : null;
      return [
        dx && new Tensor(dx, x.shape),
        dw && new Tensor(dw, weight.shape),
        ...(bias ? [bias.requiresGrad ? columnSums(dy, rows, outF) : null] : []),
      ];
    },
  );
}

/** dx = dy·W: `[N, out] x [out, in] -> [N, in]`, one gemm through the kernel table. */
function productGradX(
  dy: Float32Array,
  w: Float32Array,
  rows: number,
  outF: number,
  inF: number,
): Float32Array {
  const dx = new Float32Array(rows * inF);
  gemm({
    a: dy,
    aOffset: 0,
    b: w,
    bOffset: 0,
    c: dx,
    cOffset: 0,
    m: rows,
    k: outF,
    n: inF,
    transposeB: false,
  });
  return dx;
}

/**
 * dW = dyᵀ·x: `[out, N] x [N, in] -> [out, in]`, one gemm with `transposeA`
 * (dy is read as stored, `[N, out]`), so the sum over the N rows is the product's.
 */
function productGradW(
  dy: Float32Array,
  x: Float32Array,
  rows: number,
  outF: number,
  inF: number,
): Float32Array {
  const dw = new Float32Array(outF * inF);
  gemm({
    a: dy,
    aOffset: 0,
    b: x,
    bOffset: 0,
    c: dw,
    cOffset: 0,
    m: outF,
    k: rows,
    n: inF,
    transposeA: true,
    transposeB: false,
  });
  return dw;
}

/** Σ over the rows of dy viewed as `[N, out]` -> `[out]` (the bias gradient). */
function columnSums(dy: Tensor, rows: number, outF: number): Tensor {
  return sum(dy.reshape([rows, outF]), 0);
}

/**
 * Several affine maps of the same input in one product:
 * $[y_1, …, y_n] = x[W_1; …; W_n]^\top + [b_1; …; b_n]$ for x `[..., in]`,
 * weights `[out_i, in]` and biases `[out_i]` (or null). The result is
 * `[..., Σ out_i]`, equal to concatenating `linear(x, W_i, b_i)` along the last
 * axis, but x is read and packed once and the threads share one larger product
 * (a self-attention's Q, K and V projections, as PyTorch's `in_proj_weight`).
 *
 * @throws {RangeError} When the weights are not 2-D with the same `in`, x does not
 *   end in `in`, or a bias does not match its weight.
 * @throws {TypeError} When the lists differ in length or hold non-tensors.
 *
 * @example The Q and K projections side by side
 * ```ts
 * import { linear, linearStacked } from "./linear.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const x = tensor([[1, 2]]);
 * const wq = tensor([[1, 0]]), wk = tensor([[0, 1], [1, 1]]);
 * const y = linearStacked(x, [wq, wk], [tensor([0.5]), null]);
 * assert.deepEqual(y.toArray(), [[1.5, 2, 3]]);
 * assert.deepEqual(linear(x, wk).toArray(), [[2, 3]]);
 * ```
 */
export function linearStacked(
  x: Tensor,
  weights: readonly Tensor[],
  biases: readonly (Tensor | null)[],
): Tensor {
  const fn = "linearStacked";
  checkTensor(x, fn, "x");
  if (!Array.isArray(weights) || !Array.isArray(biases) || weights.length !== biases.length) {
    throw new TypeError(`${fn}: weights and biases must be arrays of the same length`);
  }
  if (weights.length === 0) throw new RangeError(`${fn}: needs at least one weight`);
  weights.forEach((w, i) => checkTensor(w, fn, `weights[${i}]`));
  const inF = weights[0].shape[1];
  for (const [i, w] of weights.entries()) {
    if (w.rank !== 2 || w.shape[1] !== inF) {
      throw new RangeError(
        `${fn}: weights[${i}] must be [out, ${inF}] like weights[0], got ${formatShape(w.shape)}`,
      );
    }
    const b = biases[i];
    if (b !== null) {
      checkTensor(b, fn, `biases[${i}]`);
      if (b.rank !== 1 || b.shape[0] !== w.shape[0]) {
        throw new RangeError(
          `${fn}: biases[${i}] must be [${w.shape[0]}] to match weights[${i}]=${
            formatShape(w.shape)
          }, got ${formatShape(b.shape)}`,
        );
      }
    }
  }
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new RangeError(
      `${fn}: x=${formatShape(x.shape)} must end in in_features=${inF} to match the weights`,
    );
  }
  const lead = x.shape.slice(0, -1);
  const rows = sizeOf(lead);
  const outF = weights.reduce((sum, w) => sum + w.shape[0], 0);
  checkSize([...lead, outF], fn, "the output");
  const out = new Float32Array(rows * outF);
  // [N, in] x [Σout, in]ᵀ (+ b) -> [N, Σout]; the weights are copied into the kernel's
  // scratch one after the other, never concatenated here
  gemmStacked(
    x.data,
    0,
    weights.map((w, i) => ({
      data: w.data,
      offset: 0,
      rows: w.shape[0],
      bias: biases[i]?.data ?? null,
    })),
    out,
    0,
    rows,
    inF,
  );
  const inputs = [x, ...weights, ...biases.filter((b): b is Tensor => b !== null)];
  return recordOp("linearStacked", inputs, new Tensor(out, [...lead, outF]), (dy) => {
    // y = x·[W₁; …; Wₙ]ᵀ + [b₁; …; bₙ] is linear with the stacked weight W [Σout, in]
    // (PyTorch's in_proj_weight layout), so with N rows:
    //   dx = dy·W                  [N, Σout] x [Σout, in] -> [N, in]
    //   dW = dyᵀ·x                 [Σout, N] x [N, in] -> [Σout, in]; dWᵢ its rows of block i
    //   db = Σ_N dy                [Σout]; dbᵢ its slice of block i
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      const stacked = new Float32Array(outF * inF);
      let at = 0;
      for (const w of weights) stacked.set(w.data, at), at += w.size;
      dx = new Tensor(productGradX(dy.data, stacked, rows, outF, inF), x.shape);
    }
    const dw = weights.some((w) => w.requiresGrad)
      ? productGradW(dy.data, x.data, rows, outF, inF)
      : null;
    const db = biases.some((b) => b?.requiresGrad) ? columnSums(dy, rows, outF).data : null;
    const dWeights: (Tensor | null)[] = [], dBiases: (Tensor | null)[] = [];
    let row = 0;
    for (const [i, w] of weights.entries()) {
      const [r0, r1] = [row, row + w.shape[0]];
      dWeights.push(
        dw && w.requiresGrad ? new Tensor(dw.slice(r0 * inF, r1 * inF), w.shape) : null,
      );
      const b = biases[i];
      if (b !== null) {
        dBiases.push(db && b.requiresGrad ? new Tensor(db.slice(r0, r1), b.shape) : null);
      }
      row = r1;
    }
    return [dx, ...dWeights, ...dBiases];
  });
}

/** Options for {@link Linear}. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Initialisation randomness (takes precedence over `seed`). */
  rng?: Rng;
  /** Seed of the `Rng` drawn from when no `rng` is given (default 0). */
  seed?: number;
}

/**
 * A linear layer module with `weight [out, in]` and optional `bias [out]`,
 * initialised like PyTorch's `nn.Linear`: the weight Kaiming-uniform with
 * a = √5, which is U(-1/√in, 1/√in), then the bias U(-1/√in, 1/√in), drawn
 * in that order from `options.rng`, or from `new Rng(options.seed ?? 0)`.
 *
 * @example Seeded initialisation, then loaded weights
 * ```ts
 * import { Linear } from "./linear.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const layer = new Linear(4, 1);
 * assert.ok(layer.weight.data.every((w) => Math.abs(w) <= 0.5 && w !== 0));
 * assert.deepEqual(new Linear(4, 1).weight.toArray(), layer.weight.toArray()); // seed 0
 * const small = new Linear(2, 1);
 * small.loadStateDict({ weight: tensor([[1, 1]]), bias: tensor([1]) });
 * assert.deepEqual(small.forward(tensor([2, 3])).toArray(), [6]);
 * ```
 */
export class Linear extends Module {
  /** `[out, in]`, PyTorch's `weight`. */
  readonly weight: Tensor;
  /** `[out]`, PyTorch's `bias`; null when built with `bias: false`. */
  readonly bias: Tensor | null;

  /** Size of each input vector. */
  readonly inFeatures: number;
  /** Size of each output vector. */
  readonly outFeatures: number;

  /**
   * Creates the layer with PyTorch's initialisation (see the class notes).
   *
   * @param inFeatures Size of each input vector.
   * @param outFeatures Size of each output vector.
   */
  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    for (const [name, v] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw new RangeError(`Linear: ${name} must be a positive integer, got ${String(v)}`);
      }
    }
    options = _options(options, "Linear", "options");
    if (options.rng !== undefined && !(options.rng instanceof Rng)) {
      throw new TypeError(`Linear: options.rng must be an Rng, got ${_describe(options.rng)}`);
    }
    const withBias = options.bias === undefined || _boolean(options.bias, "Linear", "options.bias");
    const seed = options.seed === undefined ? 0 : _seed(options.seed, "Linear", "options.seed");
    // kaiming_uniform_(a=√5): gain √(2 / (1 + 5)) times √(3 / in) is 1/√in; the bias uses 1/√in
    const rng = options.rng ?? new Rng(seed);
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (shape: number[]) => rand(shape, rng, { low: -bound, high: bound });
    this.weight = this.registerParameter("weight", init([outFeatures, inFeatures]));
    this.bias = withBias ? this.registerParameter("bias", init([outFeatures])) : null;
  }

  /** y = x·Wᵀ + b for x `[..., in]` -> `[..., out]`. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
