/**
 * Shape helpers shared by every op: sizes, broadcasting and readable shape strings.
 *
 * @module
 */

/** A tensor shape: one non-negative integer per axis, row-major. */
export type Shape = readonly number[];

/**
 * Formats a shape the way error messages print it: `[2, 8, 16]`.
 *
 * @example Format a shape
 * ```ts
 * import { formatShape } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatShape([2, 3]), "[2, 3]");
 * ```
 */
export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Number of elements of a shape (1 for a scalar shape `[]`).
 *
 * @example Count elements
 * ```ts
 * import { sizeOf } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.equal(sizeOf([2, 3, 4]), 24);
 * ```
 */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * True when two shapes are equal: same rank, same size on every axis.
 *
 * @example Compare shapes
 * ```ts
 * import { sameShape } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.ok(sameShape([2, 3], [2, 3]));
 * assert.ok(!sameShape([2, 3], [2, 3, 1]));
 * ```
 */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks that `shape` is an array of non-negative safe integers, throwing a
 * `TypeError`/`RangeError` that names `fn` and `arg` otherwise.
 *
 * @example Validate a shape
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => checkShape([2, -1], "zeros", "shape"), RangeError);
 * ```
 */
export function checkShape(shape: unknown, fn: string, arg: string): number[] {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${fn}: ${arg} must be an array of integers, got ${typeof shape}`);
  }
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: ${arg} must hold non-negative integers, got ${formatShape(shape as number[])}`,
      );
    }
  }
  checkSize(shape, fn, arg);
  return [...shape];
}

/**
 * The most elements one tensor or mask may hold: 2^31 - 1, so that every flat
 * index and offset fits a signed 32-bit integer (the WebAssembly kernels'
 * addresses, `Int32Array` index tables). This Deno (V8) itself allocates a
 * `Float32Array` of 2^32 + 1 elements (16 GiB); past that it fails only for lack
 * of memory, after the time it took to get there.
 */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Checks, before anything is allocated, that an array of `sizes` (a shape, or
 * the factors of one flat buffer) holds at most {@link MAX_ELEMENTS} elements,
 * and returns the count. The product is taken without overflow: it stops at the
 * first partial product past the limit, and any 0 size makes the count 0.
 * Sizes are assumed to be validated non-negative integers.
 *
 * @param sizes The sizes whose product is the element count.
 * @param fn The calling function's name, for the error message.
 * @param what What is being built, e.g. `"the mask"` or `"shape"`.
 * @throws {RangeError} When the count exceeds {@link MAX_ELEMENTS}; names `fn`, the sizes and the limit.
 *
 * @example A 100000×100000 mask is refused before it is allocated
 * ```ts
 * import { checkSize } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.equal(checkSize([3, 4], "causalMask", "the mask"), 12);
 * assert.throws(() => checkSize([1e5, 1e5], "causalMask", "the mask"), /more than 2\^31-1/);
 * assert.equal(checkSize([2 ** 40, 2 ** 40, 0], "zeros", "shape"), 0);
 * ```
 */
export function checkSize(sizes: Shape, fn: string, what: string): number {
  for (const d of sizes) if (d === 0) return 0;
  let n = 1;
  for (const d of sizes) {
    n *= d; // both factors are below 2^53 and n <= MAX_ELEMENTS here, so no overflow to Infinity
    if (n > MAX_ELEMENTS) {
      let total = 1;
      for (const e of sizes) total *= e;
      throw new RangeError(
        `${fn}: ${what} ${formatShape(sizes)} has ${
          Number.isSafeInteger(total) ? total : `about ${total.toPrecision(3)}`
        } elements, more than 2^31-1 = ${MAX_ELEMENTS}, the most one tensor or mask may hold`,
      );
    }
  }
  return n;
}

/**
 * The broadcast of two shapes under NumPy/PyTorch rules: align on the right;
 * each pair of sizes must be equal or one of them 1.
 *
 * @param fn The calling function's name, for the error message.
 * @throws {RangeError} When the shapes cannot broadcast.
 *
 * @example Broadcast a batch of matrices with a single matrix
 * ```ts
 * import { broadcastShapes } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(broadcastShapes([2, 1, 4], [3, 1], "add"), [2, 3, 4]);
 * ```
 */
export function broadcastShapes(a: Shape, b: Shape, fn: string, names = ["a", "b"]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `${fn}: cannot broadcast ${names[0]}=${formatShape(a)} with ${names[1]}=${
          formatShape(b)
        }: sizes must match or be 1 on every axis (aligned from the right)`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Row-major strides of `shape` as seen from a broadcast `target` shape:
 * axes of size 1 (or missing on the left) get stride 0.
 *
 * @example Strides of a broadcast row
 * ```ts
 * import { broadcastStrides } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(broadcastStrides([1, 3], [2, 3]), [0, 1]);
 * ```
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const strides = new Array<number>(target.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const t = target.length - shape.length + i;
    strides[t] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/**
 * For each flat index of `target`, the flat index into a tensor of `shape`
 * broadcast to it. Used to walk leading (batch) dimensions.
 *
 * @example Map a broadcast batch
 * ```ts
 * import { broadcastIndex } from "./shape.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...broadcastIndex([1, 3], [2, 3])], [0, 1, 2, 0, 1, 2]);
 * ```
 */
export function broadcastIndex(shape: Shape, target: Shape): Int32Array {
  const total = sizeOf(target);
  const out = new Int32Array(total);
  if (total === 0) return out;
  const strides = broadcastStrides(shape, target);
  const idx = new Array<number>(target.length).fill(0);
  let offset = 0;
  for (let i = 0; i < total; i++) {
    out[i] = offset;
    for (let ax = target.length - 1; ax >= 0; ax--) {
      idx[ax]++;
      offset += strides[ax];
      if (idx[ax] < target[ax]) break;
      offset -= strides[ax] * target[ax];
      idx[ax] = 0;
    }
  }
  return out;
}
