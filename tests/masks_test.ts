import assert from "node:assert/strict";
import {
  causalMask,
  combineMasks,
  fromTorchAttnMask,
  fromTorchKeyPaddingMask,
  invertMask,
  maskToBias,
  paddingMask,
} from "../lib/attention/masks.ts";
import { mask } from "../lib/tensor/mask.ts";
import { tensor } from "../lib/tensor/tensor.ts";

Deno.test("causalMask() blocks future keys", async (t) => {
  await t.step("top-left: key j allowed iff j <= i", () => {
    const m = causalMask(4, 6);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 6; j++) assert.equal(m.data[i * 6 + j], j <= i ? 1 : 0);
    }
  });
  await t.step("bottom-right: last query sees every key", () => {
    const m = causalMask(2, 5, { align: "bottom-right" });
    assert.deepEqual(m.toArray(), [[true, true, true, true, false], [
      true,
      true,
      true,
      true,
      true,
    ]]);
  });
  await t.step("bad sizes and align", () => {
    assert.throws(() => causalMask(-1), /tq must be a non-negative integer/);
    assert.throws(() => causalMask(2, 2, { align: "left" as "top-left" }), /align must be/);
  });
});

Deno.test("paddingMask() shape and checks", () => {
  const m = paddingMask([1, 3, 0], 3);
  assert.deepEqual(m.shape, [3, 1, 1, 3]);
  assert.deepEqual([...m.data], [1, 0, 0, 1, 1, 1, 0, 0, 0]);
  assert.throws(() => paddingMask([4], 3), /lengths\[0\]=4 exceeds maxLen=3/);
  assert.throws(() => paddingMask([1.5], 3), RangeError);
});

Deno.test("combineMasks() is a broadcasting AND", () => {
  const m = combineMasks(paddingMask([2, 3], 3), causalMask(3));
  assert.deepEqual(m.shape, [2, 1, 3, 3]);
  assert.deepEqual([...m.data.subarray(0, 9)], [1, 0, 0, 1, 1, 0, 1, 1, 0]);
  assert.deepEqual([...m.data.subarray(9)], [...causalMask(3).data]);
  assert.throws(() => combineMasks(causalMask(2), causalMask(3)), /cannot broadcast/);
});

Deno.test("PyTorch mask converters flip the polarity", async (t) => {
  await t.step("boolean attn_mask (true = blocked)", () => {
    const torchBool = mask([[false, true], [false, false]]);
    assert.deepEqual(fromTorchAttnMask(torchBool).data, causalMask(2).data);
  });
  await t.step("3-D (B*H, Tq, Tk) becomes [B, H, Tq, Tk]", () => {
    const m = fromTorchAttnMask(mask(new Uint8Array(2 * 3 * 1 * 2), [6, 1, 2]), { numHeads: 3 });
    assert.deepEqual(m.shape, [2, 3, 1, 2]);
    assert.ok(m.data.every((v) => v === 1));
    assert.throws(
      () => fromTorchAttnMask(mask(new Uint8Array(10), [5, 1, 2]), { numHeads: 3 }),
      /multiple of numHeads=3/,
    );
  });
  await t.step("float masks must be 0/-inf", () => {
    assert.throws(() => fromTorchAttnMask(tensor([[0, -1]])), /found -1 at flat index 1/);
  });
  await t.step("key_padding_mask (true = padding)", () => {
    const m = fromTorchKeyPaddingMask(mask([[false, true]]));
    assert.deepEqual(m.shape, [1, 1, 1, 2]);
    assert.deepEqual([...m.data], [1, 0]);
    assert.throws(() => fromTorchKeyPaddingMask(mask([true])), /must be 2-D/);
  });
  await t.step("invert and bias", () => {
    assert.deepEqual([...invertMask(invertMask(causalMask(3))).data], [...causalMask(3).data]);
    assert.deepEqual([...maskToBias(mask([true, false])).data], [0, -Infinity]);
  });
});

Deno.test("mask() validates its input", () => {
  assert.deepEqual(mask([[1, 0]]).toArray(), [[true, false]]);
  assert.throws(() => mask([2]), /must be a boolean or 0\/1, got 2/);
  assert.throws(() => mask([true, false], [3]), /shape \[3\] needs 3 values/);
});
