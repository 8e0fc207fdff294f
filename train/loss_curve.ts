/**
 * The training-loss curve a checkpoint records (`training.loss`, `training.every`),
 * shared by the seq2seq and the language-model trainers.
 *
 * @module
 */

/**
 * The mean training loss over each run of `every` steps (about 50 points for
 * any run length; the last run may be shorter), at 6 significant digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LossCurve } from "./loss_curve.ts";
 * const curve = new LossCurve(5); // every = 1: one point a step
 * for (let step = 1; step <= 5; step++) curve.add(step, 1 / step);
 * assert.equal(curve.every, 1);
 * assert.deepEqual(curve.values, [1, 0.5, 0.333333, 0.25, 0.2]);
 * ```
 */
export class LossCurve {
  /** Steps per point: `max(1, floor(steps / 50))`. */
  readonly every: number;
  /** The points so far. */
  readonly values: number[] = [];
  #sum = 0;
  #count = 0;

  /** A curve for a run of `steps` steps. */
  constructor(readonly steps: number) {
    this.every = Math.max(1, Math.floor(steps / 50));
  }

  /** Adds the loss of step `step` (1-based); closes a point every `every` steps and at the last. */
  add(step: number, loss: number): void {
    this.#sum += loss;
    this.#count++;
    if (this.#count === this.every || step === this.steps) {
      this.values.push(Number((this.#sum / this.#count).toPrecision(6)));
      this.#sum = 0;
      this.#count = 0;
    }
  }
}
