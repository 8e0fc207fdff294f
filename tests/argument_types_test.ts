/**
 * A value of the wrong type is a TypeError that shows it quoted with its type,
 * at every layer of the library (the tensor core and attention too, not only the
 * layers and models), and a size check runs before `linear` allocates its output.
 */

import assert from "node:assert/strict";
import {
  causalMask,
  Embedding,
  linear,
  paddingMask,
  randn,
  Rng,
  scaledDotProductAttention,
  sum,
  tiledAttention,
  zeros,
} from "../mod.ts";

const x = randn([2, 4], new Rng(0));

Deno.test("a string where a number or boolean belongs is a TypeError showing it quoted", async (t) => {
  await t.step('causalMask("3")', () => {
    assert.throws(
      () => causalMask("3" as unknown as number),
      (e: Error) => e instanceof TypeError && e.message.includes('got "3" (a string)'),
    );
  });
  await t.step("paddingMask with a string length", () => {
    assert.throws(
      () => paddingMask(["2" as unknown as number], 4),
      (e: Error) => e instanceof TypeError && e.message.includes('"2" (a string)'),
    );
  });
  await t.step("scaledDotProductAttention needWeights and scale", () => {
    assert.throws(
      () => scaledDotProductAttention(x, x, x, { needWeights: "false" as unknown as boolean }),
      (e: Error) => e instanceof TypeError && e.message.includes('got "false" (a string)'),
    );
    assert.throws(
      () => scaledDotProductAttention(x, x, x, { scale: "0.5" as unknown as number }),
      (e: Error) => e.message.includes('got "0.5" (a string)'),
    );
  });
  await t.step("tiledAttention blockSize", () => {
    assert.throws(
      () => tiledAttention(x, x, x, { blockSize: "8" as unknown as number }),
      (e: Error) => e.message.includes('got "8" (a string)'),
    );
  });
  await t.step("sum keepDims", () => {
    assert.throws(
      () => sum(x, 0, { keepDims: "yes" as unknown as boolean }),
      (e: Error) => e instanceof TypeError && e.message.includes('got "yes" (a string)'),
    );
  });
  await t.step("Embedding sizes", () => {
    assert.throws(
      () => new Embedding("8" as unknown as number, 3),
      (e: Error) => e instanceof TypeError && e.message.includes('"8" (a string)'),
    );
    // a number that is not a positive integer stays a RangeError
    assert.throws(() => new Embedding(8.5, 3), RangeError);
  });
});

Deno.test("linear() refuses an output of more than 2^31-1 elements before allocating it", () => {
  // [65536, 1] x [65536, 1]ᵀ -> [65536, 65536]: 2^32 elements, 16 GiB
  const input = zeros([65536, 1]), weight = zeros([65536, 1]);
  assert.throws(
    () => linear(input, weight),
    (e: Error) =>
      e instanceof RangeError && e.message.startsWith("linear:") &&
      e.message.includes("[65536, 65536]") && e.message.includes("2^31-1"),
  );
});
