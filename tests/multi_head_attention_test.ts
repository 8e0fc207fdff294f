import assert from "node:assert/strict";
import fc from "fast-check";
import {
  causalMask,
  fromTorchAttnMask,
  fromTorchKeyPaddingMask,
  paddingMask,
} from "../lib/attention/masks.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { readSafetensorsMetadata } from "../lib/io/safetensors.ts";
import { Module } from "../lib/layers/module.ts";
import { linear } from "../lib/layers/linear.ts";
import {
  averageHeads,
  KVCache,
  type MultiHeadAttention,
  multiHeadAttention,
  type MultiHeadAttentionOptions,
} from "../lib/models/multi_head_attention.ts";
import type { Mask } from "../lib/tensor/mask.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { softmax } from "../lib/tensor/softmax.ts";
import { randn, Tensor, zeros } from "../lib/tensor/tensor.ts";
import { assertClose, maxAbsDiff, maxRelDiff } from "../lib/testing/assert_close.ts";
import { loadFixture, toMask } from "./_fixtures.ts";

// Golden comparisons against PyTorch float32: |ours - torch| <= ATOL + RTOL * |torch|.
// Our matmuls accumulate in float64, PyTorch's in float32, so the two differ by
// float32 rounding; ATOL covers weights and outputs that are near zero.
const RTOL = 1e-5;
const ATOL = 1e-6;
const TOL = { rtol: RTOL, atol: ATOL };

/** An environment variable, or undefined when unset or not permitted (`--allow-env`). */
function env(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** Rows `start..end` of a `[R, C]` or `[R]` tensor (a head's slice of a projection). */
function sliceRows(t: Tensor, start: number, end: number): Tensor {
  const width = t.rank === 2 ? t.shape[1] : 1;
  const data = t.data.slice(start * width, end * width);
  return new Tensor(data, t.rank === 2 ? [end - start, width] : [end - start]);
}

/** Concatenates tensors `[..., Di]` along the last axis. */
function concatLast(parts: Tensor[]): Tensor {
  const lead = parts[0].shape.slice(0, -1);
  const widths = parts.map((p) => p.shape[p.rank - 1]);
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = parts[0].size / widths[0];
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let col = 0;
    parts.forEach((p, i) => {
      out.set(p.data.subarray(r * widths[i], (r + 1) * widths[i]), r * total + col);
      col += widths[i];
    });
  }
  return new Tensor(out, [...lead, total]);
}

/**
 * Fills every parameter with random values, biases included (PyTorch's zero biases
 * would hide bias bugs): weights N(0, 1/in) so activations stay O(1), biases N(0, 1).
 */
function randomize(mha: MultiHeadAttention, rng: Rng): MultiHeadAttention {
  const sd = mha.stateDict();
  for (const [key, p] of Object.entries(sd)) {
    const std = p.rank === 2 ? 1 / Math.sqrt(p.shape[1]) : 1;
    sd[key] = new Tensor(randn(p.shape, rng).data.map((v) => v * std), p.shape);
  }
  return mha.loadStateDict(sd);
}

/** Rows of the time axis `start..end` of `[B, T, D]`. */
function sliceTime(x: Tensor, start: number, end: number): Tensor {
  const [b, t, d] = x.shape;
  const out = new Float32Array(b * (end - start) * d);
  for (let i = 0; i < b; i++) {
    out.set(x.data.subarray((i * t + start) * d, (i * t + end) * d), i * (end - start) * d);
  }
  return new Tensor(out, [b, end - start, d]);
}

const bitsEqual = (a: Tensor, b: Tensor): boolean =>
  a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]) &&
  new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength).every((v, i) =>
    v === new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength)[i]
  );

Deno.test("multiHeadAttention() matches PyTorch nn.MultiheadAttention", async (t) => {
  const url = new URL("./fixtures/mha.safetensors", import.meta.url);
  const fixture = loadFixture("mha.safetensors");
  const configs = readSafetensorsMetadata(Deno.readFileSync(url));
  const report: string[] = [];
  for (const [name, json] of Object.entries(configs)) {
    await t.step(`forward() matches PyTorch: ${name}`, () => {
      const config = JSON.parse(json) as MultiHeadAttentionOptions & { attnMask?: string };
      const mha = multiHeadAttention({
        dModel: config.dModel,
        numHeads: config.numHeads,
        kDim: config.kDim,
        vDim: config.vDim,
        bias: config.bias,
        seed: 99, // overwritten by the checkpoint
      });
      const prefix = `${name}.state.`;
      const state = Object.fromEntries(
        Object.entries(fixture).filter(([k]) => k.startsWith(prefix)).map((
          [k, v],
        ) => [k.slice(prefix.length), v]),
      );
      mha.loadStateDict(state);
      // The checkpoint comes back out under the same names, bit for bit.
      const back = mha.stateDict();
      assert.deepEqual(Object.keys(back), Object.keys(state).sort((a, b) => order(a) - order(b)));
      for (const key of Object.keys(state)) assert.ok(bitsEqual(back[key], state[key]), key);

      // PyTorch masks are `true` = blocked; the converters flip them.
      let mask: Mask | undefined;
      const attnMask = fixture[`${name}.attn_mask`];
      if (attnMask) {
        mask = config.attnMask === "bool"
          ? fromTorchAttnMask(toMask(attnMask), { numHeads: config.numHeads })
          : fromTorchAttnMask(attnMask);
      }
      const kpm = fixture[`${name}.key_padding_mask`];
      if (kpm) mask = fromTorchKeyPaddingMask(toMask(kpm));

      const q = fixture[`${name}.query`], k = fixture[`${name}.key`], v = fixture[`${name}.value`];
      const { output, weights } = mha.forward(q, k, v, { mask });
      const wantOutput = fixture[`${name}.output`], wantWeights = fixture[`${name}.weights`];
      assertClose(output, wantOutput, { ...TOL, message: `${name}: output` });
      assertClose(weights, wantWeights, { ...TOL, message: `${name}: per-head weights` });
      const averaged = mha.forward(q, k, v, { mask, averageWeights: true }).weights;
      assertClose(averaged, fixture[`${name}.averaged`], { ...TOL, message: `${name}: averaged` });
      assertClose(averageHeads(weights), fixture[`${name}.averaged`], TOL);
      report.push(
        `${name}: output max abs ${maxAbsDiff(output, wantOutput).toExponential(2)}, rel ${
          maxRelDiff(output, wantOutput).toExponential(2)
        }; weights max abs ${maxAbsDiff(weights, wantWeights).toExponential(2)}, rel ${
          maxRelDiff(weights, wantWeights).toExponential(2)
        }`,
      );
    });
  }
  assert.equal(report.length, 6, "expected six PyTorch cases in mha.safetensors");
  if (env("REPORT_ERRORS")) console.log(report.join("\n"));
});

/** PyTorch's state_dict order: projections, input bias, output projection. */
function order(key: string): number {
  return [
    "in_proj_weight",
    "q_proj_weight",
    "k_proj_weight",
    "v_proj_weight",
    "in_proj_bias",
    "out_proj.weight",
    "out_proj.bias",
  ].indexOf(key);
}

Deno.test("MultiHeadAttention construction", async (t) => {
  await t.step("multiHeadAttention() names parameters after the paper, in [out, in] layout", () => {
    const mha = multiHeadAttention({ dModel: 8, numHeads: 4, kDim: 6, vDim: 5 });
    const shapes = Object.fromEntries(
      Object.entries(mha.parameters()).map(([k, p]) => [k, p.shape]),
    );
    assert.deepEqual(shapes, {
      queryWeight: [8, 8],
      keyWeight: [8, 6],
      valueWeight: [8, 5],
      outputWeight: [8, 8],
      queryBias: [8],
      keyBias: [8],
      valueBias: [8],
      outputBias: [8],
    });
    assert.equal(mha.headDim, 2);
    assert.equal(mha.numParameters(), 64 + 48 + 40 + 64 + 32);
  });

  await t.step("multiHeadAttention() initialises like PyTorch: xavier bounds, zero biases", () => {
    const within = (x: Tensor, bound: number) => x.data.every((v) => Math.abs(v) <= bound);
    const packed = multiHeadAttention({ dModel: 16, numHeads: 4, seed: 1 });
    // xavier over the stacked [3E, E] in_proj_weight: √(6 / (E + 3E))
    const b = Math.sqrt(6 / (16 + 48));
    for (const w of [packed.queryWeight, packed.keyWeight, packed.valueWeight]) {
      assert.ok(within(w, b));
      assert.ok(w.data.some((v) => Math.abs(v) > b / 2), "weights should fill the range");
    }
    assert.ok(within(packed.outputWeight, 1 / 4));
    for (
      const bias of [packed.queryBias!, packed.keyBias!, packed.valueBias!, packed.outputBias!]
    ) {
      assert.ok(bias.data.every((v) => v === 0));
    }
    const separate = multiHeadAttention({ dModel: 16, numHeads: 4, kDim: 2, seed: 1 });
    assert.ok(within(separate.keyWeight, Math.sqrt(6 / (16 + 2))));
    assert.ok(separate.keyWeight.data.some((v) => Math.abs(v) > Math.sqrt(6 / 64)));
  });

  await t.step("multiHeadAttention() is reproducible from its seed", () => {
    const a = multiHeadAttention({ dModel: 8, numHeads: 2, seed: 5 });
    const b = multiHeadAttention({ dModel: 8, numHeads: 2, seed: 5 });
    const c = multiHeadAttention({ dModel: 8, numHeads: 2, seed: 6 });
    assert.deepEqual(a.queryWeight.data, b.queryWeight.data);
    assert.notDeepEqual(a.queryWeight.data, c.queryWeight.data);
  });

  await t.step("multiHeadAttention() rejects invalid sizes with a RangeError", () => {
    assert.throws(
      () => multiHeadAttention({ dModel: 10, numHeads: 4 }),
      new RangeError(
        "multiHeadAttention: dModel must be divisible by numHeads, got dModel=10, numHeads=4",
      ),
    );
    assert.throws(
      () => multiHeadAttention({ dModel: 12, numHeads: 6, numKvHeads: 4 }),
      /numKvHeads must divide numHeads, got numHeads=6, numKvHeads=4/,
    );
    assert.throws(
      () => multiHeadAttention({ dModel: 0, numHeads: 1 }),
      /dModel must be a positive integer, got 0/,
    );
    assert.throws(() => multiHeadAttention({ dModel: 8, numHeads: -2 }), RangeError);
    assert.throws(() => multiHeadAttention({ dModel: 8, numHeads: 2, kDim: 1.5 }), /kDim/);
    assert.throws(
      () => multiHeadAttention({ dModel: 8, numHeads: 2, numKvHeads: 0 }),
      /numKvHeads/,
    );
    assert.throws(() => multiHeadAttention({ dModel: 8, numHeads: 2, dropout: 1 }), /dropout/);
  });
});

Deno.test("MultiHeadAttention.forward()", async (t) => {
  const rng = new Rng(7);
  const mha = randomize(multiHeadAttention({ dModel: 8, numHeads: 2, kDim: 6, vDim: 4 }), rng);
  const x = randn([2, 3, 8], rng), mem = randn([2, 5, 6], rng), val = randn([2, 5, 4], rng);

  await t.step("forward() returns [B, Tq, E] output and [B, H, Tq, Tk] weights", () => {
    const { output, weights, trace } = mha.forward(x, mem, val);
    assert.deepEqual(output.shape, [2, 3, 8]);
    assert.deepEqual(weights.shape, [2, 2, 3, 5]);
    assert.equal(trace, undefined);
  });

  await t.step("forward() on unbatched inputs equals the batch of one", () => {
    const first = (t: Tensor) => new Tensor(t.data.slice(0, t.size / 2), t.shape.slice(1));
    const batched = mha.forward(x, mem, val);
    const single = mha.forward(first(x), first(mem), first(val));
    assert.deepEqual(single.output.shape, [3, 8]);
    assert.deepEqual(single.weights.shape, [2, 3, 5]);
    assertClose(single.output, first(batched.output), TOL);
    assertClose(single.weights, first(batched.weights), TOL);
  });

  await t.step("forward() trace holds per-head Q, K, V, pre-mask scores and the concat", () => {
    const m = paddingMask([5, 2], 5);
    const { output, weights, trace } = mha.forward(x, mem, val, { mask: m, trace: true });
    assert.ok(trace);
    assert.deepEqual(trace.query.shape, [2, 2, 3, 4]);
    assert.deepEqual(trace.key.shape, [2, 2, 5, 4]);
    assert.deepEqual(trace.value.shape, [2, 2, 5, 4]); // vDim=4 is projected to Dh=4
    assert.deepEqual(trace.scores.shape, [2, 2, 3, 5]);
    assert.deepEqual(trace.concat.shape, [2, 3, 8]);
    // scores are pre-mask: finite where the mask blocks
    assert.ok(Number.isFinite(trace.scores.get(1, 0, 0, 4)));
    assert.equal(weights.get(1, 0, 0, 4), 0);
    // scores = Q·Kᵀ/√Dh, and the output is the projected concat
    const scores = scaledDotProductAttention(trace.query, trace.key, trace.value, {
      returnScores: true,
    }).scores!;
    assertClose(trace.scores, scores, TOL);
    assertClose(output, linear(trace.concat, mha.outputWeight, mha.outputBias), TOL);
  });

  await t.step("forward() softmax of the masked scores gives the weights", () => {
    const m = causalMask(3, 5, { align: "bottom-right" });
    const { weights, trace } = mha.forward(x, mem, val, { mask: m, trace: true });
    const masked = new Tensor(
      trace!.scores.data.map((s, i) => m.data[i % 15] ? s : -Infinity),
      trace!.scores.shape,
    );
    assertClose(weights, softmax(masked), TOL);
  });

  await t.step("forward() adds a score bias broadcast over batch and heads", () => {
    const bias = randn([3, 5], rng);
    const { trace } = mha.forward(x, mem, val, { bias, trace: true });
    const plain = mha.forward(x, mem, val, { trace: true }).trace!;
    const delta = trace!.scores.data.map((s, i) => s - plain.scores.data[i]);
    assertClose(
      new Tensor(delta, trace!.scores.shape).reshape([4, 15]).toArray() as number[][],
      [
        ...Array(4),
      ].map(() => [...bias.data]),
      { atol: 1e-5 },
    );
  });

  await t.step("forward() averageWeights matches averageHeads()", () => {
    const { weights } = mha.forward(x, mem, val);
    const avg = mha.forward(x, mem, val, { averageWeights: true }).weights;
    assert.deepEqual(avg.shape, [2, 3, 5]);
    assert.deepEqual(avg.data, averageHeads(weights).data);
  });

  await t.step("forward() gives a fully masked query weights 0 and output = outputBias", () => {
    const m = new Tensor(new Float32Array(15).fill(1), [3, 5]);
    m.data.fill(0, 5, 10); // query 1 may attend to nothing
    const blocked = toMask(m);
    const { output, weights } = mha.forward(x, mem, val, { mask: blocked });
    assert.ok(output.data.every(Number.isFinite));
    assert.deepEqual([...weights.data.slice(5, 10)], [0, 0, 0, 0, 0]);
    assertClose(output.data.slice(8, 16), mha.outputBias!.data, TOL);
  });

  await t.step("forward() rejects wrong feature sizes, naming expected and actual shapes", () => {
    assert.throws(
      () => mha.forward(randn([2, 3, 7], rng), mem, val),
      new RangeError(
        "MultiHeadAttention.forward: query must be [B, Tq, dModel=8] or [Tq, dModel=8] unbatched, got query=[2, 3, 7]",
      ),
    );
    assert.throws(
      () => mha.forward(x, randn([2, 5, 8], rng), val),
      /key must be \[B, Tk, kDim=6\] .*got key=\[2, 5, 8\]/,
    );
    assert.throws(
      () => mha.forward(x, mem, randn([2, 5, 6], rng)),
      /value must be \[B, Tk, vDim=4\]/,
    );
    assert.throws(
      () => mha.forward(x, mem, randn([2, 4, 4], rng)),
      /same batch size and length Tk/,
    );
    assert.throws(
      () => mha.forward(x, randn([3, 5, 6], rng), randn([3, 5, 4], rng)),
      /batch sizes differ/,
    );
    assert.throws(() => mha.forward(zeros([8]), mem, val), /got query=\[8\]/);
    assert.throws(() => mha.forward(x, mem, val, { mask: "causal" as unknown as Mask }), TypeError);
  });

  await t.step("forward() rejects a mask that does not broadcast against [B, H, Tq, Tk]", () => {
    assert.throws(
      () => mha.forward(x, mem, val, { mask: paddingMask([5, 5, 5], 5) }),
      new RangeError(
        "MultiHeadAttention.forward: mask=[3, 1, 1, 5] must broadcast against the scores [B=2, H=2, Tq=3, Tk=5]: aligned from the right, each size must equal the score's or be 1, with no more axes than the scores",
      ),
    );
    assert.throws(() => mha.forward(x, mem, val, { mask: causalMask(3) }), /mask=\[3, 3\]/);
    assert.throws(() => mha.forward(x, mem, val, { bias: zeros([1, 1, 2, 3, 5]) }), /bias=/);
  });

  await t.step("forward() applies seeded dropout to the weights only in training mode", () => {
    const make = () =>
      randomize(multiHeadAttention({ dModel: 8, numHeads: 2, dropout: 0.5, seed: 3 }), new Rng(1));
    const a = make(), b = make();
    const inference = a.forward(x, x, x);
    assert.equal(a.training, false);
    a.train();
    b.train();
    const trainedA = a.forward(x, x, x), trainedB = b.forward(x, x, x);
    assert.deepEqual(trainedA.weights.data, trainedB.weights.data, "same seed, same dropout");
    const zerosDropped = trainedA.weights.data.filter((w, i) =>
      w === 0 && inference.weights.data[i] > 0
    );
    assert.ok(zerosDropped.length > 0, "some weights are dropped");
    trainedA.weights.data.forEach((w, i) => {
      if (w !== 0) {
        assert.ok(
          Math.abs(w - 2 * inference.weights.data[i]) < 1e-6,
          "kept weights scale by 1/(1-p)",
        );
      }
    });
    a.eval();
    assert.deepEqual(a.forward(x, x, x).output.data, inference.output.data);
  });
});

Deno.test("MultiHeadAttention KV cache", async (t) => {
  await t.step("createCache() decoding in chunks equals one causal pass", () => {
    const rng = new Rng(11);
    const mha = randomize(multiHeadAttention({ dModel: 12, numHeads: 4, numKvHeads: 2 }), rng);
    const x = randn([2, 7, 12], rng);
    const full = mha.forward(x, x, x, { mask: causalMask(7), trace: true });
    const cache = mha.createCache();
    let start = 0;
    for (const size of [3, 1, 2, 1]) {
      const chunk = sliceTime(x, start, start + size);
      const mask = causalMask(size, start + size, { align: "bottom-right" });
      const step = mha.forward(chunk, chunk, chunk, { cache, mask });
      assertClose(step.output, sliceTime(full.output, start, start + size), TOL);
      start += size;
    }
    assert.equal(cache.length, 7);
    assertClose(cache.key!, full.trace!.key, TOL);
    assertClose(cache.value!, full.trace!.value, TOL);
  });

  await t.step("KVCache rejects another batch size or head layout", () => {
    const mha = multiHeadAttention({ dModel: 4, numHeads: 2 });
    const cache = mha.createCache();
    const x = zeros([2, 1, 4]);
    mha.forward(x, x, x, { cache });
    assert.throws(
      () => mha.forward(zeros([3, 1, 4]), zeros([3, 1, 4]), zeros([3, 1, 4]), { cache }),
      /cache\.reset\(\)/,
    );
    cache.reset();
    assert.equal(cache.length, 0);
    mha.forward(zeros([3, 1, 4]), zeros([3, 1, 4]), zeros([3, 1, 4]), { cache });
    assert.equal(cache.length, 1);
    assert.throws(() => mha.forward(x, x, x, { cache: new KVCache(1, 2) }), /createCache\(\)/);
    assert.throws(() => new KVCache(0, 2), RangeError);
  });
});

Deno.test("MultiHeadAttention state dict", async (t) => {
  await t.step("stateDict() uses PyTorch names for each layout", () => {
    const keys = (o: MultiHeadAttentionOptions) => Object.keys(multiHeadAttention(o).stateDict());
    assert.deepEqual(keys({ dModel: 4, numHeads: 2 }), [
      "in_proj_weight",
      "in_proj_bias",
      "out_proj.weight",
      "out_proj.bias",
    ]);
    assert.deepEqual(keys({ dModel: 4, numHeads: 2, bias: false }), [
      "in_proj_weight",
      "out_proj.weight",
    ]);
    assert.deepEqual(keys({ dModel: 4, numHeads: 2, vDim: 3 }), [
      "q_proj_weight",
      "k_proj_weight",
      "v_proj_weight",
      "in_proj_bias",
      "out_proj.weight",
      "out_proj.bias",
    ]);
    assert.deepEqual(keys({ dModel: 4, numHeads: 2, numKvHeads: 1 }), [
      "q_proj_weight",
      "k_proj_weight",
      "v_proj_weight",
      "q_proj_bias",
      "k_proj_bias",
      "v_proj_bias",
      "out_proj.weight",
      "out_proj.bias",
    ]);
  });

  await t.step("stateDict() stacks q, k, v into in_proj_weight in that order", () => {
    const mha = randomize(multiHeadAttention({ dModel: 4, numHeads: 2 }), new Rng(2));
    const sd = mha.stateDict();
    assert.deepEqual(sd.in_proj_weight.data.slice(16, 32), mha.keyWeight.data);
    assert.deepEqual(sd.in_proj_bias.data.slice(8, 12), mha.valueBias!.data);
    sd.in_proj_weight.data[0] = 123; // a copy, not a view
    assert.notEqual(mha.queryWeight.data[0], 123);
  });

  await t.step("loadStateDict() names a missing, unexpected or mis-shaped key", () => {
    const mha = multiHeadAttention({ dModel: 4, numHeads: 2 });
    const sd = mha.stateDict();
    const { in_proj_bias: _, ...missing } = sd;
    assert.throws(() => mha.loadStateDict(missing), /missing keys: in_proj_bias/);
    assert.throws(
      () => mha.loadStateDict({ ...sd, bias_k: zeros([1, 1, 4]) }),
      /unexpected keys: bias_k/,
    );
    assert.throws(
      () => mha.loadStateDict({ ...sd, in_proj_weight: zeros([12, 3]) }),
      new RangeError(
        "MultiHeadAttention.loadStateDict: in_proj_weight has shape [12, 3], expected [12, 4]",
      ),
    );
    assert.throws(
      () => mha.loadStateDict({ ...sd, "out_proj.bias": zeros([5]) }),
      /out_proj\.bias has shape \[5\], expected \[4\]/,
    );
    mha.loadStateDict(missing, { strict: false }); // partial loads are allowed when not strict
  });

  await t.step("loadStateDict() works inside a larger model under PyTorch's prefixes", () => {
    class Layer extends Module {
      readonly selfAttention = this.registerModule(
        "self_attn",
        multiHeadAttention({ dModel: 4, numHeads: 2 }),
      );
    }
    class Layers extends Module {
      readonly first = this.registerModule("0", new Layer());
    }
    class Encoder extends Module {
      readonly layers = this.registerModule("layers", new Layers());
    }
    class Model extends Module {
      readonly encoder = this.registerModule("encoder", new Encoder());
    }
    const model = new Model();
    const sd = model.stateDict();
    assert.deepEqual(Object.keys(sd), [
      "encoder.layers.0.self_attn.in_proj_weight",
      "encoder.layers.0.self_attn.in_proj_bias",
      "encoder.layers.0.self_attn.out_proj.weight",
      "encoder.layers.0.self_attn.out_proj.bias",
    ]);
    const weight = randn([12, 4], new Rng(0));
    model.loadStateDict({ ...sd, "encoder.layers.0.self_attn.in_proj_weight": weight });
    assert.deepEqual(
      model.encoder.layers.first.selfAttention.valueWeight.data,
      weight.data.slice(32),
    );
    assert.throws(
      () =>
        model.loadStateDict({ ...sd, "encoder.layers.0.self_attn.in_proj_weight": zeros([4, 4]) }),
      /encoder\.layers\.0\.self_attn\.in_proj_weight has shape \[4, 4\], expected \[12, 4\]/,
    );
  });
});

const NUM_RUNS = Number(env("FC_NUM_RUNS") ?? 60);

/** Random small MHA configurations and inputs. */
const configArb = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  numKvHeads: fc.integer({ min: 1, max: 3 }),
  groups: fc.integer({ min: 1, max: 2 }),
  headDim: fc.integer({ min: 1, max: 4 }),
  tq: fc.integer({ min: 1, max: 5 }),
  tk: fc.integer({ min: 1, max: 5 }),
  kDim: fc.integer({ min: 1, max: 6 }),
  vDim: fc.integer({ min: 1, max: 6 }),
  bias: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

Deno.test("MultiHeadAttention properties", async (t) => {
  await t.step(
    "forward() equals per-head scaledDotProductAttention, concatenated and projected",
    () => {
      fc.assert(
        fc.property(configArb, (c) => {
          const numHeads = c.numKvHeads * c.groups, dModel = numHeads * c.headDim, dh = c.headDim;
          const rng = new Rng(c.seed);
          const mha = randomize(
            multiHeadAttention({
              dModel,
              numHeads,
              numKvHeads: c.numKvHeads,
              kDim: c.kDim,
              vDim: c.vDim,
              bias: c.bias,
            }),
            rng,
          );
          const q = randn([c.batch, c.tq, dModel], rng);
          const k = randn([c.batch, c.tk, c.kDim], rng), v = randn([c.batch, c.tk, c.vDim], rng);
          const mask = paddingMask(Array.from({ length: c.batch }, () => 1 + rng.int(c.tk)), c.tk);
          const { output, weights } = mha.forward(q, k, v, { mask });
          const heads: Tensor[] = [];
          const perHeadWeights: Tensor[] = [];
          for (let h = 0; h < numHeads; h++) {
            const g = Math.floor(h / c.groups); // the key/value head this query head reads
            const bias = (b: Tensor | null, i: number) => b && sliceRows(b, i * dh, (i + 1) * dh);
            const qh = linear(
              q,
              sliceRows(mha.queryWeight, h * dh, (h + 1) * dh),
              bias(mha.queryBias, h),
            );
            const kh = linear(
              k,
              sliceRows(mha.keyWeight, g * dh, (g + 1) * dh),
              bias(mha.keyBias, g),
            );
            const vh = linear(
              v,
              sliceRows(mha.valueWeight, g * dh, (g + 1) * dh),
              bias(mha.valueBias, g),
            );
            // mask [B, 1, 1, Tk] -> [B, 1, Tk] for the per-head [B, Tq, Tk] scores
            const r = scaledDotProductAttention(qh, kh, vh, {
              mask: mask.reshape([c.batch, 1, c.tk]),
            });
            heads.push(r.output);
            perHeadWeights.push(r.weights.reshape([c.batch, 1, c.tq * c.tk]));
          }
          const expected = linear(concatLast(heads), mha.outputWeight, mha.outputBias);
          assertClose(output, expected, TOL);
          const stacked = concatLast(perHeadWeights).reshape([c.batch, numHeads, c.tq, c.tk]);
          assertClose(weights, stacked, TOL);
        }),
        { numRuns: NUM_RUNS },
      );
    },
  );

  await t.step(
    "forward() with one head, identity projections and zero biases equals scaledDotProductAttention",
    () => {
      fc.assert(
        fc.property(configArb, (c) => {
          const d = c.headDim, rng = new Rng(c.seed);
          const mha = multiHeadAttention({ dModel: d, numHeads: 1, bias: c.bias });
          const eye = new Tensor(
            new Float32Array(d * d).map((_, i) => (i % (d + 1) === 0 ? 1 : 0)),
            [d, d],
          );
          const identity = Object.fromEntries(
            Object.entries(mha.stateDict()).map(([key, p]) => [
              key,
              key === "in_proj_weight"
                ? new Tensor(new Float32Array([...eye.data, ...eye.data, ...eye.data]), [3 * d, d])
                : key === "out_proj.weight"
                ? eye
                : zeros(p.shape),
            ]),
          );
          mha.loadStateDict(identity);
          const q = randn([c.batch, c.tq, d], rng),
            k = randn([c.batch, c.tk, d], rng),
            v = randn([c.batch, c.tk, d], rng);
          const mask = causalMask(c.tq, c.tk, { align: "bottom-right" });
          const got = mha.forward(q, k, v, { mask });
          const want = scaledDotProductAttention(q, k, v, { mask });
          assertClose(got.output, want.output, TOL);
          assertClose(got.weights.reshape([c.batch, c.tq, c.tk]), want.weights, TOL);
        }),
        { numRuns: NUM_RUNS },
      );
    },
  );

  await t.step("KV cache decoding token by token equals the full causal pass", () => {
    fc.assert(
      fc.property(configArb, fc.integer({ min: 1, max: 8 }), (c, steps) => {
        const numHeads = c.numKvHeads * c.groups, dModel = numHeads * c.headDim;
        const rng = new Rng(c.seed);
        const mha = randomize(
          multiHeadAttention({ dModel, numHeads, numKvHeads: c.numKvHeads, bias: c.bias }),
          rng,
        );
        const x = randn([c.batch, steps, dModel], rng);
        const full = mha.forward(x, x, x, { mask: causalMask(steps) });
        const cache = mha.createCache();
        for (let i = 0; i < steps; i++) {
          const token = sliceTime(x, i, i + 1);
          const step = mha.forward(token, token, token, { cache });
          assertClose(step.output, sliceTime(full.output, i, i + 1), TOL);
          assert.deepEqual(step.weights.shape, [c.batch, numHeads, 1, i + 1]);
        }
        assert.equal(cache.length, steps);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  await t.step("grouped-query attention equals MHA with each key/value head repeated", () => {
    fc.assert(
      fc.property(configArb, (c) => {
        const numHeads = c.numKvHeads * c.groups, dModel = numHeads * c.headDim, dh = c.headDim;
        const rng = new Rng(c.seed);
        const options = { dModel, numHeads, kDim: c.kDim, vDim: c.vDim, bias: c.bias };
        const gqa = randomize(multiHeadAttention({ ...options, numKvHeads: c.numKvHeads }), rng);
        // numKvHeads = numHeads is plain MHA
        const same = multiHeadAttention({ ...options, numKvHeads: numHeads, seed: 4 });
        const plain = multiHeadAttention({ ...options, seed: 4 });
        assert.deepEqual(same.stateDict(), plain.stateDict());
        // MHA whose head h uses the GQA's key/value head floor(h / groups)
        const repeat = (w: Tensor | null) => {
          if (!w) return null;
          const parts: Tensor[] = [];
          for (let h = 0; h < numHeads; h++) {
            const g = Math.floor(h / c.groups);
            parts.push(sliceRows(w, g * dh, (g + 1) * dh));
          }
          const width = w.rank === 2 ? w.shape[1] : 1;
          const data = new Float32Array(parts.flatMap((p) => [...p.data]));
          return new Tensor(data, w.rank === 2 ? [numHeads * dh, width] : [numHeads * dh]);
        };
        for (const [name, p] of Object.entries(plain.parameters())) {
          const source = name.startsWith("key") || name.startsWith("value")
            ? repeat(gqa.parameters()[name])!
            : gqa.parameters()[name];
          p.data.set(source.data);
        }
        const q = randn([c.batch, c.tq, dModel], rng);
        const k = randn([c.batch, c.tk, c.kDim], rng), v = randn([c.batch, c.tk, c.vDim], rng);
        const a = gqa.forward(q, k, v), b = plain.forward(q, k, v);
        assertClose(a.output, b.output, TOL);
        assertClose(a.weights, b.weights, TOL);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  await t.step("stateDict() -> loadStateDict() round trip is bit-identical", () => {
    fc.assert(
      fc.property(configArb, (c) => {
        const numHeads = c.numKvHeads * c.groups, dModel = numHeads * c.headDim;
        const options = {
          dModel,
          numHeads,
          numKvHeads: c.numKvHeads,
          kDim: c.kDim,
          vDim: c.vDim,
          bias: c.bias,
        };
        const rng = new Rng(c.seed);
        const a = randomize(multiHeadAttention(options), rng);
        const b = multiHeadAttention({ ...options, seed: c.seed + 1 }).loadStateDict(a.stateDict());
        const sa = a.stateDict(), sb = b.stateDict();
        assert.deepEqual(Object.keys(sb), Object.keys(sa));
        for (const key of Object.keys(sa)) assert.ok(bitsEqual(sa[key], sb[key]), key);
        for (const [name, p] of Object.entries(a.parameters())) {
          assert.ok(bitsEqual(p, b.parameters()[name]), name);
        }
        const q = randn([c.batch, c.tq, dModel], rng);
        const k = randn([c.batch, c.tk, c.kDim], rng), v = randn([c.batch, c.tk, c.vDim], rng);
        assert.ok(bitsEqual(a.forward(q, k, v).output, b.forward(q, k, v).output));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

Deno.test("MultiHeadAttention.forward({ needWeights: false }): same output, no weights", () => {
  const rng = new Rng(21);
  const mha = multiHeadAttention({ dModel: 64, numHeads: 4, numKvHeads: 2, seed: 3 });
  const x = randn([2, 70, 64], rng), memory = randn([2, 90, 64], rng);
  for (const mask of [undefined, paddingMask([90, 60], 90)]) {
    const full = mha.forward(x, memory, memory, { mask });
    const lean = mha.forward(x, memory, memory, { mask, needWeights: false });
    assert.equal(lean.weights, undefined);
    assert.deepEqual(lean.output.data, full.output.data);
  }
  // a trace still carries the scores
  const traced = mha.forward(x, x, x, { needWeights: false, trace: true });
  assert.equal(traced.weights, undefined);
  assert.deepEqual(traced.trace!.scores.shape, [2, 4, 70, 70]);
  assert.throws(
    // @ts-expect-error: a number is not a boolean
    () => mha.forward(x, x, x, { needWeights: 0 }),
    (e: unknown) =>
      e instanceof TypeError &&
      /MultiHeadAttention.forward: needWeights must be a boolean/.test(e.message),
  );
});

Deno.test("self-attention's stacked Q/K/V product equals three separate projections", () => {
  const rng = new Rng(41);
  for (const bias of [true, false]) {
    const mha = multiHeadAttention({ dModel: 64, numHeads: 4, bias, seed: 9 });
    const x = randn([2, 50, 64], rng);
    // the same values in another tensor: query !== key, so the projections run one by one
    const y = new Tensor(x.data.slice(), x.shape);
    const fused = mha.forward(x, x, x, { trace: true });
    const apart = mha.forward(x, y, y, { trace: true });
    for (const name of ["query", "key", "value"] as const) {
      assertClose(fused.trace![name], apart.trace![name], { rtol: 1e-6, atol: 1e-7 });
    }
    assertClose(fused.output, apart.output, { rtol: 1e-6, atol: 1e-7 });
    assertClose(fused.weights, apart.weights, { rtol: 1e-6, atol: 1e-7 });
  }
});
