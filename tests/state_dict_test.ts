// The one in-place path: loadStateDict writes into the parameters a caller already holds, lists
// its keys without copying the model, and leaves every other tensor alone.
import assert from "node:assert/strict";
import {
  decoder,
  decoderLayer,
  Embedding,
  encoder,
  encoderLayer,
  LayerNorm,
  Module,
  MultiHeadAttention,
  multiHeadAttention,
  type MultiHeadAttentionOptions,
  randn,
  RelativePositionBias,
  Rng,
  seq2seq,
  Tensor,
  transformer,
} from "../mod.ts";

const small = { dModel: 4, numHeads: 2, dFF: 8 };
const mhaLayouts: MultiHeadAttentionOptions[] = [
  { dModel: 4, numHeads: 2 }, // packed in_proj_weight
  { dModel: 4, numHeads: 2, kDim: 3, vDim: 5 }, // separate q/k/v_proj_weight
  { dModel: 4, numHeads: 2, numKvHeads: 1 }, // grouped
  { dModel: 4, numHeads: 2, bias: false },
];

/** Every model kind, twice over with different seeds: a target and a source of values. */
function models(seed: number): [string, Module][] {
  return [
    ...mhaLayouts.map((o, i): [string, Module] => [
      `mha ${i}`,
      multiHeadAttention({ ...o, seed }),
    ]),
    ["encoderLayer", encoderLayer({ ...small, seed })],
    ["decoderLayer", decoderLayer({ ...small, seed })],
    ["encoder", encoder({ ...small, numLayers: 2, seed })],
    ["decoder", decoder({ ...small, numLayers: 2, seed })],
    ["transformer", transformer({ ...small, numEncoderLayers: 1, numDecoderLayers: 2, seed })],
    [
      "seq2seq",
      seq2seq({
        ...small,
        numEncoderLayers: 1,
        numDecoderLayers: 1,
        srcVocab: 7,
        tgtVocab: 9,
        seed,
      }),
    ],
    [
      "seq2seq shared",
      seq2seq({
        ...small,
        numEncoderLayers: 1,
        numDecoderLayers: 1,
        srcVocab: 7,
        tgtVocab: 7,
        shareEmbeddings: true,
        seed,
      }),
    ],
    ["LayerNorm", new LayerNorm(4)],
    ["Embedding", new Embedding(5, 3, { seed })],
    ["RelativePositionBias", new RelativePositionBias(2, { seed })],
  ];
}

Deno.test("stateDictKeys() lists stateDict()'s keys, in order, for every model", () => {
  for (const [name, m] of models(1)) {
    assert.deepEqual(m.stateDictKeys(), Object.keys(m.stateDict()), name);
  }
});

Deno.test("loadStateDict() copies no parameter and calls no stateDict()", () => {
  const sources = models(2).map(([, m]) => m.stateDict());
  const clone = Tensor.prototype.clone;
  const moduleStateDict = Module.prototype.stateDict;
  const mhaStateDict = MultiHeadAttention.prototype.stateDict;
  let clones = 0, stateDicts = 0;
  Tensor.prototype.clone = function (this: Tensor) {
    clones++;
    return clone.call(this);
  };
  Module.prototype.stateDict = function (this: Module) {
    stateDicts++;
    return moduleStateDict.call(this);
  };
  MultiHeadAttention.prototype.stateDict = function (this: MultiHeadAttention) {
    stateDicts++;
    return mhaStateDict.call(this);
  };
  const targets = models(1);
  try {
    targets.forEach(([, m], i) => m.loadStateDict(sources[i]));
    assert.equal(clones, 0, "Tensor#clone calls during loadStateDict");
    assert.equal(stateDicts, 0, "stateDict() calls during loadStateDict");
    // The spies do see the copies stateDict() makes, so a zero above can fail.
    targets[4][1].stateDict();
    assert.ok(clones > 0 && stateDicts > 0);
  } finally {
    Tensor.prototype.clone = clone;
    Module.prototype.stateDict = moduleStateDict;
    MultiHeadAttention.prototype.stateDict = mhaStateDict;
  }
  // And the load did load: every target now reads back its source, bit for bit.
  targets.forEach(([name, m], i) => {
    const back = m.stateDict();
    for (const [key, t] of Object.entries(sources[i])) {
      assert.deepEqual(back[key].data, t.data, `${name}: ${key}`);
    }
  });
});

Deno.test("loading writes in place: held parameters and their views see it, results do not", () => {
  for (const [name, m] of models(1)) {
    const source = models(2).find(([n]) => n === name)![1].stateDict();
    const held = m.parameters();
    const data = Object.fromEntries(Object.entries(held).map(([k, p]) => [k, p.data]));
    const views = Object.fromEntries(Object.entries(held).map(([k, p]) => [k, p.reshape([-1])]));
    const copies = Object.fromEntries(Object.entries(held).map(([k, p]) => [k, p.clone()]));
    const before = m.stateDict();
    m.loadStateDict(source);
    const after = m.parameters();
    assert.deepEqual(Object.keys(after), Object.keys(held), name);
    let changed = 0;
    for (const [k, p] of Object.entries(after)) {
      assert.equal(p, held[k], `${name}: ${k} is the same object`);
      assert.equal(p.data, data[k], `${name}: ${k} keeps its data array`);
      assert.deepEqual(views[k].data, p.data, `${name}: a view of ${k} sees the load`);
      if (p.data.some((v, i) => !Object.is(v, copies[k].data[i]))) changed++;
      assert.notEqual(p.data, copies[k].data);
    }
    if (name !== "LayerNorm") assert.ok(changed > 0, `${name}: the load changed nothing`);
    // stateDict() copies taken before the load keep the old values.
    for (const [k, t] of Object.entries(before)) {
      const old = copies[k] ?? null;
      if (old) assert.deepEqual(t.data, old.data, `${name}: stateDict() copy of ${k}`);
    }
    // The dict's tensors are read, not kept: writing into them later changes nothing.
    for (const t of Object.values(source)) t.data.fill(123);
    for (const [k, p] of Object.entries(after)) assert.ok(!p.data.every((v) => v === 123), k);
  }
});

Deno.test("an output computed before loading keeps its values", () => {
  const mha = multiHeadAttention({ dModel: 4, numHeads: 2, seed: 1 });
  const x = randn([3, 4], new Rng(5)); // [T, dModel]
  const { output, weights } = mha.forward(x, x, x);
  const out0 = output.data.slice(), w0 = weights.data.slice();
  mha.loadStateDict(multiHeadAttention({ dModel: 4, numHeads: 2, seed: 2 }).stateDict());
  assert.deepEqual(output.data, out0);
  assert.deepEqual(weights.data, w0);
  assert.notDeepEqual(mha.forward(x, x, x).output.data, out0);
});

Deno.test("a load that throws leaves the module unchanged", () => {
  for (const [name, m] of models(1)) {
    const source = models(2).find(([n]) => n === name)![1].stateDict();
    const keys = Object.keys(source);
    const before = Object.entries(m.parameters()).map(([k, p]) => [k, p.data.slice()] as const);
    // The last entry (written last) has one value too many.
    const last = keys[keys.length - 1];
    const bad = {
      ...source,
      [last]: new Tensor(new Float32Array(source[last].size + 1), [source[last].size + 1]),
    };
    assert.throws(
      () => m.loadStateDict(bad),
      new RegExp(`${last.replace(/\./g, "\\.")} has shape`),
      name,
    );
    const params = m.parameters();
    for (const [k, data] of before) assert.deepEqual(params[k].data, data, `${name}: ${k}`);
    // The same dict with the bad entry fixed loads.
    m.loadStateDict(source);
    assert.deepEqual(m.stateDict()[last].data, source[last].data, name);
  }
});
