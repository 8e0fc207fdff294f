/**
 * The fused row backward of softmax and logSoftmax on raw Float32Arrays: one
 * pass for the row's dot product, one for the gradient, never the `cols × cols`
 * Jacobian. `lib/tensor/softmax.ts` calls {@link softmaxBackwardRows}; the
 * kernel table picks the path (`kernel_table.ts`).
 *
 * - softmax, with p = softmax(x) saved from the forward:
 *   $dx_j = p_j\,(dp_j - \sum_i p_i\,dp_i)$.
 * - logSoftmax, with y = logSoftmax(x) saved: $dx_j = dy_j - e^{y_j} \sum_i dy_i$.
 *
 * A fully masked row (softmax all 0, logSoftmax all `-Infinity`) has gradient 0,
 * never NaN; a NaN row of the forward gives a NaN gradient, as in PyTorch.
 *
 * @module
 */

import { runKernel } from "./registry.ts";
import "./kernel_table.ts";

/** Operands of the `softmaxBackward` kernel: `rows` rows of `cols` floats each, contiguous. */
export interface SoftmaxBackwardArgs {
  /** The forward's output: p = softmax(x), or y = logSoftmax(x) when `log`. */
  y: Float32Array;
  /** dL/d(output), same layout as `y`. */
  dy: Float32Array;
  /** Receives dL/dx (written, never read), same layout. */
  dx: Float32Array;
  rows: number;
  cols: number;
  /** True: the backward of logSoftmax; false: of softmax. */
  log: boolean;
}

/**
 * dL/dx of a row softmax (or logSoftmax when `log`) into `dx`, by the kernel
 * table's choice of path.
 *
 * @example The gradient of softmax sums to zero over a row
 * ```ts
 * import { softmaxBackwardRows } from "./softmax_backward.ts";
 * import assert from "node:assert/strict";
 * const y = Float32Array.of(0.25, 0.75), dy = Float32Array.of(1, 3), dx = new Float32Array(2);
 * softmaxBackwardRows({ y, dy, dx, rows: 1, cols: 2, log: false });
 * // Σ p·dp = 2.5: dx = [0.25·(1 - 2.5), 0.75·(3 - 2.5)]
 * assert.deepEqual([...dx], [-0.375, 0.375]);
 * ```
 */
export function softmaxBackwardRows(args: SoftmaxBackwardArgs): void {
  runKernel("softmaxBackward", args);
}

/**
 * The readable reference of {@link softmaxBackwardRows}: one row at a time, the
 * formulas of the module comment in float64 arithmetic.
 *
 * @example A fully masked softmax row has gradient 0
 * ```ts
 * import { softmaxBackwardReference } from "./softmax_backward.ts";
 * import assert from "node:assert/strict";
 * const dx = new Float32Array(2);
 * softmaxBackwardReference({
 *   y: Float32Array.of(0, 0), dy: Float32Array.of(5, -1), dx, rows: 1, cols: 2, log: false,
 * });
 * assert.ok(dx.every((v) => v === 0)); // 0 · (dp - 0): +0 or -0
 * ```
 */
export function softmaxBackwardReference(
  { y, dy, dx, rows, cols, log }: SoftmaxBackwardArgs,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (log) {
      // a row of -Infinity is fully masked: no gradient reaches it
      let masked = true;
      for (let j = 0; j < cols; j++) if (y[o + j] !== -Infinity) masked = false;
      if (masked) {
        dx.fill(0, o, o + cols);
        continue;
      }
      // dx_j = dy_j - softmax_j · Σ_i dy_i, softmax_j = e^{y_j}
      let total = 0;
      for (let i = 0; i < cols; i++) total += dy[o + i];
      for (let j = 0; j < cols; j++) dx[o + j] = dy[o + j] - Math.exp(y[o + j]) * total;
    } else {
      // dx_j = p_j (dp_j - Σ_i p_i dp_i); a masked row (p = 0) gets 0
      let dot = 0;
      for (let i = 0; i < cols; i++) dot += y[o + i] * dy[o + i];
      for (let j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
    }
  }
}

/**
 * The fast JavaScript path of {@link softmaxBackwardRows}: the same formulas with
 * the dot product in four float64 accumulators (for logSoftmax, a second pass
 * over the row finds a fully masked one: no entry above -Infinity). Agrees with
 * the reference to float64 rounding of the sums.
 *
 * @example Agrees with the reference
 * ```ts
 * import { softmaxBackwardJs, softmaxBackwardReference } from "./softmax_backward.ts";
 * import assert from "node:assert/strict";
 * const y = Float32Array.of(-1, -2, -0.5, -3, -1.5), dy = Float32Array.of(1, 2, 3, 4, 5);
 * const a = new Float32Array(5), b = new Float32Array(5);
 * softmaxBackwardJs({ y, dy, dx: a, rows: 1, cols: 5, log: true });
 * softmaxBackwardReference({ y, dy, dx: b, rows: 1, cols: 5, log: true });
 * assert.ok(a.every((v, i) => Math.abs(v - b[i]) <= 1e-6 * Math.abs(b[i])));
 * ```
 */
export function softmaxBackwardJs({ y, dy, dx, rows, cols, log }: SoftmaxBackwardArgs): void {
  const c4 = cols & ~3;
  for (let o = 0, end = rows * cols; o < end; o += cols) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, j = 0;
    if (log) {
      let live = 0; // entries that are not -Infinity
      for (; j < c4; j += 4) {
        s0 += dy[o + j];
        s1 += dy[o + j + 1];
        s2 += dy[o + j + 2];
        s3 += dy[o + j + 3];
      }
      for (; j < cols; j++) s0 += dy[o + j];
      for (let i = 0; i < cols; i++) if (y[o + i] !== -Infinity) live++;
      if (live === 0) {
        dx.fill(0, o, o + cols);
        continue;
      }
      const total = (s0 + s1) + (s2 + s3);
      for (let i = 0; i < cols; i++) dx[o + i] = dy[o + i] - Math.exp(y[o + i]) * total;
    } else {
      for (; j < c4; j += 4) {
        s0 += y[o + j] * dy[o + j];
        s1 += y[o + j + 1] * dy[o + j + 1];
        s2 += y[o + j + 2] * dy[o + j + 2];
        s3 += y[o + j + 3] * dy[o + j + 3];
      }
      for (; j < cols; j++) s0 += y[o + j] * dy[o + j];
      const dot = (s0 + s1) + (s2 + s3);
      for (let i = 0; i < cols; i++) dx[o + i] = y[o + i] * (dy[o + i] - dot);
    }
  }
}
