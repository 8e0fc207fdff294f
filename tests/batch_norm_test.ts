/**
 * batchNorm against a float64 loop written here from the formula, plus its
 * defining properties and its errors.
 */
import assert from "node:assert/strict";
import { assertClose } from "../lib/testing/assert_close.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { mask } from "../lib/tensor/mask.ts";
import { randn, Tensor, tensor } from "../lib/tensor/tensor.ts";
import { batchNorm } from "../lib/layers/batch_norm.ts";
import { layerNorm } from "../lib/layers/layer_norm.ts";
import { paddingMask } from "../lib/attention/masks.ts";

/** BatchNorm in float64: per channel, mean and biased variance over the kept positions. */
function batchNormReference(
  x: Tensor,
  o: { weight?: number[]; bias?: number[]; eps?: number; keep?: boolean[] } = {},
): Float64Array {
  const c = x.shape[x.rank - 1];
  const m = x.size / c;
  const eps = o.eps ?? 1e-5;
  const out = new Float64Array(x.size);
  for (let j = 0; j < c; j++) {
    const col: number[] = [];
    for (let i = 0; i < m; i++) if (!o.keep || o.keep[i]) col.push(x.data[i * c + j]);
    const mu = col.reduce((s, v) => s + v, 0) / col.length;
    const v = col.reduce((s, x) => s + (x - mu) ** 2, 0) / col.length;
    for (let i = 0; i < m; i++) {
      out[i * c + j] = ((x.data[i * c + j] - mu) / Math.sqrt(v + eps)) * (o.weight?.[j] ?? 1) +
        (o.bias?.[j] ?? 0);
    }
  }
  return out;
}

Deno.test("batchNorm() matches a float64 loop", async (t) => {
  await t.step("[N, C] like BatchNorm1d, default eps", () => {
    const x = randn([16, 5], new Rng(1));
    assertClose(batchNorm(x), batchNormReference(x), { rtol: 1e-5, atol: 1e-5 });
  });
  await t.step("[N, T, C] with weight, bias and eps", () => {
    const x = randn([3, 7, 4], new Rng(2));
    const weight = [0.5, 2, -1, 1.5], bias = [0, 1, -2, 0.25];
    const y = batchNorm(x, { weight: tensor(weight), bias: tensor(bias), eps: 1e-3 });
    assertClose(y, batchNormReference(x, { weight, bias, eps: 1e-3 }), { rtol: 1e-5, atol: 1e-5 });
  });
  await t.step("a mask leaves padding out of the statistics", () => {
    const x = randn([2, 4, 3], new Rng(3));
    const lengths = [2, 4];
    const m = paddingMask(lengths, 4).reshape([2, 4]);
    const keep = [true, true, false, false, true, true, true, true];
    assertClose(batchNorm(x, { mask: m }), batchNormReference(x, { keep }), {
      rtol: 1e-5,
      atol: 1e-5,
    });
  });
  await t.step("a large offset does not cancel digits away", () => {
    const base = randn([32, 2], new Rng(4));
    const shifted = tensor(Array.from(base.data, (v) => v + 1e4)).reshape([32, 2]);
    assertClose(batchNorm(shifted), batchNormReference(shifted), { rtol: 1e-3, atol: 1e-3 });
  });
});

Deno.test("batchNorm() properties", async (t) => {
  await t.step("each channel gets mean 0 and variance 1", () => {
    const x = randn([8, 6, 4], new Rng(5));
    const y = batchNorm(x, { eps: 0 });
    for (let j = 0; j < 4; j++) {
      let s = 0, s2 = 0;
      for (let i = 0; i < 48; i++) s += y.data[i * 4 + j];
      for (let i = 0; i < 48; i++) s2 += (y.data[i * 4 + j] - s / 48) ** 2;
      assert.ok(Math.abs(s / 48) < 1e-5, `channel ${j}: mean ${s / 48}, expected 0`);
      assert.ok(Math.abs(s2 / 48 - 1) < 1e-4, `channel ${j}: variance ${s2 / 48}, expected 1`);
    }
  });
  await t.step("one sequence's result depends on the rest of the batch (unlike layerNorm)", () => {
    const a = randn([1, 5, 4], new Rng(6));
    const b = randn([1, 5, 4], new Rng(7));
    // [1, 5, 4] and [1, 5, 4] -> [2, 5, 4], sequence a first
    const ab = new Tensor(Float32Array.from([...a.data, ...b.data]), [2, 5, 4]);
    const alone = batchNorm(a).data;
    const batched = batchNorm(ab).data.subarray(0, 20);
    assert.notDeepEqual(Array.from(alone), Array.from(batched));
    const ln = layerNorm(a).data;
    const lnBatched = layerNorm(ab).data.subarray(0, 20);
    assert.deepEqual(Array.from(ln), Array.from(lnBatched));
  });
  await t.step("NaN in one channel stays in that channel", () => {
    const x = tensor([[NaN, 1], [2, 3], [4, 5]]);
    const y = batchNorm(x).toArray() as number[][];
    assert.ok(y.every((r) => Number.isNaN(r[0])), "channel 0 should be NaN");
    assert.ok(y.every((r) => Number.isFinite(r[1])), "channel 1 should stay finite");
  });
});

Deno.test("batchNorm() errors name the function, argument and shapes", async (t) => {
  await t.step("rank 1", () => {
    assert.throws(() => batchNorm(tensor([1, 2, 3])), /batchNorm: x needs rank >= 2.*\[3\]/);
  });
  await t.step("weight of the wrong size", () => {
    assert.throws(
      () => batchNorm(randn([4, 3], new Rng(0)), { weight: tensor([1, 2]) }),
      /batchNorm: weight must have shape \[3\].*\[4, 3\].*\[2\]/,
    );
  });
  await t.step("mask of the wrong shape", () => {
    assert.throws(
      () => batchNorm(randn([2, 3, 4], new Rng(0)), { mask: paddingMask([1, 3], 3) }),
      /batchNorm: mask must have the shape of x without its last axis, \[2, 3\].*\[2, 1, 1, 3\]/,
    );
  });
  await t.step("a mask that is not a Mask", () => {
    assert.throws(
      // @ts-expect-error: a plain array is not a Mask
      () => batchNorm(randn([2, 3], new Rng(0)), { mask: [true, false] }),
      TypeError,
    );
  });
  await t.step("a single value per channel, as PyTorch", () => {
    assert.throws(() => batchNorm(tensor([[1, 2]])), /more than 1 value per channel.*1 positions/);
    assert.throws(
      () => batchNorm(tensor([[1], [2]]), { mask: mask([true, false]) }),
      /1 unmasked positions/,
    );
  });
  await t.step("negative eps", () => {
    assert.throws(() => batchNorm(tensor([[1], [2]]), { eps: -1 }), /batchNorm: eps/);
  });
});
