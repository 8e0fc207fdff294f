/**
 * Linear warm-up followed by cosine decay, the schedule of most Transformer
 * training today (GPT-2/3, BERT fine-tuning, nanoGPT).
 *
 * @module
 */

import { describeValue } from "../tensor/describe.ts";

/** Options for {@link warmupCosineLearningRate}. */
export interface WarmupCosineLearningRateOptions {
  /** The peak rate, reached at the end of warm-up. */
  maxLr: number;
  /** Steps of linear warm-up from 0 to `maxLr` (0 for none). */
  warmupSteps: number;
  /** The step at which the cosine reaches `minLr`; later steps stay there. */
  totalSteps: number;
  /** The floor of the decay; default 0. */
  minLr?: number;
}

/**
 * The rate at training step `step` (counted from 1, like `transformerLearningRate`):
 * $$\eta(s) = \begin{cases} \eta_{\max}\, s / w & s \le w \\
 * \eta_{\min} + \tfrac12(\eta_{\max} - \eta_{\min})\bigl(1 + \cos(\pi\, \tfrac{s - w}{S - w})\bigr)
 * & w < s \le S \\ \eta_{\min} & s > S \end{cases}$$
 * with w = `warmupSteps`, S = `totalSteps`. With `minLr` 0 and up to `totalSteps` it is `maxLr` times
 * Hugging Face's `get_cosine_schedule_with_warmup` multiplier at `step` (whose cosine
 * rises again after `totalSteps`; this one stays at `minLr`). Set `optimizer.lr` to
 * it before each step.
 *
 * @throws {RangeError} step not a finite number >= 1; warmupSteps not an integer >= 0;
 *   totalSteps not an integer > warmupSteps; maxLr or minLr not finite and >= 0, or minLr > maxLr.
 * @throws {TypeError} When `options` is not an object.
 *
 * @example Up for 10 steps, down to the floor at step 110
 * ```ts
 * import { warmupCosineLearningRate } from "./warmup_cosine_learning_rate.ts";
 * import assert from "node:assert/strict";
 * const o = { maxLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 };
 * assert.equal(warmupCosineLearningRate(5, o), 5e-4);
 * assert.equal(warmupCosineLearningRate(10, o), 1e-3);
 * assert.ok(Math.abs(warmupCosineLearningRate(60, o) - 5.5e-4) < 1e-15); // halfway down
 * assert.equal(warmupCosineLearningRate(500, o), 1e-4);
 * ```
 */
export function warmupCosineLearningRate(
  step: number,
  options: WarmupCosineLearningRateOptions,
): number {
  const fn = "warmupCosineLearningRate";
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `${fn}: options must be an object like { maxLr, warmupSteps, totalSteps }, got ${
        describeValue(options)
      }`,
    );
  }
  if (typeof step !== "number" || !Number.isFinite(step) || step < 1) {
    throw new RangeError(
      `${fn}: step must be a finite number >= 1 (steps count from 1), got ${describeValue(step)}`,
    );
  }
  const { maxLr, warmupSteps, totalSteps, minLr = 0 } = options;
  for (const [name, v] of [["maxLr", maxLr], ["minLr", minLr]] as const) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`${fn}: ${name} must be a finite number >= 0, got ${describeValue(v)}`);
    }
  }
  if (minLr > maxLr) {
    throw new RangeError(`${fn}: minLr ${minLr} must not exceed maxLr ${maxLr}`);
  }
  if (typeof warmupSteps !== "number" || !Number.isSafeInteger(warmupSteps) || warmupSteps < 0) {
    throw new RangeError(
      `${fn}: warmupSteps must be an integer >= 0, got ${describeValue(warmupSteps)}`,
    );
  }
  if (
    typeof totalSteps !== "number" || !Number.isSafeInteger(totalSteps) || totalSteps <= warmupSteps
  ) {
    throw new RangeError(
      `${fn}: totalSteps must be an integer > warmupSteps (${warmupSteps}), got ${
        describeValue(totalSteps)
      }`,
    );
  }
  if (step <= warmupSteps) return maxLr * step / warmupSteps;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
}
