/**
 * Gradient checks against an independent float64 reference, like
 * `torch.autograd.gradcheck`: the test writes the op's forward again as a
 * float64 loop, {@link finiteDifferences} differentiates that loop numerically
 * (central differences), and {@link checkGradients} compares the library's
 * analytic gradients (float32, from `backward()`) with it.
 *
 * The loss is L = Σ upstream ⊙ f(inputs) with a random `upstream`, so every
 * element of the Jacobian is weighed and a transposed or mis-broadcast gradient
 * cannot pass by symmetry.
 *
 * Tolerance (issue 11): rtol 1e-3 and atol 1e-4 × the reference's largest magnitude.
 *
 * @module
 */

import { assertClose } from "../lib/testing/assert_close.ts";
import { Tensor } from "../lib/tensor/tensor.ts";

/** A float64 forward: inputs (flat, row-major) -> output (flat). */
export type Reference = (inputs: Float64Array[]) => Float64Array;

/** Deterministic float64 values in [lo, hi) from a seed (an LCG, independent of the library's Rng). */
export function values(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(n);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

/**
 * dL/d(input_j) for L = Σ upstream ⊙ f(inputs), by central differences in
 * float64 with step `h` (scaled by each value's magnitude).
 */
export function finiteDifferences(
  f: Reference,
  inputs: Float64Array[],
  upstream: Float64Array,
  h = 1e-6,
): Float64Array[] {
  const loss = (xs: Float64Array[]) => {
    const y = f(xs);
    if (y.length !== upstream.length) {
      throw new RangeError(
        `finiteDifferences: f returned ${y.length} values, upstream has ${upstream.length}`,
      );
    }
    let s = 0;
    for (let i = 0; i < y.length; i++) s += upstream[i] * y[i];
    return s;
  };
  return inputs.map((x, j) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i];
      const step = h * Math.max(1, Math.abs(keep));
      const xs = inputs.map((v, k) => (k === j ? v.slice() : v));
      xs[j][i] = keep + step;
      const up = loss(xs);
      xs[j][i] = keep - step;
      const down = loss(xs);
      g[i] = (up - down) / (2 * step);
    }
    return g;
  });
}

/** Leaf tensors (float32, requiring grad) holding `inputs` with the given shapes. */
export function leaves(inputs: Float64Array[], shapes: readonly (readonly number[])[]): Tensor[] {
  return inputs.map((x, j) => {
    const t = new Tensor(Float32Array.from(x), shapes[j]);
    t.requiresGrad = true;
    return t;
  });
}

/**
 * Runs `op` on float32 leaves made from `inputs`, backpropagates `upstream`,
 * and asserts each leaf's `.grad` matches the finite differences of `reference`
 * within rtol 1e-3 and atol 1e-4 × max |reference gradient| (per input), and
 * that the forward matches the reference within the same tolerance.
 */
export function checkGradients(
  name: string,
  op: (xs: Tensor[]) => Tensor,
  reference: Reference,
  inputs: Float64Array[],
  shapes: readonly (readonly number[])[],
  { seed = 1, skip = [] as number[] } = {},
): void {
  const xs = leaves(inputs, shapes);
  checkOutputGradients(name, op(xs), xs, reference, inputs, { seed, skip });
}

/**
 * The comparison behind {@link checkGradients}, for an output `y` already
 * computed from `xs` (tensors requiring grad that hold `inputs`, in order,
 * e.g. a module's parameters): asserts the forward matches `reference`,
 * backpropagates a random upstream (from `seed + 100`) and asserts each
 * `xs[j].grad` matches the finite differences, with the same tolerances.
 */
export function checkOutputGradients(
  name: string,
  y: Tensor,
  xs: readonly Tensor[],
  reference: Reference,
  inputs: Float64Array[],
  { seed = 1, skip = [] as number[] } = {},
): void {
  const expected = reference(inputs);
  const maxY = Math.max(1e-30, ...Array.from(expected, Math.abs));
  assertClose(y.data, Float32Array.from(expected), { rtol: 1e-3, atol: 1e-4 * maxY });
  const upstream = values(y.size, seed + 100);
  y.backward(new Tensor(Float32Array.from(upstream), y.shape));
  const fd = finiteDifferences(reference, inputs, Float64Array.from(Float32Array.from(upstream)));
  fd.forEach((ref, j) => {
    if (skip.includes(j)) return;
    const got = xs[j].grad;
    if (got === null) throw new Error(`${name}: input ${j} got no gradient`);
    const max = Math.max(1e-30, ...Array.from(ref, Math.abs));
    try {
      assertClose(got.data, Float32Array.from(ref), { rtol: 1e-3, atol: 1e-4 * max });
    } catch (e) {
      throw new Error(`${name}: gradient of input ${j}: ${(e as Error).message}`);
    }
  });
}
