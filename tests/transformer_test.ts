import assert from "node:assert/strict";
import fc from "fast-check";
import { causalMask, paddingMask } from "../lib/attention/masks.ts";
import { loadSafetensors, saveSafetensors } from "../lib/io/safetensors.ts";
import { decoderLayer } from "../lib/models/decoder_layer.ts";
import { encoderLayer } from "../lib/models/encoder_layer.ts";
import { transformer } from "../lib/models/transformer.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn, type Tensor, zeros } from "../lib/tensor/tensor.ts";
import { assertClose, maxAbsDiff, maxRelDiff } from "../lib/testing/assert_close.ts";
import { loadFixture } from "./_fixtures.ts";

const fixture = loadFixture("transformer.safetensors");

function paramsOf(prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(fixture)) {
    if (k.startsWith(`${prefix}.param.`)) out[k.slice(prefix.length + 7)] = v;
  }
  return out;
}

const cases = [
  { prefix: "post_relu", normFirst: false, activation: "relu" as const },
  { prefix: "pre_gelu", normFirst: true, activation: "gelu" as const },
];

Deno.test("transformer() matches PyTorch nn.Transformer", async (t) => {
  for (const c of cases) {
    await t.step(c.prefix, () => {
      const model = transformer({
        dModel: 16,
        numHeads: 4,
        numEncoderLayers: 2,
        numDecoderLayers: 2,
        dFF: 32,
        dropout: 0,
        activation: c.activation,
        normFirst: c.normFirst,
      });
      model.loadStateDict(paramsOf(c.prefix));
      const src = fixture[`${c.prefix}.src`], tgt = fixture[`${c.prefix}.tgt`];
      const lengths = Array.from(fixture[`${c.prefix}.src_lengths`].data);
      const pad = paddingMask(lengths, src.shape[1]);
      const r = model.forward(src, tgt, {
        srcMask: pad,
        memoryMask: pad,
        tgtMask: causalMask(tgt.shape[1]),
      });
      const tol = { rtol: 2e-4, atol: 1e-5 };
      assertClose(r.memory, fixture[`${c.prefix}.memory`], tol);
      assertClose(r.output, fixture[`${c.prefix}.output`], tol);
      for (let i = 0; i < 2; i++) {
        assertClose(r.decoderCrossWeights[i], fixture[`${c.prefix}.cross_weights.${i}`], tol);
      }
      if (Deno.env.get("REPORT_ERRORS")) {
        const want = fixture[`${c.prefix}.output`];
        console.log(
          `${c.prefix}: output max abs ${maxAbsDiff(r.output, want).toExponential(2)}, max rel ${
            maxRelDiff(r.output, want).toExponential(2)
          }`,
        );
      }
    });
  }
});

Deno.test("transformer() stateDict round trip and safetensors are bit-identical", () => {
  const model = transformer({
    dModel: 16,
    numHeads: 4,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dFF: 32,
  });
  model.loadStateDict(paramsOf("post_relu"));
  const bytes = saveSafetensors(model.stateDict());
  const copy = transformer({
    dModel: 16,
    numHeads: 4,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dFF: 32,
    seed: 99,
  });
  copy.loadStateDict(loadSafetensors(bytes));
  const src = fixture["post_relu.src"], tgt = fixture["post_relu.tgt"];
  const a = model.forward(src, tgt, { tgtMask: causalMask(4) });
  const b = copy.forward(src, tgt, { tgtMask: causalMask(4) });
  assert.deepEqual(b.output.data, a.output.data);
  assert.equal(Object.keys(model.stateDict()).length, Object.keys(paramsOf("post_relu")).length);
});

Deno.test("transformer() checks its inputs at the edge", async (t) => {
  const model = transformer({
    dModel: 8,
    numHeads: 2,
    numEncoderLayers: 1,
    numDecoderLayers: 1,
    dFF: 8,
  });
  const src = zeros([2, 5, 8]), tgt = zeros([2, 3, 8]);
  await t.step("feature size", () => {
    assert.throws(
      () => model.forward(zeros([2, 5, 6]), tgt),
      /src must be \[B, T, dModel=8\] or unbatched \[T, dModel=8\], got \[2, 5, 6\]/,
    );
  });
  await t.step("batch sizes differ", () => {
    assert.throws(
      () => model.forward(src, zeros([3, 3, 8])),
      /src=\[2, 5, 8\] and tgt=\[3, 3, 8\] must have the same batch size/,
    );
  });
  await t.step("masks of the wrong shape", () => {
    assert.throws(
      () => model.forward(src, tgt, { tgtMask: causalMask(5) }),
      /tgtMask=\[5, 5\] must broadcast against the scores \[B=2, H=2, Tq=3, Tk=3\]/,
    );
    assert.throws(
      () => model.forward(src, tgt, { memoryMask: paddingMask([1, 2, 3], 5) }),
      /memoryMask=\[3, 1, 1, 5\]/,
    );
  });
  await t.step("bad config", () => {
    assert.throws(() => transformer({ dModel: 10, numHeads: 3 }), /divisible by numHeads=3/);
    assert.throws(
      () => transformer({ dModel: 8, numHeads: 2, activation: "tanh" as "relu" }),
      /activation must be one of "relu", "gelu", got "tanh" \(a string\)/,
    );
  });
  await t.step("loadStateDict names the key and shapes", () => {
    const dict = model.stateDict();
    dict["encoder.layers.0.linear1.weight"] = zeros([3, 3]);
    assert.throws(
      () => model.loadStateDict(dict),
      /encoder\.layers\.0\.linear1\.weight has shape \[3, 3\], expected \[8, 8\]/,
    );
    delete dict["encoder.layers.0.linear1.weight"];
    assert.throws(
      () => model.loadStateDict(dict),
      /missing keys: encoder\.layers\.0\.linear1\.weight/,
    );
  });
});

Deno.test("decoder output at position i ignores target positions after i", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 0, max: 4 }), (seed, i) => {
      const model = transformer({
        dModel: 8,
        numHeads: 2,
        numEncoderLayers: 1,
        numDecoderLayers: 2,
        dFF: 16,
        seed: 3,
      });
      const rng = new Rng(seed);
      const src = randn([1, 4, 8], rng), tgt = randn([1, 5, 8], rng);
      const changed = tgt.clone();
      const noise = randn([1, 5, 8], rng);
      changed.data.set(noise.data.subarray((i + 1) * 8), (i + 1) * 8);
      const a = model.forward(src, tgt, { tgtMask: causalMask(5) }).output;
      const b = model.forward(src, changed, { tgtMask: causalMask(5) }).output;
      // The residual path carries only position i's own input, so nothing leaks.
      assert.deepEqual(b.data.subarray(0, (i + 1) * 8), a.data.subarray(0, (i + 1) * 8));
    }),
    { numRuns: 20 },
  );
});

Deno.test("encoder outputs at real positions ignore padded tokens", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 5 }), (seed, len) => {
      const model = transformer({
        dModel: 8,
        numHeads: 2,
        numEncoderLayers: 2,
        numDecoderLayers: 1,
        dFF: 16,
      });
      const rng = new Rng(seed);
      const src = randn([1, 6, 8], rng);
      const changed = src.clone();
      changed.data.set(randn([1, 6, 8], rng).data.subarray(len * 8), len * 8);
      const pad = paddingMask([len], 6);
      const tgt = randn([1, 2, 8], rng);
      const a = model.forward(src, tgt, { srcMask: pad, memoryMask: pad });
      const b = model.forward(changed, tgt, { srcMask: pad, memoryMask: pad });
      assert.deepEqual(b.memory.data.subarray(0, len * 8), a.memory.data.subarray(0, len * 8));
      assert.deepEqual(b.output.data, a.output.data);
    }),
    { numRuns: 20 },
  );
});

Deno.test("encoderLayer()/decoderLayer(): dropout only in training mode", () => {
  const layer = encoderLayer({ dModel: 8, numHeads: 2, dFF: 16, dropout: 0.5 });
  const x = randn([1, 4, 8], new Rng(1));
  const a = layer.forward(x).output, b = layer.forward(x).output;
  assert.deepEqual(a.data, b.data);
  layer.train();
  const c = layer.forward(x).output;
  assert.notDeepEqual(c.data, a.data);
  assert.ok(layer.feedForward.training && layer.selfAttn.training);
  layer.eval();
  assert.deepEqual(layer.forward(x).output.data, a.data);
  const dec = decoderLayer({ dModel: 8, numHeads: 2, dFF: 16 });
  assert.throws(
    () => dec.forward(x, randn([2, 3, 8], new Rng(0))),
    /must have the same batch size/,
  );
  assert.throws(() => dec.forward(x, x, { tgtMask: causalMask(2) }), /tgtMask=\[2, 2\]/);
});

Deno.test("EncoderLayer.forward({ needWeights: false }): same output, no weights", () => {
  const rng = new Rng(5);
  for (const normFirst of [false, true]) {
    const layer = encoderLayer({ dModel: 32, numHeads: 4, dFF: 64, normFirst, seed: 2 });
    layer.eval();
    const x = randn([2, 40, 32], rng);
    const mask = paddingMask([40, 25], 40);
    const full = layer.forward(x, { mask });
    const lean = layer.forward(x, { mask, needWeights: false });
    assert.equal(lean.selfWeights, undefined);
    assert.deepEqual(lean.output.data, full.output.data);
  }
  const layer = encoderLayer({ dModel: 8, numHeads: 2, dFF: 16 });
  assert.throws(
    // @ts-expect-error: a string is not a boolean
    () => layer.forward(randn([1, 3, 8], rng), { needWeights: "false" }),
    (e: unknown) =>
      e instanceof TypeError &&
      /EncoderLayer.forward: needWeights must be a boolean/.test(e.message),
  );
});
