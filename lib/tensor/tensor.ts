/**
 * The Tensor: a float32 row-major array with a shape, and its constructors.
 *
 * @module
 */

import { type BackwardOptions, gradNode, record, runBackward } from "./autograd.ts";
import { checkShape, formatShape, type Shape, sizeOf } from "./shape.ts";
import type { Rng } from "./rng.ts";

/** Nested arrays of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | NestedArray[];

/**
 * A dense float32 tensor, row-major (the last axis is contiguous).
 *
 * Ops never write into their inputs: every op returns a tensor with fresh `data`.
 * Two things share data on purpose, and nothing else does:
 *
 * - **Views.** `reshape()` (and the `Tensor` constructor, which wraps the array it is
 *   given) shares `data` with its source, so a write through one shows in the other.
 * - **The one in-place path: updating parameters.** `Module.loadStateDict()` and an
 *   optimizer's `step()` (`SGD`, `Adam`, `AdamW`; `clipGradNorm` likewise scales the
 *   engine-owned `.grad` in place) write new values into each parameter's existing `data`, so
 *   the tensors returned by `Module.parameters()`, and views of them, see the update.
 *   Everything computed from a parameter before (outputs, traces, KV-cache entries,
 *   `stateDict()` copies) owns its data and keeps the old values.
 *
 * @example Build and read back
 * ```ts
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const t = tensor([[1, 2, 3], [4, 5, 6]]);
 * assert.deepEqual(t.shape, [2, 3]);
 * assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
 * ```
 */
export class Tensor {
  /** Row-major values. */
  readonly data: Float32Array;
  /** Size of each axis. */
  readonly shape: readonly number[];
  /**
   * The gradient `backward()` accumulated here (a leaf that requires grad), or
   * null; PyTorch's `.grad`. Optimizers read it; `zeroGrad()` clears it.
   */
  grad: Tensor | null = null;
  #requiresGrad = false;

  /**
   * Wraps `data` (not copied) with `shape`. Prefer {@link tensor}, which validates nested input.
   *
   * @throws {RangeError} When `data.length` is not the product of `shape`.
   */
  constructor(data: Float32Array, shape: Shape) {
    if (!(data instanceof Float32Array)) {
      throw new TypeError(`Tensor: data must be a Float32Array, got ${describe(data)}`);
    }
    const s = checkShape(shape, "Tensor", "shape");
    if (sizeOf(s) !== data.length) {
      throw new RangeError(
        `Tensor: shape ${formatShape(s)} needs ${sizeOf(s)} values, data has ${data.length}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze(s);
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /**
   * The values as nested arrays (a plain number for a scalar).
   *
   * @example Scalar
   * ```ts
   * import { tensor } from "./tensor.ts";
   * import assert from "node:assert/strict";
   * assert.equal(tensor(2.5).toArray(), 2.5);
   * ```
   */
  toArray(): NestedArray {
    return nest(this.data, this.shape);
  }

  /**
   * A view: a tensor with the same `data` (not copied) and a new shape of the same size;
   * one axis may be `-1`. A later write into either (loading a state dict into a
   * parameter) shows in both; `clone()` first for an independent copy.
   *
   * @example Flatten a matrix; the view shares its data
   * ```ts
   * import { tensor } from "./tensor.ts";
   * import assert from "node:assert/strict";
   * const m = tensor([[1, 2], [3, 4]]);
   * const flat = m.reshape([-1]);
   * assert.deepEqual(flat.shape, [4]);
   * assert.equal(flat.data, m.data);
   * assert.notEqual(m.clone().data, m.data);
   * ```
   */
  reshape(shape: Shape): Tensor {
    const out = new Tensor(this.data, resolveReshape(this.shape, shape, "Tensor.reshape"));
    // d reshape(x) / dx: the gradient takes x's shape back
    return record("reshape", [this], out, (g) => [g.reshape(this.shape)]);
  }

  /**
   * Whether gradients flow to this tensor: settable on a leaf (a tensor no
   * recorded op made, such as a parameter); true on every output of a recorded
   * op. Like PyTorch's `requires_grad`.
   *
   * @example Mark a leaf, then the op outputs require grad too
   * ```ts
   * import { tensor } from "./tensor.ts";
   * import { mul } from "./elementwise.ts";
   * import assert from "node:assert/strict";
   * const w = tensor([1, 2]);
   * assert.equal(w.requiresGrad, false);
   * w.requiresGrad = true;
   * assert.equal(mul(w, w).requiresGrad, true);
   * ```
   */
  get requiresGrad(): boolean {
    return this.#requiresGrad || gradNode(this) !== null;
  }

  /**
   * @throws {TypeError} A value that is not a boolean.
   * @throws {Error} `false` on a tensor a recorded op made (use `detach()`).
   */
  set requiresGrad(value: boolean) {
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Tensor.requiresGrad must be a boolean, got ${
          typeof value === "string" ? JSON.stringify(value) + " (a string)" : String(value)
        }`,
      );
    }
    if (!value && gradNode(this) !== null) {
      throw new Error(
        `Tensor.requiresGrad: only a leaf can stop requiring grad; this tensor was made by "${
          gradNode(this)!.name
        }" (use detach() for a copy outside the graph)`,
      );
    }
    this.#requiresGrad = value;
  }

  /** The name of the recorded op that made this tensor (PyTorch's `grad_fn`), or null for a leaf. */
  get gradFn(): string | null {
    return gradNode(this)?.name ?? null;
  }

  /** True for a tensor that no recorded op made (parameters, inputs, `detach()` results). */
  get isLeaf(): boolean {
    return gradNode(this) === null;
  }

  /**
   * Backpropagates from this tensor: adds d(this)/d(leaf) · `gradient` into the
   * `.grad` of every leaf that requires grad and reaches it (accumulating over
   * calls, as PyTorch does; zero them between steps). `gradient` defaults to 1
   * for a one-element tensor (a loss). The graph is released afterwards unless
   * `{ retainGraph: true }`.
   *
   * @throws {Error} When this tensor does not require grad, or its graph was released.
   * @throws {RangeError} No `gradient` for a tensor of several elements, or one of another shape.
   *
   * @example d(Σ w·x)/dw = x
   * ```ts
   * import { tensor } from "./tensor.ts";
   * import { mul } from "./elementwise.ts";
   * import { sum } from "./reduce.ts";
   * import assert from "node:assert/strict";
   * const w = tensor([1, 2, 3]);
   * w.requiresGrad = true;
   * sum(mul(w, tensor([4, 5, 6]))).backward();
   * assert.deepEqual(w.grad!.toArray(), [4, 5, 6]);
   * ```
   */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    if (gradient !== undefined) checkTensor(gradient, "Tensor.backward", "gradient");
    runBackward(this, gradient, options, (shape) => full(shape, 1));
  }

  /**
   * A tensor sharing this one's data, outside the graph: it does not require
   * grad and nothing flows back through it (PyTorch's `detach()`).
   *
   * @example Stop the gradient
   * ```ts
   * import { tensor } from "./tensor.ts";
   * import assert from "node:assert/strict";
   * const w = tensor([1]);
   * w.requiresGrad = true;
   * const d = w.detach();
   * assert.equal(d.requiresGrad, false);
   * assert.equal(d.data, w.data);
   * ```
   */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /**
   * The element at a full multi-index (negative indices count from the end).
   *
   * @example Read one element
   * ```ts
   * import { tensor } from "./tensor.ts";
   * import assert from "node:assert/strict";
   * assert.equal(tensor([[1, 2], [3, 4]]).get(1, -1), 4);
   * ```
   */
  get(...index: number[]): number {
    if (index.length !== this.shape.length) {
      throw new RangeError(
        `Tensor.get: expected ${this.shape.length} indices for shape ${
          formatShape(this.shape)
        }, got ${index.length}`,
      );
    }
    let flat = 0;
    for (let ax = 0; ax < index.length; ax++) {
      const n = this.shape[ax];
      const i = index[ax] < 0 ? index[ax] + n : index[ax];
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new RangeError(
          `Tensor.get: index ${index[ax]} out of range for axis ${ax} of size ${n} (shape ${
            formatShape(this.shape)
          })`,
        );
      }
      flat = flat * n + i;
    }
    return this.data[flat];
  }

  /** An independent copy of the data, outside the graph (PyTorch's `detach().clone()`). */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** A short description for logs and the Jupyter kernel. */
  toString(): string {
    return `Tensor(${formatShape(this.shape)})`;
  }

  /** How `console.log` and the Jupyter kernel print a tensor: shape, then values (at most 6 per axis). */
  [Symbol.for("Deno.customInspect")](): string {
    return `Tensor(${formatShape(this.shape)}) ${
      preview(this.data, this.shape, (v) => formatValue(v))
    }`;
  }
}

function formatValue(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : String(Math.round(v * 1e4) / 1e4);
}

/**
 * Nested text of the first and last values of each axis (`…` between), for printing.
 * Shared by `Tensor` and `Mask`.
 */
export function preview(
  data: ArrayLike<number>,
  shape: Shape,
  format: (v: number) => string,
  edge = 3,
): string {
  if (shape.length === 0) return format(data[0]);
  const build = (axis: number, offset: number): string => {
    const n = shape[axis];
    const stride = sizeOf(shape.slice(axis + 1));
    const idx = n <= 2 * edge ? [...Array(n).keys()] : [
      ...Array(edge).keys(),
      -1,
      ...Array.from({ length: edge }, (_, i) => n - edge + i),
    ];
    const parts = idx.map((i) =>
      i < 0
        ? "…"
        : axis === shape.length - 1
        ? format(data[offset + i])
        : build(axis + 1, offset + i * stride)
    );
    const sep = axis === shape.length - 1 ? ", " : ",\n" + " ".repeat(axis + 1);
    return `[${parts.join(sep)}]`;
  };
  return build(0, 0);
}

/** Resolves a target shape with at most one `-1` against a source shape of the same size. */
export function resolveReshape(from: Shape, to: Shape, fn: string): number[] {
  if (!Array.isArray(to)) throw new TypeError(`${fn}: shape must be an array of integers`);
  const out = [...to];
  let infer = -1;
  let known = 1;
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    if (d === -1) {
      if (infer >= 0) {
        throw new RangeError(`${fn}: only one axis may be -1, got ${formatShape(to)}`);
      }
      infer = i;
    } else if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: shape must hold non-negative integers or -1, got ${formatShape(to)}`,
      );
    } else known *= d;
  }
  const size = sizeOf(from);
  if (infer >= 0) {
    if (known === 0 || size % known !== 0) {
      throw new RangeError(
        `${fn}: cannot reshape ${formatShape(from)} (${size} values) into ${formatShape(to)}`,
      );
    }
    out[infer] = size / known;
  }
  if (sizeOf(out) !== size) {
    throw new RangeError(
      `${fn}: cannot reshape ${formatShape(from)} (${size} values) into ${formatShape(to)} (${
        sizeOf(out)
      } values)`,
    );
  }
  return out;
}

function nest(data: Float32Array, shape: Shape): NestedArray {
  if (shape.length === 0) return data[0];
  const build = (axis: number, offset: number): NestedArray[] => {
    const n = shape[axis];
    const out: NestedArray[] = new Array(n);
    if (axis === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = data[offset + i];
      return out;
    }
    const stride = sizeOf(shape.slice(axis + 1));
    for (let i = 0; i < n; i++) out[i] = build(axis + 1, offset + i * stride);
    return out;
  };
  return build(0, 0);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/**
 * Infers the shape of nested arrays and flattens them, checking that they are rectangular.
 * Shared by {@link tensor} and `mask()`.
 *
 * @param convert Turns each leaf into a number, or throws.
 */
export function flattenNested(
  values: unknown,
  fn: string,
  arg: string,
  convert: (v: unknown, path: string) => number,
): { flat: number[]; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const flat: number[] = [];
  const walk = (v: unknown, axis: number, path: string) => {
    if (axis === shape.length) {
      if (Array.isArray(v)) {
        throw new RangeError(`${fn}: ${arg} is ragged: ${path} is nested deeper than its siblings`);
      }
      flat.push(convert(v, path));
      return;
    }
    if (!Array.isArray(v)) {
      throw new RangeError(
        `${fn}: ${arg} is ragged: ${path} is not an array but the shape so far is ${
          formatShape(shape.slice(0, axis + 1))
        }`,
      );
    }
    if (v.length !== shape[axis]) {
      throw new RangeError(
        `${fn}: ${arg} is ragged: ${path} has length ${v.length}, expected ${shape[axis]}`,
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], axis + 1, `${path}[${i}]`);
  };
  walk(values, 0, arg);
  return { flat, shape };
}

function toNumber(fn: string) {
  return (v: unknown, path: string): number => {
    if (typeof v !== "number") {
      throw new TypeError(`${fn}: ${path} must be a number, got ${describe(v)}`);
    }
    return v;
  };
}

/**
 * Builds a tensor from nested number arrays, or from a flat `number[]`/`Float32Array`
 * plus `shape`. Values are copied and rounded to float32.
 *
 * @param values Nested arrays (shape inferred), a flat array, or a single number.
 * @param shape Required for flat input unless it is 1-D; checked against nested input.
 * @throws {RangeError} Ragged input or a size that does not fit `shape`.
 * @throws {TypeError} Non-numeric entries.
 *
 * @example Nested and flat forms give the same tensor
 * ```ts
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const a = tensor([[1, 2], [3, 4]]);
 * const b = tensor([1, 2, 3, 4], [2, 2]);
 * assert.deepEqual(a.toArray(), b.toArray());
 * ```
 */
export function tensor(
  values: NestedArray | Float32Array | readonly number[],
  shape?: Shape,
): Tensor {
  if (values instanceof Float32Array || ArrayBuffer.isView(values)) {
    const flat = Float32Array.from(values as unknown as ArrayLike<number>);
    const s = shape ? checkShape(shape, "tensor", "shape") : [flat.length];
    if (sizeOf(s) !== flat.length) {
      throw new RangeError(
        `tensor: shape ${formatShape(s)} needs ${sizeOf(s)} values, got ${flat.length}`,
      );
    }
    return new Tensor(flat, s);
  }
  if (typeof values === "number") {
    const s = shape ? checkShape(shape, "tensor", "shape") : [];
    if (sizeOf(s) !== 1) {
      throw new RangeError(`tensor: a single number cannot fill shape ${formatShape(s)}`);
    }
    return new Tensor(Float32Array.of(values), s);
  }
  if (!Array.isArray(values)) {
    throw new TypeError(
      `tensor: values must be a number, nested arrays or a Float32Array, got ${describe(values)}`,
    );
  }
  const { flat, shape: inferred } = flattenNested(values, "tensor", "values", toNumber("tensor"));
  let s = inferred;
  if (shape) {
    s = checkShape(shape, "tensor", "shape");
    if (sizeOf(s) !== flat.length) {
      throw new RangeError(
        `tensor: shape ${formatShape(s)} needs ${sizeOf(s)} values, values have shape ${
          formatShape(inferred)
        } (${flat.length} values)`,
      );
    }
  }
  return new Tensor(Float32Array.from(flat), s);
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example Fill with 0.5
 * ```ts
 * import { full } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(full([2], 0.5).toArray(), [0.5, 0.5]);
 * ```
 */
export function full(shape: Shape, value: number): Tensor {
  const s = checkShape(shape, "full", "shape");
  if (typeof value !== "number") {
    throw new TypeError(`full: value must be a number, got ${describe(value)}`);
  }
  return new Tensor(new Float32Array(sizeOf(s)).fill(value), s);
}

/**
 * A tensor of zeros.
 *
 * @example Zeros
 * ```ts
 * import { zeros } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(zeros([2, 2]).toArray(), [[0, 0], [0, 0]]);
 * ```
 */
export function zeros(shape: Shape): Tensor {
  const s = checkShape(shape, "zeros", "shape");
  return new Tensor(new Float32Array(sizeOf(s)), s);
}

/**
 * A tensor of ones.
 *
 * @example Ones
 * ```ts
 * import { ones } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(ones([3]).toArray(), [1, 1, 1]);
 * ```
 */
export function ones(shape: Shape): Tensor {
  return full(checkShape(shape, "ones", "shape"), 1);
}

/**
 * Standard normal samples drawn from a seeded {@link Rng}.
 *
 * @example Reproducible noise
 * ```ts
 * import { randn } from "./tensor.ts";
 * import { Rng } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(randn([4], new Rng(1)).toArray(), randn([4], new Rng(1)).toArray());
 * ```
 */
export function randn(shape: Shape, rng: Rng): Tensor {
  const s = checkShape(shape, "randn", "shape");
  if (!rng || typeof (rng as Rng).normal !== "function") {
    throw new TypeError("randn: rng must be an Rng (e.g. new Rng(0))");
  }
  const data = new Float32Array(sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return new Tensor(data, s);
}

/**
 * Uniform samples in [low, high) from a seeded {@link Rng}.
 *
 * @example In range
 * ```ts
 * import { rand } from "./tensor.ts";
 * import { Rng } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const t = rand([8], new Rng(2), { low: -1, high: 1 });
 * assert.ok(t.data.every((x) => x >= -1 && x < 1));
 * ```
 */
export function rand(shape: Shape, rng: Rng, { low = 0, high = 1 } = {}): Tensor {
  const s = checkShape(shape, "rand", "shape");
  if (!rng || typeof (rng as Rng).uniform !== "function") {
    throw new TypeError("rand: rng must be an Rng (e.g. new Rng(0))");
  }
  if (!(high > low)) {
    throw new RangeError(`rand: high must exceed low, got low=${low}, high=${high}`);
  }
  const data = new Float32Array(sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.uniform();
  return new Tensor(data, s);
}

/** Throws a `TypeError` naming `fn` and `arg` unless `x` is a {@link Tensor}. */
export function checkTensor(x: unknown, fn: string, arg: string): Tensor {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${fn}: ${arg} must be a Tensor, got ${describe(x)}`);
  }
  return x;
}
