/**
 * Randomness that cannot collide: the counter-based generator (Philox4x32-10),
 * the streams every dropout site of a model draws from (one per module path),
 * and dropout masks that are reproducible, regenerable, independent of the
 * thread count and dropped at rate p.
 */

import assert from "node:assert/strict";
import { dropoutAt, hashKey, philox4x32, uniformAt } from "../lib/kernels/random.ts";
import { PARALLEL_MIN_WORK, setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { poolSize, setThreads, shutdownWorkers } from "../lib/kernels/threads.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { causalMask } from "../lib/attention/masks.ts";
import { Dropout, dropout } from "../lib/layers/dropout.ts";
import { FeedForward } from "../lib/layers/feed_forward.ts";
import type { Module } from "../lib/layers/module.ts";
import { MultiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { seq2seq } from "../lib/models/seq2seq.ts";
import { transformer } from "../lib/models/transformer.ts";
import { encoderLayer } from "../lib/models/encoder_layer.ts";
import { RandomStream, Rng } from "../lib/tensor/rng.ts";
import { ones, randn, Tensor } from "../lib/tensor/tensor.ts";

/** Every module under `m` (itself included) with its path. */
function walk(m: Module): Module[] {
  return [m, ...Object.values(m.children()).flatMap(walk)];
}

/** Every dropout site of a model: Dropout modules and attention with weight dropout. */
function dropoutSites(m: Module): Module[] {
  return walk(m).filter((x) =>
    (x instanceof Dropout && x.p > 0) || (x instanceof MultiHeadAttention && x.dropout > 0)
  );
}

/** Which elements one training-mode call of a site drops (a fixed input per kind of site). */
function dropPattern(site: Module, rng: Rng): string {
  site.train();
  if (site instanceof Dropout) {
    return Array.from(site.forward(ones([512])).data, (v) => (v === 0 ? "0" : "1")).join("");
  }
  const mha = site as MultiHeadAttention;
  const x = randn([1, 16, mha.dModel], rng); // [B, T, E]
  const w = mha.forward(x, x, x).weights; // [1, H, 16, 16] after dropout; softmax weights are > 0
  return Array.from(w.data, (v) => (v === 0 ? "0" : "1")).join("");
}

Deno.test("philox4x32 matches the Random123 known-answer vectors", () => {
  const out = new Uint32Array(4);
  const cases: [number[], number[]][] = [
    [[0, 0, 0, 0, 0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  for (const [[c0, c1, c2, c3, k0, k1], want] of cases) {
    philox4x32(c0, c1, c2, c3, k0, k1, out, 0);
    assert.deepEqual([...out], want);
  }
});

Deno.test("uniformAt is a pure function of (key, call, index)", () => {
  const all = new Float64Array(1000);
  uniformAt(7, 3, 0, all);
  // any split and any order of the pieces gives the same numbers
  for (const start of [1, 2, 3, 4, 5, 997]) {
    const piece = new Float64Array(1000 - start);
    uniformAt(7, 3, start, piece);
    assert.deepEqual([...piece], [...all.subarray(start)]);
  }
  // far indices (beyond 2^32 blocks) are addressed too, and differ from near ones
  const far = new Float64Array(8);
  uniformAt(7, 3, 2 ** 40, far);
  assert.notDeepEqual([...far], [...all.subarray(0, 8)]);
  // another call or another key gives other numbers
  const other = new Float64Array(1000), otherKey = new Float64Array(1000);
  uniformAt(7, 4, 0, other);
  uniformAt(8, 3, 0, otherKey);
  assert.notDeepEqual([...other], [...all]);
  assert.notDeepEqual([...otherKey], [...all]);
});

Deno.test("the drop rate is p within 5 standard deviations", () => {
  const n = 400_000;
  for (const p of [0.05, 0.1, 0.5, 0.9]) {
    const sigma = Math.sqrt((p * (1 - p)) / n);
    const y = dropout(ones([n]), p, { key: { key: hashKey(0, `rate ${p}`), call: 0 } });
    const rate = y.data.filter((v) => v === 0).length / n;
    assert.ok(Math.abs(rate - p) < 5 * sigma, `p=${p}: rate ${rate}, 5σ = ${5 * sigma}`);
    assert.ok(y.data.every((v) => v === 0 || v === Math.fround(1 / (1 - p))));
  }
  // attention-weight dropout: among weights > 0, a share p is dropped
  const q = randn([4, 64, 8], new Rng(3));
  const p = 0.3;
  const base = scaledDotProductAttention(q, q, q).weights;
  const dropped = scaledDotProductAttention(q, q, q, { dropout: p, rng: new Rng(9) }).weights;
  const m = base.size;
  const rate = dropped.data.filter((v) => v === 0).length / m;
  const sigma = Math.sqrt((p * (1 - p)) / m);
  assert.ok(base.data.every((v) => v > 0));
  assert.ok(Math.abs(rate - p) < 5 * sigma, `attention: rate ${rate}, 5σ = ${5 * sigma}`);
});

Deno.test("every pair of dropout sites in a Transformer and a Seq2Seq draws different masks", async (t) => {
  const models = {
    transformer: transformer({
      dModel: 8,
      numHeads: 2,
      dFF: 16,
      numEncoderLayers: 2,
      numDecoderLayers: 2,
      dropout: 0.5,
      seed: 1,
    }),
    seq2seq: seq2seq({
      srcVocab: 10,
      tgtVocab: 10,
      dModel: 8,
      numHeads: 2,
      dFF: 16,
      numEncoderLayers: 2,
      numDecoderLayers: 2,
      dropout: 0.5,
      seed: 1,
    }),
  };
  for (const [name, model] of Object.entries(models)) {
    await t.step(name, () => {
      const sites = dropoutSites(model);
      const paths = sites.map((s) => s.path);
      // encoder and decoder sublayer dropouts, FFN hidden dropouts and attention weights
      for (
        const want of [
          "encoder.layers.0.dropout1",
          "encoder.layers.0.dropout2",
          "encoder.layers.0.feedForward.dropout",
          "encoder.layers.0.self_attn",
          "decoder.layers.1.dropout3",
          "decoder.layers.1.multihead_attn",
          "decoder.layers.1.feedForward.dropout",
        ]
      ) {
        assert.ok(paths.some((p) => p.endsWith(want)), `${name}: no site ${want} in ${paths}`);
      }
      if (name === "seq2seq") assert.ok(paths.includes("embeddingDropout"));
      assert.equal(new Set(paths).size, paths.length, "paths are unique");
      assert.equal(new Set(sites.map((s) => s.streamKey)).size, sites.length, "stream keys");
      // The patterns each site draws on its first call: all different, pair by pair.
      // (Two sites of the same kind see the same input, so equal patterns would mean equal numbers.)
      const rng = new Rng(0);
      const patterns = sites.map((s) => dropPattern(s, new Rng(rng.nextUint32())));
      for (let i = 0; i < sites.length; i++) {
        for (let j = i + 1; j < sites.length; j++) {
          if (patterns[i].length !== patterns[j].length) continue;
          assert.notEqual(patterns[i], patterns[j], `${paths[i]} and ${paths[j]} drew one mask`);
        }
      }
    });
  }
  await t.step("the hidden dropout of the feed-forward block no longer equals dropout1", () => {
    const layer = encoderLayer({ dModel: 8, numHeads: 2, dFF: 8, dropout: 0.5, seed: 0 });
    layer.train();
    const x = ones([64]);
    const a = layer.dropout1.forward(x), b = layer.feedForward.dropout.forward(x);
    assert.notDeepEqual(a.data, b.data);
  });
});

Deno.test("the same seed gives the same masks; another seed or call other masks", () => {
  const make = (seed: number) =>
    transformer({
      dModel: 8,
      numHeads: 2,
      dFF: 16,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
      dropout: 0.3,
      seed,
    }).train();
  const rng = new Rng(4);
  const src = randn([2, 5, 8], rng), tgt = randn([2, 4, 8], rng);
  const a = make(3), b = make(3), c = make(4);
  const ra = a.forward(src, tgt), rb = b.forward(src, tgt), rc = c.forward(src, tgt);
  assert.deepEqual(ra.output.data, rb.output.data);
  assert.deepEqual(ra.decoderCrossWeights[0].data, rb.decoderCrossWeights[0].data);
  assert.notDeepEqual(ra.output.data, rc.output.data);
  // the next call of the same model draws new masks
  assert.notDeepEqual(a.forward(src, tgt).output.data, ra.output.data);
  // eval mode is deterministic and needs no randomness
  a.eval();
  assert.deepEqual(a.forward(src, tgt).output.data, b.eval().forward(src, tgt).output.data);
});

Deno.test("a mask can be drawn again from its key instead of being stored", () => {
  const drop = new Dropout(0.4, { seed: 11 }).train();
  const x = randn([3, 50], new Rng(1));
  const y = drop.forward(x);
  const key = drop.lastKey!;
  assert.deepEqual(dropout(x, 0.4, { key }).data, y.data);
  assert.deepEqual(key, { key: drop.streamKey, call: 0 });
  drop.forward(x);
  assert.equal(drop.lastKey!.call, 1);
  // attention dropout: weight e of the call is dropped iff uniformAt(key, call, e) < p
  const q = randn([2, 3, 40, 8], new Rng(2)); // [B, H, T, D]: 6 problems
  const p = 0.25, dropoutKey = { key: 1234, call: 5 };
  const base = scaledDotProductAttention(q, q, q, { mask: causalMask(40) }).weights;
  const w = scaledDotProductAttention(q, q, q, { mask: causalMask(40), dropout: p, dropoutKey })
    .weights;
  const u = new Float64Array(w.size);
  uniformAt(1234, 5, 0, u);
  for (let e = 0; e < w.size; e++) {
    const want = u[e] < p ? 0 : Math.fround(base.data[e] * (1 / (1 - p)));
    assert.ok(Math.abs(w.data[e] - want) <= 1e-6 * Math.abs(want), `weight ${e}`);
  }
  // dropoutAt is the same arithmetic on a raw buffer
  const raw = Float32Array.from(base.data);
  dropoutAt(raw, 0, raw, 0, raw.length, p, 1234, 5, 0);
  assert.ok(raw.every((v, e) => (v === 0) === (w.data[e] === 0)));
});

Deno.test("no user code runs during a kernel: the rng is asked for one key per call", () => {
  let keys = 0;
  const rng = {
    nextKey: () => ({ key: 77 + keys++, call: 0 }),
    uniform: () => {
      throw new Error("uniform() must not be called");
    },
  } as unknown as Rng;
  const q = randn([2, 64, 16], new Rng(0));
  scaledDotProductAttention(q, q, q, { dropout: 0.1, rng });
  dropout(q, 0.1, { rng });
  assert.equal(keys, 2);
  // a real Rng advances by exactly one draw per call
  const r1 = new Rng(5), r2 = new Rng(5);
  dropout(q, 0.5, { rng: r1 });
  r2.nextUint32();
  assert.equal(r1.nextUint32(), r2.nextUint32());
});

Deno.test("streams derive from the root seed and the path, in one place", () => {
  const ffn = new FeedForward({ dModel: 4, dFF: 8, dropout: 0.5, seed: 9 });
  assert.equal(ffn.dropout.path, "dropout");
  assert.equal(ffn.dropout.streamKey, RandomStream.fromPath(9, "dropout").key);
  const layer = encoderLayer({ dModel: 4, numHeads: 1, dFF: 8, seed: 9 });
  assert.equal(layer.feedForward.dropout.path, "feedForward.dropout");
  assert.equal(layer.feedForward.dropout.streamKey, hashKey(9, "feedForward.dropout"));
  const model = transformer({ dModel: 4, numHeads: 1, dFF: 8, numEncoderLayers: 1, seed: 5 });
  const d1 = model.encoder.layers[0].dropout1;
  assert.equal(d1.path, "encoder.layers.0.dropout1");
  assert.equal(d1.streamKey, hashKey(5, "encoder.layers.0.dropout1"));
});

Deno.test("dropout masks are the same on 1 and 2 threads", async () => {
  const threshold = PARALLEL_MIN_WORK;
  const run = () => {
    const q = new Tensor(randn([2, 300, 24], new Rng(8)).data, [2, 300, 24]);
    const attn = scaledDotProductAttention(q, q, q, {
      mask: causalMask(300),
      dropout: 0.2,
      dropoutKey: { key: 99, call: 1 },
    });
    const model = transformer({
      dModel: 32,
      numHeads: 4,
      dFF: 64,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
      dropout: 0.2,
      seed: 2,
    }).train();
    const rng = new Rng(1);
    const r = model.forward(randn([2, 70, 32], rng), randn([2, 60, 32], rng));
    return [attn.output.data, attn.weights.data, r.output.data, r.decoderCrossWeights[0].data];
  };
  try {
    setThreads(1);
    const one = run();
    setThreads(2);
    setParallelMinWork(0);
    const two = run();
    assert.equal(poolSize(), 2, "the worker pool did not start");
    assert.deepEqual(two, one);
  } finally {
    setParallelMinWork(threshold);
    setThreads(navigator.hardwareConcurrency);
    await shutdownWorkers();
  }
});
