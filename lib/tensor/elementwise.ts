/**
 * Elementwise arithmetic with NumPy/PyTorch broadcasting, and unary maps.
 *
 * @module
 */

import { broadcastIndex, broadcastShapes, checkSize } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";
import { recordOp } from "./op.ts";
import { sumToShape } from "./sum_to_shape.ts";

/** The arithmetic of {@link binary}. */
type BinaryOp = "add" | "sub" | "mul" | "div";

/**
 * `out[i] = a[i] op b[i]` over whole arrays, one loop per op: a loop calling a shared
 * callback is megamorphic (every op passes its own closure), which V8 does not inline,
 * and costs ~10-20 ns per element against ~1 ns written out.
 */
function sameShape(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const n = out.length;
  if (op === "add") {
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  } else if (op === "sub") {
    for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
  } else if (op === "mul") {
    for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  } else {
    for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
  }
}

/** `out[i] = a[i] op y` (`aFirst`) or `y op a[i]`: one operand a single value. */
function withScalar(
  op: BinaryOp,
  a: Float32Array,
  y: number,
  aFirst: boolean,
  out: Float32Array,
): void {
  const n = out.length;
  if (op === "add") {
    for (let i = 0; i < n; i++) out[i] = a[i] + y;
  } else if (op === "mul") {
    for (let i = 0; i < n; i++) out[i] = a[i] * y;
  } else if (op === "sub" && aFirst) {
    for (let i = 0; i < n; i++) out[i] = a[i] - y;
  } else if (op === "sub") {
    for (let i = 0; i < n; i++) out[i] = y - a[i];
  } else if (aFirst) {
    for (let i = 0; i < n; i++) out[i] = a[i] / y;
  } else {
    for (let i = 0; i < n; i++) out[i] = y / a[i];
  }
}

/**
 * `out[r + j] = a[r + j] op row[j]` (`aFirst`) or `row[j] op a[r + j]`, for every row r of
 * `a` (row-major, rows of `row.length`).
 */
function withRow(
  op: BinaryOp,
  a: Float32Array,
  row: Float32Array,
  aFirst: boolean,
  out: Float32Array,
): void {
  const n = out.length, w = row.length;
  if (op === "add") {
    for (let r = 0; r < n; r += w) for (let j = 0; j < w; j++) out[r + j] = a[r + j] + row[j];
  } else if (op === "mul") {
    for (let r = 0; r < n; r += w) for (let j = 0; j < w; j++) out[r + j] = a[r + j] * row[j];
  } else if (op === "sub" && aFirst) {
    for (let r = 0; r < n; r += w) for (let j = 0; j < w; j++) out[r + j] = a[r + j] - row[j];
  } else if (op === "sub") {
    for (let r = 0; r < n; r += w) for (let j = 0; j < w; j++) out[r + j] = row[j] - a[r + j];
  } else if (aFirst) {
    for (let r = 0; r < n; r += w) for (let j = 0; j < w; j++) out[r + j] = a[r + j] / row[j];
  } else {
    for (let r = 0; r < n; r += w) for (let j = 0; j < w; j++) out[r + j] = row[j] / a[r + j];
  }
}

/** The broadcast result of `op` and the two operands as tensors (numbers become 0-d tensors). */
function binary(
  fn: string,
  a: Tensor | number,
  b: Tensor | number,
  op: BinaryOp,
): { out: Tensor; ta: Tensor; tb: Tensor } {
  const ta = typeof a === "number" ? new Tensor(Float32Array.of(a), []) : checkTensor(a, fn, "a");
  const tb = typeof b === "number" ? new Tensor(Float32Array.of(b), []) : checkTensor(b, fn, "b");
  const shape = broadcastShapes(ta.shape, tb.shape, fn);
  const n = checkSize(shape, fn, "the broadcast result");
  const out = new Float32Array(n);
  const ad = ta.data, bd = tb.data;
  if (ad.length === n && bd.length === n) {
    sameShape(op, ad, bd, out);
  } else if (bd.length === 1 && ad.length === n) {
    withScalar(op, ad, bd[0], true, out);
  } else if (ad.length === 1 && bd.length === n) {
    withScalar(op, bd, ad[0], false, out);
  } else if (ad.length === n && isTrailing(tb.shape, shape)) {
    // b is one row repeated (a bias [D] on [..., D]): no index tables
    withRow(op, ad, bd, true, out);
  } else if (bd.length === n && isTrailing(ta.shape, shape)) {
    withRow(op, bd, ad, false, out);
  } else {
    const f = OPS[op];
    const ia = broadcastIndex(ta.shape, shape);
    const ib = broadcastIndex(tb.shape, shape);
    for (let i = 0; i < n; i++) out[i] = f(ad[ia[i]], bd[ib[i]]);
  }
  return { out: new Tensor(out, shape), ta, tb };
}

/** The ops as functions, for the broadcasting paths. */
const OPS: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};

/**
 * True when `small` broadcasts against `shape` as whole trailing rows: its
 * shape, leading 1s dropped, equals the end of `shape` (e.g. [D] or [1, D] on [N, T, D]).
 */
function isTrailing(small: readonly number[], shape: readonly number[]): boolean {
  let lead = 0;
  while (lead < small.length && small[lead] === 1) lead++;
  const rest = small.length - lead;
  if (rest === 0 || rest > shape.length) return false;
  for (let i = 0; i < rest; i++) {
    if (small[lead + i] !== shape[shape.length - rest + i]) return false;
  }
  return true;
}

/**
 * `a + b` with broadcasting.
 *
 * @example Add a bias row to every row
 * ```ts
 * import { add } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(add(tensor([[1, 2], [3, 4]]), tensor([10, 20])).toArray(), [[11, 22], [13, 24]]);
 * ```
 */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  const { out, ta, tb } = binary("add", a, b, "add");
  // d(a + b) = da + db, each summed back over the axes it was broadcast along
  return recordOp("add", [ta, tb], out, (g) => [sumToShape(g, ta.shape), sumToShape(g, tb.shape)]);
}

/**
 * `a - b` with broadcasting.
 *
 * @example Subtract
 * ```ts
 * import { sub } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(sub(tensor([3, 4]), 1).toArray(), [2, 3]);
 * ```
 */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  const { out, ta, tb } = binary("sub", a, b, "sub");
  // d(a - b) = da - db
  return recordOp("sub", [ta, tb], out, (g) => [
    sumToShape(g, ta.shape),
    sumToShape(scale(g, -1), tb.shape),
  ]);
}

/**
 * `a * b` elementwise with broadcasting.
 *
 * @example Multiply
 * ```ts
 * import { mul } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(mul(tensor([1, 2]), tensor([[2], [3]])).toArray(), [[2, 4], [3, 6]]);
 * ```
 */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  const { out, ta, tb } = binary("mul", a, b, "mul");
  // d(a·b) = b·da + a·db
  return recordOp("mul", [ta, tb], out, (g) => [
    sumToShape(mul(g, tb), ta.shape),
    sumToShape(mul(g, ta), tb.shape),
  ]);
}

/**
 * `a / b` elementwise with broadcasting.
 *
 * @example Divide
 * ```ts
 * import { div } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(div(tensor([2, 4]), 2).toArray(), [1, 2]);
 * ```
 */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  const { out, ta, tb } = binary("div", a, b, "div");
  // d(a / b) = da / b - (a / b²)·db = da / b - (out / b)·db
  return recordOp("div", [ta, tb], out, (g) => [
    sumToShape(div(g, tb), ta.shape),
    sumToShape(scale(div(mul(g, out), tb), -1), tb.shape),
  ]);
}

/**
 * `x * factor` (e.g. `1/√d_k`).
 *
 * @example Scale
 * ```ts
 * import { scale } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(scale(tensor([1, 2]), 0.5).toArray(), [0.5, 1]);
 * ```
 */
export function scale(x: Tensor, factor: number): Tensor {
  checkTensor(x, "scale", "x");
  if (typeof factor !== "number") throw new TypeError(`scale: factor must be a number`);
  const { out } = binary("scale", x, factor, "mul");
  // d(factor·x) = factor·dx
  return recordOp("scale", [x], out, (g) => [scale(g, factor)]);
}

/**
 * Applies `f` to every element, returning a new tensor.
 *
 * @example Square
 * ```ts
 * import { map } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(map(tensor([1, 2, 3]), (v) => v * v).toArray(), [1, 4, 9]);
 * ```
 */
export function map(x: Tensor, f: (value: number, index: number) => number): Tensor {
  checkTensor(x, "map", "x");
  const out = new Float32Array(x.size);
  for (let i = 0; i < out.length; i++) out[i] = f(x.data[i], i);
  // an arbitrary function has no known derivative: on a tensor that requires grad this throws
  return recordOp("map", [x], new Tensor(out, x.shape));
}
