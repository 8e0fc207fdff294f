/**
 * Linear initialises like PyTorch's nn.Linear: weight kaiming_uniform_(a=√5),
 * i.e. U(-1/√in, 1/√in), then bias U(-1/√in, 1/√in), from `rng` or a seeded Rng
 * (seed 0 by default), never zeros.
 *
 * Tolerance of the distribution check: 65536 draws of U(-b, b) have variance
 * b²/3; the sample variance is within 3% of it (its relative standard error is
 * about 0.35%), the mean within 0.01·b (standard error 0.0023·b).
 */

import assert from "node:assert/strict";
import { Linear } from "../lib/layers/linear.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { rand } from "../lib/tensor/tensor.ts";

Deno.test("Linear draws weight then bias from U(±1/√in), seeded", async (t) => {
  await t.step("default seed 0: the weight, then the bias, of rand(new Rng(0))", () => {
    const layer = new Linear(5, 3);
    const rng = new Rng(0), b = 1 / Math.sqrt(5);
    assert.deepEqual(layer.weight.data, rand([3, 5], rng, { low: -b, high: b }).data);
    assert.deepEqual(layer.bias!.data, rand([3], rng, { low: -b, high: b }).data);
    assert.deepEqual(new Linear(5, 3, { seed: 0 }).weight.data, layer.weight.data);
    assert.notDeepEqual(new Linear(5, 3, { seed: 1 }).weight.data, layer.weight.data);
    const given = new Rng(7);
    assert.deepEqual(
      new Linear(5, 3, { rng: given, seed: 3 }).weight.data,
      rand([3, 5], new Rng(7), { low: -b, high: b }).data,
    );
  });
  await t.step("the distribution is U(-1/√in, 1/√in), with no zeros", () => {
    const inF = 256, b = 1 / Math.sqrt(inF);
    const w = new Linear(inF, 256, { seed: 11 }).weight.data;
    let sum = 0, sq = 0;
    for (const x of w) {
      assert.ok(Math.abs(x) <= b && x !== 0, `weight ${x} outside (0, ${b}]`);
      sum += x;
      sq += x * x;
    }
    const mean = sum / w.length, variance = sq / w.length - mean * mean;
    assert.ok(Math.abs(mean) <= 0.01 * b, `mean ${mean}`);
    assert.ok(Math.abs(variance / (b * b / 3) - 1) <= 0.03, `variance ${variance}`);
  });
  await t.step("bias: false registers no bias; options are type-checked", () => {
    assert.equal(new Linear(2, 2, { bias: false }).bias, null);
    assert.throws(
      () => new Linear(2, 2, { bias: "false" as unknown as boolean }),
      /Linear: options.bias must be a boolean/,
    );
    assert.throws(
      () => new Linear(2, 2, { seed: "1" as unknown as number }),
      /Linear: options.seed must be an integer/,
    );
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new Linear(2, 2, { rng: {} as any }), /Linear: options.rng must be an Rng/);
  });
});
