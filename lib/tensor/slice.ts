/**
 * Picking parts of a tensor along one axis: `select` (one index, the axis
 * disappears), `slice` (a range, the axis stays), and `concat` (the inverse).
 *
 * @module
 */

import { recordOp } from "./op.ts";
import { checkSize, formatShape, sizeOf } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";

function checkAxis(x: Tensor, axis: number, fn: string): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) {
    throw new RangeError(
      `${fn}: axis ${axis} is out of range for x=${formatShape(x.shape)} (rank ${x.rank})`,
    );
  }
  return a;
}

/** `x[..., s:e, ...]` along axis `a` (checked), as a fresh tensor. */
function copyRange(x: Tensor, a: number, s: number, e: number): Tensor {
  const n = x.shape[a];
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const len = e - s;
  const out = new Float32Array(outer * len * inner);
  for (let o = 0; o < outer; o++) {
    // one contiguous run of len·inner values per outer index
    const from = (o * n + s) * inner;
    out.set(x.data.subarray(from, from + len * inner), o * len * inner);
  }
  const shape = [...x.shape];
  shape[a] = len;
  return new Tensor(out, shape);
}

/**
 * The gradient of a range copy: zeros of `shape` with `g` (the range's gradient,
 * `shape` with axis `a` of g's size there) written back from index `s` on axis `a`.
 */
function scatterRange(g: Tensor, shape: readonly number[], a: number, s: number): Tensor {
  const n = shape[a];
  const outer = sizeOf(shape.slice(0, a));
  const inner = sizeOf(shape.slice(a + 1));
  const run = g.size / Math.max(outer, 1);
  const dx = new Float32Array(sizeOf(shape));
  if (run > 0) {
    for (let o = 0; o < outer; o++) {
      dx.set(g.data.subarray(o * run, (o + 1) * run), (o * n + s) * inner);
    }
  }
  return new Tensor(dx, [...shape]);
}

/**
 * Copies `x[..., start:end, ...]` along `axis` (like `torch.narrow` / Python
 * slicing; negative `start`/`end` count from the end, `end` is exclusive and
 * defaults to the axis size).
 *
 * @throws {RangeError} An axis outside the rank or a range outside the axis.
 *
 * @example The first two key positions of a weight matrix
 * ```ts
 * import { slice } from "./slice.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]);
 * assert.deepEqual(slice(w, -1, 0, 2).toArray(), [[0.5, 0.3], [0.1, 0.1]].map((r) => r.map(Math.fround)));
 * ```
 */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  checkTensor(x, "slice", "x");
  const a = checkAxis(x, axis, "slice");
  const n = x.shape[a];
  const s = start < 0 ? start + n : start;
  const e = end === undefined ? n : end < 0 ? end + n : end;
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > n || s > e) {
    throw new RangeError(
      `slice: range [${start}, ${end ?? n}) does not fit axis ${axis} of size ${n} in x=${
        formatShape(x.shape)
      }`,
    );
  }
  // y = x[s:e] on axis a: dx = dy in [s, e), 0 elsewhere
  return recordOp("slice", [x], copyRange(x, a, s, e), (g) => [scatterRange(g, x.shape, a, s)]);
}

/**
 * `x` at `index` along `axis`, with that axis removed (like `torch.select`, or
 * `x[b]` for axis 0). Negative indices count from the end.
 *
 * @example Head 1 of per-head weights [B, H, Tq, Tk]
 * ```ts
 * import { select } from "./slice.ts";
 * import { zeros } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const weights = zeros([2, 4, 3, 3]);
 * assert.deepEqual(select(select(weights, 0, 0), 0, 1).shape, [3, 3]);
 * ```
 */
export function select(x: Tensor, axis: number, index: number): Tensor {
  checkTensor(x, "select", "x");
  const a = checkAxis(x, axis, "select");
  const n = x.shape[a];
  const i = index < 0 ? index + n : index;
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw new RangeError(
      `select: index ${index} is out of range for axis ${axis} of size ${n} in x=${
        formatShape(x.shape)
      }`,
    );
  }
  const part = copyRange(x, a, i, i + 1);
  const y = new Tensor(part.data, x.shape.filter((_, ax) => ax !== a));
  // y = x[i] on axis a: dx = dy at index i (the axis put back as size 1), 0 elsewhere
  return recordOp("select", [x], y, (g) => [scatterRange(g, x.shape, a, i)]);
}

/**
 * Joins tensors along `axis`; all other sizes must agree (like `torch.cat`).
 *
 * @throws {RangeError} No tensors, or sizes that differ off the axis.
 *
 * @example Append a new key to a cache [H, T, D]
 * ```ts
 * import { concat } from "./slice.ts";
 * import { ones, zeros } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const cache = zeros([2, 3, 4]), step = ones([2, 1, 4]);
 * const grown = concat([cache, step], 1);
 * assert.deepEqual(grown.shape, [2, 4, 4]);
 * assert.equal(grown.get(1, 3, 0), 1);
 * ```
 */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new RangeError("concat: tensors must be a non-empty array of Tensors");
  }
  tensors.forEach((t, i) => checkTensor(t, "concat", `tensors[${i}]`));
  const first = tensors[0];
  const a = checkAxis(first, axis, "concat");
  tensors.forEach((t, i) => {
    const same = t.rank === first.rank &&
      t.shape.every((d: number, ax: number) => ax === a || d === first.shape[ax]);
    if (!same) {
      throw new RangeError(
        `concat: tensors[${i}]=${formatShape(t.shape)} must match tensors[0]=${
          formatShape(first.shape)
        } on every axis but ${axis}`,
      );
    }
  });
  const outer = sizeOf(first.shape.slice(0, a));
  const inner = sizeOf(first.shape.slice(a + 1));
  const total = tensors.reduce((s, t) => s + t.shape[a], 0);
  const shape = [...first.shape];
  shape[a] = total;
  const out = new Float32Array(checkSize(shape, "concat", "the result"));
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner;
    for (const t of tensors) {
      const run = t.shape[a] * inner;
      out.set(t.data.subarray(o * run, (o + 1) * run), at);
      at += run;
    }
  }
  // y = [x₀; x₁; …] on axis a: dx_i = dy[offset_i : offset_i + size_i] on axis a
  return recordOp("concat", tensors, new Tensor(out, shape), (g) => {
    let offset = 0;
    return tensors.map((t) => {
      const part = copyRange(g, a, offset, offset + t.shape[a]);
      offset += t.shape[a];
      return part;
    });
  });
}
