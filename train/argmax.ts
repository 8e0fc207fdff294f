/**
 * The argmax of one row of logits, shared by the trainers' accuracies and snapshots.
 *
 * @module
 */

/**
 * Index of the largest entry of `row` (the first on ties).
 *
 * @example
 * ```ts
 * import { argmax } from "./argmax.ts";
 * import assert from "node:assert/strict";
 * assert.equal(argmax(new Float32Array([0.1, 0.7, 0.7, 0.2])), 1);
 * ```
 */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}
