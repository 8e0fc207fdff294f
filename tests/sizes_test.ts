// Impossible sizes are refused before anything is allocated, and a Mask holds only 0 and 1.
// The huge cases below would each run for minutes (or exhaust memory) if the check came after
// the allocation or the fill loop, so a regression times the test out rather than passing.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  add,
  additiveAttention,
  alibiBias,
  alibiSlopes,
  causalMask,
  combineMasks,
  dotProductAttention,
  Embedding,
  embedding,
  full,
  invertMask,
  LearnedPositionalEmbedding,
  Mask,
  mask,
  matmul,
  multiHeadAttention,
  ones,
  paddingMask,
  rand,
  randn,
  RelativePositionBias,
  Rng,
  rotaryFrequencies,
  scaledDotProductAttention,
  sinusoidalEncoding,
  Tensor,
  tensor,
  tiledAttention,
  zeros,
} from "../mod.ts";
import { checkSize, MAX_ELEMENTS } from "../lib/tensor/shape.ts";

const N = 100_000; // N × N = 10^10 elements, about 4.7 × the limit

/** The shared message: the function, the sizes, the element count and the limit. */
function tooBig(fn: string, sizes: string) {
  return new RegExp(
    `^RangeError: ${fn.replace(".", "\\.")}: .*${
      sizes.replace(/[[\]]/g, "\\$&")
    } has .*elements, ` +
      `more than 2\\^31-1 = 2147483647, the most one tensor or mask may hold$`,
  );
}

Deno.test("checkSize() counts without overflow and stops at 2^31 - 1", () => {
  assert.equal(MAX_ELEMENTS, 2 ** 31 - 1);
  assert.equal(checkSize([2 ** 31 - 1], "f", "x"), 2 ** 31 - 1);
  assert.equal(checkSize([46340, 46340], "f", "x"), 46340 * 46340);
  assert.equal(checkSize([], "f", "x"), 1);
  // A zero anywhere makes the count 0, however large the other sizes (no Infinity · 0 = NaN).
  assert.equal(checkSize([2 ** 52, 2 ** 52, 2 ** 52, 2 ** 52, 2 ** 52, 2 ** 52, 0], "f", "x"), 0);
  assert.throws(() => checkSize([2 ** 31], "f", "x"), tooBig("f", "[2147483648]"));
  assert.throws(() => checkSize([46341, 46341], "f", "x"), /has 2147488281 elements/);
  // 2^52 six times overflows a double's exponent: the message still reads as a count.
  assert.throws(
    () => checkSize(Array(21).fill(2 ** 52), "f", "x"),
    /f: x \[4503599627370496, .*\] has about Infinity elements, more than 2\^31-1/,
  );
  assert.throws(
    () => checkSize([2 ** 52, 2 ** 52, 2 ** 52], "f", "x"),
    /has about 9\.13e\+46 elements/,
  );
});

Deno.test("tensor and mask constructors refuse an impossible size at once", () => {
  const rng = new Rng(0);
  const shape = [N, N];
  const cases: [string, () => unknown][] = [
    ["zeros", () => zeros(shape)],
    ["ones", () => ones(shape)],
    ["full", () => full(shape, 2)],
    ["rand", () => rand(shape, rng)],
    ["randn", () => randn(shape, rng)],
    ["tensor", () => tensor([1], shape)],
    ["Tensor", () => new Tensor(new Float32Array(1), shape)],
    ["mask", () => mask([1], shape)],
    ["Mask", () => new Mask(new Uint8Array(1), shape)],
  ];
  for (const [fn, build] of cases) {
    assert.throws(build, tooBig(fn, "[100000, 100000]"), fn);
  }
});

Deno.test("mask builders refuse an impossible size before the fill loop", () => {
  assert.throws(() => causalMask(N), tooBig("causalMask", "[100000, 100000]"));
  assert.throws(() => causalMask(1, 2 ** 40), tooBig("causalMask", "[1, 1099511627776]"));
  assert.throws(() => paddingMask([1, 2], 2 ** 31), tooBig("paddingMask", "[2, 1, 1, 2147483648]"));
  const rows = mask(new Uint8Array(N).fill(1), [N, 1]);
  const cols = mask(new Uint8Array(N).fill(1), [1, N]);
  assert.throws(() => combineMasks(rows, cols), tooBig("combineMasks", "[100000, 100000]"));
  // The broadcast that fits still works.
  assert.equal(combineMasks(mask([1, 0], [2, 1]), mask([1, 1, 0], [1, 3])).countAllowed(), 2);
});

Deno.test("positional tables and biases refuse an impossible size at once", () => {
  assert.throws(() => sinusoidalEncoding(N, N), tooBig("sinusoidalEncoding", "[100000, 100000]"));
  assert.throws(() => alibiBias(8, N), tooBig("alibiBias", "[8, 100000, 100000]"));
  assert.throws(() => alibiSlopes(2 ** 32), tooBig("alibiSlopes", "[4294967296]"));
  assert.throws(() => rotaryFrequencies(2 ** 33), tooBig("rotaryFrequencies", "[4294967296]"));
  const rpb = new RelativePositionBias(2, { numBuckets: 8 });
  assert.throws(
    () => rpb.forward(N),
    tooBig("RelativePositionBias.forward", "[2, 100000, 100000]"),
  );
  assert.throws(() => rpb.buckets(N), tooBig("RelativePositionBias.buckets", "[100000, 100000]"));
  assert.throws(
    () => new RelativePositionBias(2 ** 30),
    tooBig("RelativePositionBias", "[32, 1073741824]"),
  );
  assert.throws(
    () => new LearnedPositionalEmbedding(N, N),
    tooBig("LearnedPositionalEmbedding", "[100000, 100000]"),
  );
});

Deno.test("embeddings refuse an impossible table or lookup at once", () => {
  assert.throws(() => new Embedding(N, N), tooBig("Embedding", "[100000, 100000]"));
  const ids = new Int32Array(2 ** 16); // 65536 ids of a 65536-wide table: 2^32 outputs
  assert.throws(() => embedding(ids, zeros([1, 2 ** 16])), tooBig("embedding", "[65536, 65536]"));
  const emb = new Embedding(1, 2 ** 16);
  assert.throws(() => emb.forward(ids), tooBig("Embedding.forward", "[65536, 65536]"));
});

Deno.test("attention and products refuse an impossible output before computing", () => {
  const col = zeros([N, 1]); // [T, 1]
  assert.throws(
    () => scaledDotProductAttention(col, col, col),
    tooBig("scaledDotProductAttention", "[100000, 100000]"),
  );
  assert.throws(
    () => dotProductAttention(col, col, col),
    tooBig("dotProductAttention", "[100000, 100000]"),
  );
  assert.throws(
    () =>
      additiveAttention(col, col, col, {
        wQuery: zeros([1, 1]),
        wKey: zeros([1, 1]),
        v: zeros([1]),
      }),
    tooBig("additiveAttention", "[100000, 100000]"),
  );
  // tiledAttention never builds Tq×Tk; its output [Tq, Dv] is what is too big here.
  assert.throws(
    () => tiledAttention(col, zeros([1, 1]), zeros([1, N])),
    tooBig("tiledAttention", "[100000, 100000]"),
  );
  const mha = multiHeadAttention({ dModel: 2, numHeads: 1 });
  const x = zeros([N, 2]); // [T, dModel], unbatched
  assert.throws(() => mha.forward(x, x, x), /more than 2\^31-1/);
  assert.throws(() => matmul(col, zeros([1, N])), tooBig("matmul", "[100000, 100000]"));
  assert.throws(() => add(col, zeros([1, N])), tooBig("add", "[100000, 100000]"));
});

Deno.test("Mask: a byte other than 0 or 1 is a RangeError naming its index and value", () => {
  assert.throws(
    () => new Mask(Uint8Array.of(2, 0), [1, 2]),
    /^RangeError: Mask: data\[0\] is 2; a mask holds only 0 \(blocked\) and 1 \(may attend\)$/,
  );
  // Unaligned views take the byte path, aligned ones the word path plus a tail.
  const buffer = new Uint8Array(64);
  buffer[37] = 255;
  assert.throws(() => new Mask(buffer.subarray(1, 40), [39]), /data\[36\] is 255/);
  assert.throws(() => new Mask(buffer.subarray(4, 40), [36]), /data\[33\] is 255/);
  assert.equal(new Mask(buffer.subarray(0, 37), [37]).countAllowed(), 0);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 70 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      (bytes, start, binary) => {
        if (binary) bytes = bytes.map((v) => v & 1);
        const view = bytes.subarray(Math.min(start, bytes.length));
        const bad = view.findIndex((v) => v > 1);
        if (bad < 0) {
          const m = new Mask(view, [view.length]);
          assert.equal(m.countAllowed(), view.reduce((s, v) => s + v, 0));
          assert.equal(invertMask(m).countAllowed(), view.length - m.countAllowed());
        } else {
          assert.throws(
            () => new Mask(view, [view.length]),
            new RegExp(`data\\[${bad}\\] is ${view[bad]};`),
          );
        }
      },
    ),
  );
});

Deno.test("every mask the library builds passes the 0/1 check", () => {
  const built = [
    causalMask(5, 7, { align: "bottom-right" }),
    paddingMask([0, 3, 5], 5),
    combineMasks(paddingMask([2, 3], 4), causalMask(4)),
    invertMask(causalMask(4)),
    mask([[true, false], [1, 0]]),
    causalMask(3).reshape([9]),
  ];
  for (const m of built) {
    assert.ok(m.data.every((v) => v === 0 || v === 1), m.toString());
    assert.doesNotThrow(() => new Mask(m.data, m.shape));
  }
});
