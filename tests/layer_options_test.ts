// Layer options are type-checked, never coerced: a string where a boolean or a number belongs
// is an error that shows the value with its quotes and its type.
import assert from "node:assert/strict";
import {
  alibiBias,
  applyRotary,
  batchNorm,
  Embedding,
  gelu,
  LayerNorm,
  layerNorm,
  LearnedPositionalEmbedding,
  RelativePositionBias,
  relativePositionBucket,
  RMSNorm,
  rmsNorm,
  rotaryFrequencies,
  sinusoidalEncoding,
  tensor,
  zeros,
} from "../mod.ts";

type Case = [string, () => unknown, ErrorConstructor, RegExp];

// deno-lint-ignore no-explicit-any
const bad = (v: unknown) => v as any;
const x = tensor([[1, 2, 3, 4], [0, 1, 0, 1]]); // [2, 4]

const cases: Case[] = [
  [
    "LayerNorm elementwiseAffine",
    () => new LayerNorm(4, { elementwiseAffine: bad("false") }),
    TypeError,
    /^LayerNorm: elementwiseAffine must be a boolean, got "false" \(a string\)$/,
  ],
  [
    "LayerNorm eps",
    () => new LayerNorm(4, { eps: bad("1e-5") }),
    TypeError,
    /^LayerNorm: eps must be a number, got "1e-5" \(a string\)$/,
  ],
  [
    "LayerNorm options",
    () => new LayerNorm(4, bad(null)),
    TypeError,
    /^LayerNorm: options must be an object, got null$/,
  ],
  ["layerNorm eps", () => layerNorm(x, { eps: bad("0.1") }), TypeError, /got "0\.1" \(a string\)/],
  ["RMSNorm eps", () => new RMSNorm(4, { eps: bad("1") }), TypeError, /^RMSNorm: eps .*"1"/],
  ["rmsNorm eps", () => rmsNorm(x, { eps: bad(true) }), TypeError, /got true \(a boolean\)/],
  ["batchNorm eps", () => batchNorm(x, { eps: bad("1") }), TypeError, /^batchNorm: eps .*"1"/],
  [
    "Embedding scaleByDModel",
    () => new Embedding(5, 3, { scaleByDModel: bad("true") }),
    TypeError,
    /^Embedding: scaleByDModel must be a boolean, got "true" \(a string\)$/,
  ],
  [
    "Embedding scaleByDModel 1",
    () => new Embedding(5, 3, { scaleByDModel: bad(1) }),
    TypeError,
    /scaleByDModel must be a boolean, got 1 \(a number\)|got 1$/,
  ],
  [
    "Embedding paddingIdx",
    () => new Embedding(5, 3, { paddingIdx: bad("1") }),
    TypeError,
    /^Embedding: paddingIdx must be an integer in \[-5, 5\).*got "1" \(a string\)$/,
  ],
  [
    "Embedding seed",
    () => new Embedding(5, 3, { seed: bad("1") }),
    TypeError,
    /^Embedding: seed must be an integer, got "1" \(a string\)$/,
  ],
  // Sizes share the models' rule: a RangeError that still shows the quotes and the type.
  [
    "Embedding numEmbeddings",
    () => new Embedding(bad("8"), 3),
    TypeError,
    /^Embedding: numEmbeddings must be a positive integer, got "8" \(a string\)$/,
  ],
  [
    "Embedding dim",
    () => new Embedding(8, 2.5),
    RangeError,
    /^Embedding: dim must be a positive integer, got 2\.5$/,
  ],
  [
    "sinusoidalEncoding base",
    () => sinusoidalEncoding(4, 4, { base: bad("10000") }),
    TypeError,
    /^sinusoidalEncoding: base must be a number, got "10000" \(a string\)$/,
  ],
  [
    "sinusoidalEncoding dModel",
    () => sinusoidalEncoding(4, bad("4")),
    TypeError,
    /dModel must be a positive integer, got "4" \(a string\)/,
  ],
  [
    "LearnedPositionalEmbedding seed",
    () => new LearnedPositionalEmbedding(3, 2, { seed: bad(1.5) }),
    TypeError,
    /^LearnedPositionalEmbedding: seed must be an integer, got 1\.5$/,
  ],
  [
    "LearnedPositionalEmbedding.forward offset",
    () => new LearnedPositionalEmbedding(3, 2).forward(zeros([1, 2, 2]), { offset: bad("1") }),
    TypeError,
    /^LearnedPositionalEmbedding\.forward: offset must be a non-negative integer, got "1" \(a string\)$/,
  ],
  [
    "applyRotary style",
    () => applyRotary(x, { style: bad(true) }),
    RangeError,
    /^applyRotary: style must be one of "interleaved", "half", got true \(a boolean\)$/,
  ],
  [
    "applyRotary base",
    () => applyRotary(x, { base: bad("10000") }),
    TypeError,
    /^applyRotary: base must be a number, got "10000" \(a string\)$/,
  ],
  [
    "applyRotary positions",
    () => applyRotary(x, { positions: bad(["0", 1]) }),
    TypeError,
    /^applyRotary: positions\[0\] must be a finite number, got "0" \(a string\)$/,
  ],
  [
    "rotaryFrequencies base",
    () => rotaryFrequencies(4, { base: bad("100") }),
    TypeError,
    /^rotaryFrequencies: base must be a number, got "100" \(a string\)$/,
  ],
  [
    "alibiBias align",
    () => alibiBias(2, 3, 3, { align: bad("left") }),
    RangeError,
    /^alibiBias: align must be one of "top-left", "bottom-right", got "left" \(a string\)$/,
  ],
  [
    "RelativePositionBias bidirectional",
    () => new RelativePositionBias(2, { bidirectional: bad("false") }),
    TypeError,
    /^RelativePositionBias: bidirectional must be a boolean, got "false" \(a string\)$/,
  ],
  [
    "relativePositionBucket bidirectional",
    () => relativePositionBucket(3, { bidirectional: bad(0) }),
    TypeError,
    /^relativePositionBucket: bidirectional must be a boolean, got 0/,
  ],
  [
    "RelativePositionBias numBuckets",
    () => new RelativePositionBias(2, { numBuckets: bad("32") }),
    TypeError,
    /numBuckets must be a positive integer, got "32" \(a string\)/,
  ],
  [
    "RelativePositionBias seed",
    () => new RelativePositionBias(2, { seed: bad("3") }),
    TypeError,
    /^RelativePositionBias: seed must be an integer, got "3" \(a string\)$/,
  ],
  [
    "RelativePositionBias.forward align",
    () => new RelativePositionBias(2).forward(3, 3, { align: bad(1) }),
    RangeError,
    /^RelativePositionBias\.forward: align must be one of .*got 1$/,
  ],
  [
    "gelu approximate",
    () => gelu(x, { approximate: bad("Tanh") }),
    RangeError,
    /^gelu: approximate must be "none" or "tanh", got "Tanh" \(a string\)$/,
  ],
  ["gelu options", () => gelu(x, bad(7)), TypeError, /^gelu: options must be an object, got 7$/],
];

Deno.test("layer options: wrong types are errors that show the value and its type", async (t) => {
  for (const [name, call, type, message] of cases) {
    await t.step(name, () => {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof type, `${name}: ${e} is not a ${type.name}`);
        assert.match((e as Error).message, message);
        return true;
      });
    });
  }
});

Deno.test("layer options: the same options with the right types work", () => {
  assert.equal(new LayerNorm(4, { elementwiseAffine: false, eps: 1e-5 }).weight, null);
  assert.ok(new Embedding(5, 3, { scaleByDModel: true, paddingIdx: 1, seed: 1 }).scaleByDModel);
  assert.deepEqual(sinusoidalEncoding(4, 4, { base: 100 }).shape, [4, 4]);
  assert.deepEqual(applyRotary(x, { style: "half", base: 100, positions: [0, 1] }).shape, [2, 4]);
  assert.deepEqual(alibiBias(2, 3, 3, { align: "bottom-right" }).shape, [2, 3, 3]);
  assert.equal(relativePositionBucket(3, { bidirectional: false }), 0);
  assert.deepEqual(
    new LearnedPositionalEmbedding(3, 2).forward(zeros([1, 2, 2]), { offset: 1 }).shape,
    [1, 2, 2],
  );
  assert.deepEqual(gelu(x, { approximate: "tanh" }).shape, [2, 4]);
});
