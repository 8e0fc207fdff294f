/**
 * The learning-rate schedule of "Attention Is All You Need" (section 5.3):
 * linear warm-up, then decay with the inverse square root of the step.
 *
 * @module
 */

/** Options for {@link transformerLearningRate}. */
export interface TransformerLearningRateOptions {
  /** Model width d_model; the whole curve scales with d_model^−0.5. */
  dModel: number;
  /** Steps of linear warm-up, where the rate peaks; default 4000 (the paper's). */
  warmupSteps?: number;
  /** Multiplies the whole curve; default 1 (the Annotated Transformer uses 1 or 2). */
  factor?: number;
}

/**
 * The rate at training step `step` (counted from 1):
 * $$\text{lrate} = \text{factor}\cdot d_{\text{model}}^{-0.5}\cdot
 * \min\left(\text{step}^{-0.5},\ \text{step}\cdot\text{warmup}^{-1.5}\right).$$
 *
 * The two terms meet at step = warmup, where the rate peaks at
 * $\text{factor}\cdot(d_{\text{model}}\cdot\text{warmup})^{-0.5}$; before it the rate
 * grows linearly, after it decays as $1/\sqrt{\text{step}}$. The paper uses it with Adam
 * (β₁ = 0.9, β₂ = 0.98, ε = 1e-9). Step 0 is rejected rather than mapped to 0 or 1
 * (the Annotated Transformer silently treats it as 1).
 *
 * @param step Training step, a finite number >= 1 (fractional steps are allowed, for plots).
 * @param options `dModel` (required), `warmupSteps` (default 4000), `factor` (default 1).
 * @returns The learning rate, > 0.
 * @throws {TypeError} When `options` is not an object.
 * @throws {RangeError} When `step` is not a finite number >= 1, `dModel` or `warmupSteps`
 *   is not a positive integer, or `factor` is not a finite number > 0.
 *
 * @example The paper's base model peaks at step 4000
 * ```ts
 * import { transformerLearningRate } from "./transformer_learning_rate.ts";
 * import assert from "node:assert/strict";
 * const lr = (step: number) => transformerLearningRate(step, { dModel: 512 });
 * assert.ok(Math.abs(lr(4000) - 1 / Math.sqrt(512 * 4000)) < 1e-15); // ≈ 6.99e-4
 * assert.ok(lr(2000) < lr(4000) && lr(8000) < lr(4000));
 * assert.ok(Math.abs(lr(2000) - lr(4000) / 2) < 1e-15); // linear warm-up
 * assert.ok(Math.abs(lr(16000) - lr(4000) / 2) < 1e-15); // 1/√step decay
 * ```
 */
export function transformerLearningRate(
  step: number,
  options: TransformerLearningRateOptions,
): number {
  const fn = "transformerLearningRate";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object like { dModel: 512 }, got ${options}`);
  }
  if (typeof step !== "number" || !Number.isFinite(step) || step < 1) {
    throw new RangeError(
      `${fn}: step must be a finite number >= 1 (steps count from 1), got ${String(step)}`,
    );
  }
  const { dModel, warmupSteps = 4000, factor = 1 } = options;
  for (const [name, v] of [["dModel", dModel], ["warmupSteps", warmupSteps]] as const) {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
    }
  }
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor <= 0) {
    throw new RangeError(`${fn}: factor must be a finite number > 0, got ${String(factor)}`);
  }
  return factor * dModel ** -0.5 * Math.min(step ** -0.5, step * warmupSteps ** -1.5);
}
