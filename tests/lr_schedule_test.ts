/** transformerLearningRate against the paper's formula and its shape (warm-up, peak, decay). */
import assert from "node:assert/strict";
import { transformerLearningRate } from "../lib/optim/transformer_learning_rate.ts";

Deno.test("transformerLearningRate() follows the paper's formula", async (t) => {
  await t.step("matches d^-0.5 · min(step^-0.5, step · warmup^-1.5) at many steps", () => {
    for (const [dModel, warmup, factor] of [[512, 4000, 1], [1024, 8000, 2], [64, 100, 0.5]]) {
      for (const step of [1, 2, 10, 99, 100, 101, 3999, 4000, 4001, 1e5, 1e6]) {
        const expected = factor * Math.pow(dModel, -0.5) *
          Math.min(Math.pow(step, -0.5), step * Math.pow(warmup, -1.5));
        const got = transformerLearningRate(step, { dModel, warmupSteps: warmup, factor });
        assert.ok(
          Math.abs(got - expected) <= 1e-12 * expected,
          `step=${step}, dModel=${dModel}, warmup=${warmup}: got ${got}, expected ${expected}`,
        );
      }
    }
  });
  await t.step("defaults are warmupSteps = 4000 and factor = 1", () => {
    assert.equal(
      transformerLearningRate(123, { dModel: 512 }),
      transformerLearningRate(123, { dModel: 512, warmupSteps: 4000, factor: 1 }),
    );
  });
  await t.step("rises until warmupSteps, then falls", () => {
    const lr = (s: number) => transformerLearningRate(s, { dModel: 256, warmupSteps: 50 });
    for (let s = 1; s < 50; s++) assert.ok(lr(s) < lr(s + 1), `not rising at step ${s}`);
    for (let s = 50; s < 500; s++) assert.ok(lr(s) > lr(s + 1), `not falling at step ${s}`);
    assert.ok(Math.abs(lr(50) - 1 / Math.sqrt(256 * 50)) < 1e-15, "peak is (d·warmup)^-0.5");
  });
});

Deno.test("transformerLearningRate() rejects bad arguments", async (t) => {
  await t.step("step 0, negative, NaN or infinite", () => {
    for (const step of [0, -1, NaN, Infinity]) {
      assert.throws(
        () => transformerLearningRate(step, { dModel: 512 }),
        /transformerLearningRate: step must be a finite number >= 1/,
        `step=${step}`,
      );
    }
  });
  await t.step("dModel and warmupSteps must be positive integers", () => {
    assert.throws(() => transformerLearningRate(1, { dModel: 0 }), /dModel must be a positive/);
    assert.throws(() => transformerLearningRate(1, { dModel: 1.5 }), /dModel.*1\.5/);
    assert.throws(
      () => transformerLearningRate(1, { dModel: 8, warmupSteps: 0 }),
      /warmupSteps must be a positive integer, got 0/,
    );
  });
  await t.step("factor must be positive", () => {
    assert.throws(() => transformerLearningRate(1, { dModel: 8, factor: 0 }), /factor.*got 0/);
  });
  await t.step("options must be an object", () => {
    // @ts-expect-error: options are required
    assert.throws(() => transformerLearningRate(1), TypeError);
  });
});
