/**
 * Row softmax kernels on raw Float32Arrays. `lib/tensor/softmax.ts` and the
 * attention functions validate and then call {@link softmaxRows}.
 *
 * @module
 */

import { runKernel } from "./registry.ts";
import "./kernel_table.ts";

/**
 * In-place numerically stable softmax (WebAssembly SIMD for large inputs, chosen
 * by the kernel table) over `rows` rows of length `cols`
 * starting at `offset`: each row has its maximum subtracted before `exp`.
 *
 * A row whose every entry is `-Infinity` (a fully masked row) becomes all
 * zeros instead of NaN. A row containing `+Infinity` puts equal weight on its
 * `+Infinity` entries. A NaN anywhere in a row makes the whole row NaN, as in
 * PyTorch (the row maximum skips NaN, so the `-Infinity` and `+Infinity` cases
 * look for one; otherwise it reaches every entry through the row sum).
 * `size` (default rows·cols) picks the kernel: a caller working in chunks of
 * rows passes the whole size, so every chunk gets the same bits.
 *
 * @example A fully masked row becomes zeros
 * ```ts
 * import { softmaxRows } from "./softmax.ts";
 * import assert from "node:assert/strict";
 * const x = Float32Array.of(0, 0, -Infinity, -Infinity);
 * softmaxRows(x, 0, 2, 2);
 * assert.deepEqual([...x], [0.5, 0.5, 0, 0]);
 * ```
 *
 * @example A NaN logit makes its row NaN
 * ```ts
 * import { softmaxRows } from "./softmax.ts";
 * import assert from "node:assert/strict";
 * const x = Float32Array.of(NaN, -Infinity, 1, 2);
 * softmaxRows(x, 0, 2, 2);
 * assert.ok(Number.isNaN(x[0]) && Number.isNaN(x[1]));
 * assert.ok(Math.abs(x[2] + x[3] - 1) < 1e-6);
 * ```
 */
export function softmaxRows(
  x: Float32Array,
  offset: number,
  rows: number,
  cols: number,
  size: number = rows * cols,
): void {
  // the kernel table picks WebAssembly SIMD or the reference loop by `size` (kernel_table.ts)
  runKernel("softmaxRows", { x, offset, rows, cols, size });
}

/**
 * The readable reference of {@link softmaxRows}: max, `Math.exp`, sum, scale,
 * one row at a time in float64 arithmetic.
 *
 * @example Equal logits share the weight
 * ```ts
 * import { softmaxRowsReference } from "./softmax.ts";
 * import assert from "node:assert/strict";
 * const x = Float32Array.of(3, 3);
 * softmaxRowsReference(x, 0, 1, 2);
 * assert.deepEqual([...x], [0.5, 0.5]);
 * ```
 */
export function softmaxRowsReference(
  x: Float32Array,
  offset: number,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = offset + r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
    if ((max === -Infinity || max === Infinity) && hasNaN(x, o, cols)) {
      x.fill(NaN, o, o + cols);
      continue;
    }
    if (max === -Infinity) {
      x.fill(0, o, o + cols);
      continue;
    }
    if (max === Infinity) {
      let count = 0;
      for (let j = 0; j < cols; j++) if (x[o + j] === Infinity) count++;
      for (let j = 0; j < cols; j++) x[o + j] = x[o + j] === Infinity ? 1 / count : 0;
      continue;
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j] - max);
      x[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) x[o + j] *= inv;
  }
}

/**
 * True when `x[o, o + n)` holds a NaN (which `x > max` comparisons skip).
 *
 * @example
 * ```ts
 * import { hasNaN } from "./softmax.ts";
 * import assert from "node:assert/strict";
 * assert.equal(hasNaN([1, NaN, 2], 0, 3), true);
 * assert.equal(hasNaN([1, NaN, 2], 2, 1), false);
 * ```
 */
export function hasNaN(x: ArrayLike<number>, o: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (x[o + j] !== x[o + j]) return true;
  return false;
}
