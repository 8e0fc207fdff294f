/**
 * One module convention: every model returns `{ output, ...maps }` with the
 * maps named as in lib/models/README.md, `needWeights` works through the whole
 * stack, unbatched input works everywhere and equals the batch of one, the
 * layers are built from registered children, masks are checked by one
 * function, and every option is type-checked.
 */

import assert from "node:assert/strict";
import { causalMask, paddingMask } from "../lib/attention/masks.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { addNorm } from "../lib/layers/add_norm.ts";
import { Dropout } from "../lib/layers/dropout.ts";
import { FeedForward } from "../lib/layers/feed_forward.ts";
import { childSeed } from "../lib/layers/module.ts";
import { decoder } from "../lib/models/decoder.ts";
import { decoderLayer } from "../lib/models/decoder_layer.ts";
import { encoder } from "../lib/models/encoder.ts";
import { encoderLayer } from "../lib/models/encoder_layer.ts";
import { multiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { seq2seq } from "../lib/models/seq2seq.ts";
import { transformer } from "../lib/models/transformer.ts";
import type { Mask } from "../lib/tensor/mask.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn, type Tensor } from "../lib/tensor/tensor.ts";

const cfg = { dModel: 8, numHeads: 2, dFF: 16, seed: 3 };
const rng = new Rng(21);
const x = randn([2, 5, 8], rng), memory = randn([2, 4, 8], rng);

/** Bitwise equality of two tensors (shape and data). */
function same(a: Tensor, b: Tensor, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  assert.deepEqual(a.data, b.data, `${what}: data`);
}

/** `[1, ...]` batched result vs its unbatched twin: equal data, the B axis dropped. */
function sameUnbatched(batched: Tensor, unbatched: Tensor, what: string): void {
  assert.equal(batched.shape[0], 1, `${what}: batched B`);
  assert.deepEqual(unbatched.shape, batched.shape.slice(1), `${what}: unbatched shape`);
  assert.deepEqual(unbatched.data, batched.data, `${what}: data`);
}

/** The B = 1 slice `[1, ...]` of `t` at batch index 0, and its unbatched `[...]` view. */
function first(t: Tensor): { batched: Tensor; unbatched: Tensor } {
  const rest = t.shape.slice(1);
  const n = rest.reduce((a, b) => a * b, 1);
  const data = t.data.slice(0, n);
  const batched = randn([1, ...rest], new Rng(0));
  batched.data.set(data);
  const unbatched = batched.reshape(rest);
  return { batched, unbatched };
}

Deno.test("every model returns { output, ...maps } with one naming scheme", () => {
  const keys = (r: object) => Object.keys(r).sort();
  const mha = multiHeadAttention(cfg);
  assert.deepEqual(keys(mha.forward(x, x, x)), ["output", "weights"]);
  assert.deepEqual(keys(encoderLayer(cfg).forward(x)), ["output", "selfWeights"]);
  assert.deepEqual(keys(decoderLayer(cfg).forward(x, memory)), [
    "crossWeights",
    "output",
    "selfWeights",
  ]);
  const enc = encoder({ ...cfg, numLayers: 2 }).forward(x);
  assert.deepEqual(keys(enc), ["output", "selfWeights"]);
  assert.equal(enc.selfWeights.length, 2);
  const dec = decoder({ ...cfg, numLayers: 2 }).forward(x, memory);
  assert.deepEqual(keys(dec), ["crossWeights", "output", "selfWeights"]);
  assert.deepEqual(dec.crossWeights[1].shape, [2, 2, 5, 4]);
  const model = transformer({ ...cfg, numEncoderLayers: 1, numDecoderLayers: 2 });
  const r = model.forward(memory, x);
  assert.deepEqual(keys(r), [
    "decoderCrossWeights",
    "decoderSelfWeights",
    "encoderSelfWeights",
    "memory",
    "output",
  ]);
  assert.deepEqual(r.decoderCrossWeights.map((w) => w.shape), [[2, 2, 5, 4], [2, 2, 5, 4]]);
  const s2s = seq2seq({
    ...cfg,
    srcVocab: 9,
    tgtVocab: 9,
    numEncoderLayers: 1,
    numDecoderLayers: 1,
  });
  const f = s2s.forward([[1, 2, 3]], [[4, 5]]);
  assert.deepEqual(keys(f), [
    "decoderCrossWeights",
    "decoderSelfWeights",
    "encoderSelfWeights",
    "output",
  ]);
  assert.deepEqual(f.output.shape, [1, 2, 9]);
  const g = s2s.greedyDecode([[1, 2, 3]], { maxLen: 3, startToken: 1, endToken: 2 });
  assert.deepEqual(keys(g), [
    "decoderCrossWeights",
    "decoderSelfWeights",
    "encoderSelfWeights",
    "scores",
    "tokens",
  ]);
  assert.deepEqual(keys(s2s.encode([[1, 2, 3]])), ["output", "selfWeights", "srcMask"]);
  assert.deepEqual(keys(s2s.decode([[4, 5]], s2s.encode([[1, 2, 3]]).output)), [
    "crossWeights",
    "output",
    "selfWeights",
  ]);
});

Deno.test("needWeights: false leaves every map out and keeps the output bit-identical", async (t) => {
  const src = paddingMask([5, 3], 5), tgt = causalMask(5);
  for (const normFirst of [false, true]) {
    const c = { ...cfg, normFirst };
    await t.step(`normFirst: ${normFirst}`, () => {
      const el = encoderLayer(c);
      const a = el.forward(x, { mask: src }), b = el.forward(x, { mask: src, needWeights: false });
      assert.equal(b.selfWeights, undefined);
      assert.ok(!("selfWeights" in b));
      same(b.output, a.output, "EncoderLayer");

      const dl = decoderLayer(c);
      const o = { tgtMask: tgt, memoryMask: paddingMask([4, 2], 4) };
      const da = dl.forward(x, memory, o), db = dl.forward(x, memory, { ...o, needWeights: false });
      assert.ok(!("selfWeights" in db) && !("crossWeights" in db));
      same(db.output, da.output, "DecoderLayer");

      const e = encoder({ ...c, numLayers: 2 });
      const ea = e.forward(x, { mask: src }), eb = e.forward(x, { mask: src, needWeights: false });
      assert.ok(!("selfWeights" in eb));
      same(eb.output, ea.output, "Encoder");

      const d = decoder({ ...c, numLayers: 2 });
      const ca = d.forward(x, memory, o), cb = d.forward(x, memory, { ...o, needWeights: false });
      assert.ok(!("selfWeights" in cb) && !("crossWeights" in cb));
      same(cb.output, ca.output, "Decoder");

      const m = transformer({ ...c, numEncoderLayers: 2, numDecoderLayers: 2 });
      const ta = m.forward(memory, x, { tgtMask: tgt });
      const tb = m.forward(memory, x, { tgtMask: tgt, needWeights: false });
      assert.deepEqual(Object.keys(tb).sort(), ["memory", "output"]);
      same(tb.output, ta.output, "Transformer output");
      same(tb.memory, ta.memory, "Transformer memory");

      const s = seq2seq({ ...c, srcVocab: 9, tgtVocab: 9, numEncoderLayers: 1, padToken: 0 });
      const sa = s.forward([[1, 2, 0]], [[4, 5, 6]]);
      const sb = s.forward([[1, 2, 0]], [[4, 5, 6]], { needWeights: false });
      assert.deepEqual(Object.keys(sb), ["output"]);
      same(sb.output, sa.output, "Seq2Seq");
      assert.ok(!("selfWeights" in s.encode([[1, 2]], { needWeights: false })));
    });
  }
  await t.step("with a KV cache too", () => {
    const d = decoder({ ...cfg, numLayers: 2 });
    const c1 = d.createCaches(), c2 = d.createCaches();
    for (let step = 0; step < 3; step++) {
      const tok = randn([2, 1, 8], new Rng(step));
      const a = d.forward(tok, memory, { caches: c1 });
      const b = d.forward(tok, memory, { caches: c2, needWeights: false });
      same(b.output, a.output, `step ${step}`);
      assert.deepEqual(a.selfWeights[0].shape, [2, 2, 1, step + 1]);
    }
  });
});

Deno.test("unbatched [T, dModel] input equals the batched call with B = 1", async (t) => {
  const x1 = first(x), m1 = first(memory);
  const tgtMask = causalMask(5), memoryMask = paddingMask([3], 4);
  await t.step("EncoderLayer", () => {
    const layer = encoderLayer(cfg);
    const b = layer.forward(x1.batched, { mask: tgtMask });
    const u = layer.forward(x1.unbatched, { mask: tgtMask });
    sameUnbatched(b.output, u.output, "output");
    sameUnbatched(b.selfWeights, u.selfWeights, "selfWeights");
  });
  await t.step("DecoderLayer, also with a cache", () => {
    const layer = decoderLayer(cfg);
    const b = layer.forward(x1.batched, m1.batched, { tgtMask, memoryMask });
    const u = layer.forward(x1.unbatched, m1.unbatched, { tgtMask, memoryMask });
    sameUnbatched(b.output, u.output, "output");
    sameUnbatched(b.selfWeights, u.selfWeights, "selfWeights");
    sameUnbatched(b.crossWeights, u.crossWeights, "crossWeights");
    const cb = layer.selfAttn.createCache(), cu = layer.selfAttn.createCache();
    for (let i = 0; i < 5; i++) {
      const row = first(randn([1, 1, 8], new Rng(i)));
      const sb = layer.forward(row.batched, m1.batched, { cache: cb });
      const su = layer.forward(row.unbatched, m1.unbatched, { cache: cu });
      sameUnbatched(sb.output, su.output, `cached step ${i}`);
      sameUnbatched(sb.selfWeights, su.selfWeights, `cached step ${i} selfWeights`);
    }
    assert.throws(() => layer.forward(x1.unbatched, m1.batched), /must have the same batch size/);
  });
  await t.step("Encoder and Decoder", () => {
    const e = encoder({ ...cfg, numLayers: 2 }), d = decoder({ ...cfg, numLayers: 2 });
    const eb = e.forward(x1.batched), eu = e.forward(x1.unbatched);
    sameUnbatched(eb.output, eu.output, "encoder output");
    eb.selfWeights.forEach((w, i) => sameUnbatched(w, eu.selfWeights[i], `encoder layer ${i}`));
    const db = d.forward(x1.batched, m1.batched, { tgtMask });
    const du = d.forward(x1.unbatched, m1.unbatched, { tgtMask });
    sameUnbatched(db.output, du.output, "decoder output");
    db.crossWeights.forEach((w, i) => sameUnbatched(w, du.crossWeights[i], `cross ${i}`));
    db.selfWeights.forEach((w, i) => sameUnbatched(w, du.selfWeights[i], `self ${i}`));
  });
  await t.step("Transformer", () => {
    const m = transformer({ ...cfg, numEncoderLayers: 1, numDecoderLayers: 2 });
    const b = m.forward(m1.batched, x1.batched, { tgtMask, memoryMask });
    const u = m.forward(m1.unbatched, x1.unbatched, { tgtMask, memoryMask });
    sameUnbatched(b.output, u.output, "output");
    sameUnbatched(b.memory, u.memory, "memory");
    for (const k of ["encoderSelfWeights", "decoderSelfWeights", "decoderCrossWeights"] as const) {
      b[k].forEach((w, i) => sameUnbatched(w, u[k][i], `${k}[${i}]`));
    }
  });
  await t.step("Seq2Seq token ids", () => {
    const s = seq2seq({ ...cfg, srcVocab: 9, tgtVocab: 9, numEncoderLayers: 1, padToken: 0 });
    const b = s.forward([[3, 4, 0]], [[1, 5, 6, 7]]);
    const u = s.forward([3, 4, 0], [1, 5, 6, 7]);
    sameUnbatched(b.output, u.output, "output");
    for (const k of ["encoderSelfWeights", "decoderSelfWeights", "decoderCrossWeights"] as const) {
      b[k].forEach((w, i) => sameUnbatched(w, u[k][i], `${k}[${i}]`));
    }
    const eb = s.encode([[3, 4, 0]]), eu = s.encode([3, 4, 0]);
    sameUnbatched(eb.output, eu.output, "encode");
    const db = s.decode([[1, 5]], eb.output, { srcMask: eb.srcMask });
    const du = s.decode([1, 5], eu.output, { srcMask: eu.srcMask });
    sameUnbatched(db.output, du.output, "decode");
  });
});

Deno.test("layers register their parts one way and keep PyTorch's checkpoint names", () => {
  const el = encoderLayer(cfg);
  assert.deepEqual(Object.keys(el.children()), [
    "self_attn",
    "feedForward",
    "norm1",
    "norm2",
    "dropout1",
    "dropout2",
  ]);
  assert.ok(el.children().feedForward instanceof FeedForward);
  assert.ok(el.dropout1 instanceof Dropout && el.dropout2 instanceof Dropout);
  // nn.TransformerEncoderLayer.state_dict() order
  assert.deepEqual(Object.keys(el.stateDict()), [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
  ]);
  assert.ok(
    "linear1.weight" in el.parameters() && !("feedForward.linear1.weight" in el.parameters()),
  );
  const dl = decoderLayer(cfg);
  assert.deepEqual(
    Object.keys(dl.children()).filter((k) => k.startsWith("dropout")),
    ["dropout1", "dropout2", "dropout3"],
  );
  assert.deepEqual(
    Object.keys(dl.stateDict()).filter((k) => !k.includes("attn")),
    [
      "linear1.weight",
      "linear1.bias",
      "linear2.weight",
      "linear2.bias",
      "norm1.weight",
      "norm1.bias",
      "norm2.weight",
      "norm2.bias",
      "norm3.weight",
      "norm3.bias",
    ],
  );
  // loading through the inline child writes the FeedForward's own weights
  const sd = el.stateDict();
  sd["linear2.bias"] = randn([8], new Rng(1));
  el.loadStateDict(sd);
  assert.deepEqual(el.feedForward.linear2.bias!.data, sd["linear2.bias"].data);
  // training mode reaches the inline child's dropout
  el.train();
  assert.ok(el.feedForward.dropout.training);
});

Deno.test("a layer's forward is its equation: addNorm around each sublayer", () => {
  for (const normFirst of [false, true]) {
    const layer = encoderLayer({ ...cfg, normFirst });
    const mask = paddingMask([5, 2], 5);
    const selfAttn = (h: Tensor) => layer.selfAttn.forward(h, h, h, { mask }).output;
    let h = addNorm(x, selfAttn, layer.norm1, { normFirst });
    h = addNorm(h, layer.feedForward, layer.norm2, { normFirst });
    same(layer.forward(x, { mask }).output, h, `normFirst: ${normFirst}`);
  }
});

Deno.test("initialisation seeds come from childSeed, not offsets", () => {
  const a = encoder({ ...cfg, numLayers: 2 });
  // layer i is encoderLayer({ seed: childSeed(seed, "layers.i") })
  const layer1 = encoderLayer({ ...cfg, seed: childSeed(3, "layers.1") });
  same(a.layers[1].selfAttn.queryWeight, layer1.selfAttn.queryWeight, "layers.1");
  // and no two attention blocks of a model share their initial weights
  const m = transformer({ ...cfg, numEncoderLayers: 2, numDecoderLayers: 2 });
  const weights = [
    ...m.encoder.layers.map((l) => l.selfAttn.queryWeight),
    ...m.decoder.layers.flatMap((l) => [l.selfAttn.queryWeight, l.crossAttn.queryWeight]),
  ].map((w) => w.data.join());
  assert.equal(new Set(weights).size, weights.length);
});

Deno.test("masks are checked by one function, with one message", () => {
  const bad = causalMask(3); // scores here are [.., 5, 5] or [.., 5, 4]
  const rule =
    /must broadcast against the scores \[.*\]: aligned from the right, each size must equal the score's or be 1/;
  const calls: [string, () => unknown][] = [
    ["scaledDotProductAttention", () => scaledDotProductAttention(x, x, x, { mask: bad })],
    ["MultiHeadAttention.forward", () => multiHeadAttention(cfg).forward(x, x, x, { mask: bad })],
    ["EncoderLayer.forward", () => encoderLayer(cfg).forward(x, { mask: bad })],
    ["DecoderLayer.forward", () => decoderLayer(cfg).forward(x, memory, { memoryMask: bad })],
    ["Transformer.forward", () => transformer(cfg).forward(memory, x, { tgtMask: bad })],
  ];
  for (const [fn, call] of calls) {
    assert.throws(call, (e: unknown) => {
      assert.ok(e instanceof RangeError, `${fn}: ${e}`);
      assert.match(e.message, new RegExp(`^${fn.replace(".", "\\.")}: \\w+=\\[3, 3\\] `));
      assert.match(e.message, rule);
      return true;
    });
  }
  const notMask = { shape: [5, 5], data: new Uint8Array(25) } as unknown as Mask;
  for (
    const call of [
      () => encoderLayer(cfg).forward(x, { mask: notMask }),
      () => transformer(cfg).forward(memory, x, { srcMask: notMask }),
      () => scaledDotProductAttention(x, x, x, { mask: notMask }),
    ]
  ) {
    assert.throws(call, (e: unknown) => e instanceof TypeError && /must be a Mask/.test(e.message));
  }
});

Deno.test("options are type-checked, and errors show the value with its type", async (t) => {
  type Case = [string, () => unknown, ErrorConstructor, RegExp];
  const base = { dModel: 8, numHeads: 2 };
  const s2s = { ...base, srcVocab: 5, tgtVocab: 5 };
  const badLayer = (o: Record<string, unknown>) => ({ ...base, ...o }) as typeof base;
  const cases: Case[] = [
    [
      "dModel",
      () => encoderLayer(badLayer({ dModel: "8" })),
      TypeError,
      /dModel .* got "8" \(a string\)/,
    ],
    ["numHeads", () => decoderLayer(badLayer({ numHeads: 2.5 })), RangeError, /numHeads .*got 2.5/],
    ["dFF", () => encoderLayer(badLayer({ dFF: "16" })), TypeError, /dFF .*got "16" \(a string\)/],
    [
      "dropout",
      () => encoderLayer(badLayer({ dropout: "0.1" })),
      RangeError,
      /dropout must be in \[0, 1\), got "0.1" \(a string\)/,
    ],
    [
      "dropout range",
      () => encoderLayer(badLayer({ dropout: 1 })),
      RangeError,
      /dropout must be in \[0, 1\), got 1/,
    ],
    [
      "activation",
      () => encoderLayer(badLayer({ activation: "tanh" })),
      RangeError,
      /activation must be one of "relu", "gelu", got "tanh"/,
    ],
    [
      "normFirst",
      () => encoderLayer(badLayer({ normFirst: "false" })),
      TypeError,
      /EncoderLayer: normFirst must be a boolean, got "false" \(a string\)/,
    ],
    [
      "layerNormEps",
      () => decoderLayer(badLayer({ layerNormEps: "1e-5" })),
      TypeError,
      /layerNormEps must be a number, got "1e-5" \(a string\)/,
    ],
    [
      "seed",
      () => encoderLayer(badLayer({ seed: "1" })),
      TypeError,
      /seed must be an integer, got "1" \(a string\)/,
    ],
    [
      "numLayers",
      () => encoder({ ...base, numLayers: "2" } as never),
      TypeError,
      /Encoder: numLayers .*got "2" \(a string\)/,
    ],
    [
      "finalNorm",
      () => decoder({ ...base, finalNorm: 0 } as never),
      TypeError,
      /Decoder: finalNorm must be a boolean, got 0/,
    ],
    [
      "numEncoderLayers",
      () => transformer({ ...base, numEncoderLayers: -1 }),
      RangeError,
      /numEncoderLayers .*got -1/,
    ],
    [
      "numDecoderLayers",
      () => transformer({ ...base, numDecoderLayers: "1" } as never),
      TypeError,
      /numDecoderLayers .*got "1"/,
    ],
    [
      "transformer finalNorm",
      () => transformer({ ...base, finalNorm: "no" } as never),
      TypeError,
      /finalNorm must be a boolean, got "no"/,
    ],
    [
      "srcVocab",
      () => seq2seq({ ...s2s, srcVocab: "5" } as never),
      TypeError,
      /seq2seq: srcVocab .*got "5" \(a string\)/,
    ],
    ["tgtVocab", () => seq2seq({ ...s2s, tgtVocab: 0 }), RangeError, /tgtVocab .*got 0/],
    [
      "maxLen",
      () => seq2seq({ ...s2s, maxLen: "32" } as never),
      TypeError,
      /maxLen .*got "32" \(a string\)/,
    ],
    [
      "shareEmbeddings",
      () => seq2seq({ ...s2s, shareEmbeddings: "true" } as never),
      TypeError,
      /shareEmbeddings must be a boolean, got "true"/,
    ],
    [
      "padToken",
      () => seq2seq({ ...s2s, padToken: "0" } as never),
      TypeError,
      /padToken .*got "0" \(a string\)/,
    ],
    [
      "seq2seq normFirst",
      () => seq2seq({ ...s2s, normFirst: "false" } as never),
      TypeError,
      /normFirst must be a boolean/,
    ],
    [
      "MHA dModel",
      () => multiHeadAttention({ dModel: "8", numHeads: 2 } as never),
      TypeError,
      /multiHeadAttention: dModel must be a positive integer, got "8" \(a string\)/,
    ],
    [
      "MHA numKvHeads",
      () => multiHeadAttention({ ...base, numKvHeads: true } as never),
      TypeError,
      /numKvHeads .*got true \(a boolean\)/,
    ],
    ["MHA kDim", () => multiHeadAttention({ ...base, kDim: 0 }), RangeError, /kDim .*got 0/],
    [
      "MHA vDim",
      () => multiHeadAttention({ ...base, vDim: "4" } as never),
      TypeError,
      /vDim .*got "4"/,
    ],
    [
      "MHA dropout",
      () => multiHeadAttention({ ...base, dropout: -0.1 }),
      RangeError,
      /dropout must be in \[0, 1\), got -0.1/,
    ],
    [
      "MHA bias",
      () => multiHeadAttention({ ...base, bias: "false" } as never),
      TypeError,
      /bias must be a boolean, got "false" \(a string\)/,
    ],
    [
      "MHA seed",
      () => multiHeadAttention({ ...base, seed: 1.5 }),
      TypeError,
      /seed must be an integer, got 1.5/,
    ],
  ];
  const m = multiHeadAttention(base), layer = encoderLayer(base), dl = decoderLayer(base);
  const tr = transformer({ ...base, numEncoderLayers: 1, numDecoderLayers: 1 });
  const s = seq2seq({ ...s2s, numEncoderLayers: 1, numDecoderLayers: 1 });
  const forwards: Case[] = [
    [
      "MHA needWeights",
      () => m.forward(x, x, x, { needWeights: "false" } as never),
      TypeError,
      /MultiHeadAttention\.forward: needWeights must be a boolean, got "false" \(a string\)/,
    ],
    [
      "MHA trace",
      () => m.forward(x, x, x, { trace: 1 } as never),
      TypeError,
      /trace must be a boolean, got 1/,
    ],
    [
      "MHA averageWeights",
      () => m.forward(x, x, x, { averageWeights: "yes" } as never),
      TypeError,
      /averageWeights must be a boolean/,
    ],
    [
      "MHA options",
      () => m.forward(x, x, x, 5 as never),
      TypeError,
      /options must be an object, got 5/,
    ],
    [
      "EncoderLayer needWeights",
      () => layer.forward(x, { needWeights: 0 } as never),
      TypeError,
      /EncoderLayer\.forward: needWeights must be a boolean, got 0/,
    ],
    [
      "DecoderLayer needWeights",
      () => dl.forward(x, memory, { needWeights: "no" } as never),
      TypeError,
      /DecoderLayer\.forward: needWeights must be a boolean/,
    ],
    [
      "DecoderLayer cache",
      () => dl.forward(x, memory, { cache: {} } as never),
      TypeError,
      /cache must be a KVCache/,
    ],
    [
      "Transformer needWeights",
      () => tr.forward(memory, x, { needWeights: 1 } as never),
      TypeError,
      /Transformer\.forward: needWeights must be a boolean, got 1/,
    ],
    [
      "Seq2Seq needWeights",
      () => s.forward([1], [2], { needWeights: "true" } as never),
      TypeError,
      /Seq2Seq\.forward: needWeights must be a boolean/,
    ],
    [
      "greedyDecode useCache",
      () => s.greedyDecode([1], { maxLen: 2, startToken: 1, endToken: 2, useCache: "no" } as never),
      TypeError,
      /useCache must be a boolean, got "no"/,
    ],
    [
      "Dropout seed",
      () => new Dropout(0.1, { seed: "1" } as never),
      TypeError,
      /Dropout: seed must be an integer, got "1"/,
    ],
    [
      "FeedForward bias",
      () => new FeedForward({ dModel: 2, dFF: 2, bias: "true" } as never),
      TypeError,
      /FeedForward: bias must be a boolean/,
    ],
    [
      "addNorm normFirst",
      () => addNorm(x, (h) => h, (h) => h, { normFirst: "false" } as never),
      TypeError,
      /addNorm: normFirst must be a boolean, got "false"/,
    ],
  ];
  for (const [name, call, type, message] of [...cases, ...forwards]) {
    await t.step(name, () => {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof type, `${name}: expected ${type.name}, got ${e}`);
        assert.match((e as Error).message, message);
        return true;
      });
    });
  }
  await t.step("valid values still pass", () => {
    encoderLayer({ ...base, normFirst: false, dropout: 0, layerNormEps: 0, seed: -3 });
    multiHeadAttention({ ...base, bias: false, dropout: 0.5, numKvHeads: 1 });
    seq2seq({ ...s2s, shareEmbeddings: true, padToken: 0, maxLen: 4 });
  });
});
