/**
 * The optimizers against torch.optim (5 steps each, from
 * tests/fixtures/make_optim_fixtures.py, float64), bit-exact resume through the
 * state dict, clipGradNorm against clip_grad_norm_ and a float64 loop, the
 * learning-rate schedules, and the argument errors.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { loadFixture } from "./_fixtures.ts";
import { values } from "./_gradcheck.ts";
import { Adam } from "../lib/optim/adam.ts";
import { AdamW } from "../lib/optim/adamw.ts";
import { SGD } from "../lib/optim/sgd.ts";
import type { Optimizer } from "../lib/optim/optimizer.ts";
import { clipGradNorm } from "../lib/optim/clip_grad_norm.ts";
import { warmupCosineLearningRate } from "../lib/optim/warmup_cosine_learning_rate.ts";
import { readSafetensorsMetadata } from "../lib/io/safetensors.ts";
import { crossEntropy } from "../lib/layers/cross_entropy.ts";
import { assertClose } from "../lib/testing/assert_close.ts";
import { mseLoss } from "../lib/layers/mse_loss.ts";
import { Linear, linear } from "../lib/layers/linear.ts";
import type { Module } from "../lib/layers/module.ts";
import { encoderLayer } from "../lib/models/encoder_layer.ts";
import { multiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { seq2seq } from "../lib/models/seq2seq.ts";
import { transformer } from "../lib/models/transformer.ts";
import { isGradEnabled, noGrad } from "../lib/tensor/autograd.ts";
import { mul } from "../lib/tensor/elementwise.ts";
import { sum } from "../lib/tensor/reduce.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { full, randn, Tensor, tensor } from "../lib/tensor/tensor.ts";

const FIXTURE = "optim.safetensors";
const fx = loadFixture(FIXTURE);
const meta = JSON.parse(
  readSafetensorsMetadata(Deno.readFileSync(new URL(`./fixtures/${FIXTURE}`, import.meta.url)))
    .cases,
) as Record<string, Record<string, unknown>>;

/** torch.optim's option names -> this library's. */
function optionsOf(m: Record<string, unknown>): Record<string, unknown> {
  const names: Record<string, string> = { weight_decay: "weightDecay" };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (k !== "cls") out[names[k] ?? k] = v;
  return out;
}

function make(cls: string, params: Tensor[], options: Record<string, unknown>): Optimizer {
  if (cls === "SGD") return new SGD(params, options as never);
  if (cls === "Adam") return new Adam(params, options as never);
  if (cls === "AdamW") return new AdamW(params, options as never);
  throw new Error(`unknown optimizer ${cls}`);
}

const tol = (t: Tensor) => ({ rtol: 1e-3, atol: 1e-4 * Math.max(...Array.from(t.data, Math.abs)) });

Deno.test("SGD, Adam and AdamW match torch.optim over 5 steps", () => {
  const cases = Object.keys(meta).filter((k) => k.startsWith("optim."));
  assert.equal(cases.length, 12);
  for (const p of cases) {
    const m = meta[p];
    const params = [0, 1].map((j) => fx[`${p}.p${j}.init`].clone());
    const opt = make(m.cls as string, params, optionsOf(m));
    for (let t = 1; t <= 5; t++) {
      if (p.endsWith("_lr_steps")) opt.lr = fx[`${p}.lr.${t}`].data[0];
      params.forEach((w, j) => w.grad = fx[`${p}.p${j}.grad.${t}`].clone());
      opt.step();
      params.forEach((w, j) => {
        const want = fx[`${p}.p${j}.after.${t}`];
        try {
          assertClose(w.data, want.data, tol(want));
        } catch (e) {
          throw new Error(`${p} step ${t} p${j}: ${(e as Error).message}`);
        }
      });
    }
  }
});

Deno.test("defaults are torch.optim's: Adam lr 1e-3, betas [0.9, 0.999], eps 1e-8, wd 0; AdamW wd 0.01", () => {
  const w = [tensor([1])];
  assert.deepEqual(new Adam(w).stateDict().options, {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    amsgrad: false,
  });
  assert.equal(new AdamW(w).stateDict().options.weightDecay, 0.01);
  assert.deepEqual(new SGD(w, { lr: 0.1 }).stateDict().options, {
    lr: 0.1,
    momentum: 0,
    dampening: 0,
    weightDecay: 0,
    nesterov: false,
  });
});

Deno.test("stateDict/loadStateDict resume bit for bit (SGD nesterov, Adam amsgrad, AdamW)", () => {
  const configs: [string, Record<string, unknown>][] = [
    ["SGD", { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
    ["SGD", { lr: 0.1, momentum: 0.5, dampening: 0.2 }],
    ["Adam", { lr: 0.01, amsgrad: true, weightDecay: 0.1 }],
    ["AdamW", { lr: 0.02, betas: [0.8, 0.99] }],
  ];
  for (const [cls, options] of configs) {
    const init = [new Float32Array(values(12, 1)), new Float32Array(values(3, 2))];
    const grad = (t: number, j: number) =>
      new Tensor(Float32Array.from(values(j ? 3 : 12, 10 * t + j)), j ? [3] : [4, 3]);
    const a = init.map((d, j) => new Tensor(d.slice(), j ? [3] : [4, 3]));
    const optA = make(cls, a, options);
    const b = init.map((d, j) => new Tensor(d.slice(), j ? [3] : [4, 3]));
    const optB = make(cls, b, options);
    for (let t = 1; t <= 3; t++) {
      a.forEach((w, j) => w.grad = grad(t, j));
      b.forEach((w, j) => w.grad = grad(t, j));
      optA.step();
      optB.step();
    }
    const saved = optB.stateDict();
    // the copy is independent of later steps
    optB.step();
    const c = b.map((w) => w.clone());
    c.forEach((w, j) => w.data.set(a[j].data));
    // a fresh optimizer with other options takes everything from the dict
    const optC = make(cls, c, cls === "SGD" ? { lr: 9 } : { lr: 9, amsgrad: options.amsgrad });
    optC.loadStateDict(saved);
    for (const buffer of Object.values(saved.state[0].buffers)) buffer.data.fill(NaN); // not kept
    for (let t = 4; t <= 5; t++) {
      optA.lr = optC.lr = 0.5 * optA.lr;
      a.forEach((w, j) => w.grad = grad(t, j));
      c.forEach((w, j) => w.grad = grad(t, j));
      optA.step();
      optC.step();
    }
    a.forEach((w, j) => assert.deepEqual([...c[j].data], [...w.data], `${cls} p${j}`));
  }
});

Deno.test("loadStateDict checks everything before changing anything", () => {
  const w = tensor([[1, 2], [3, 4]]);
  const opt = new Adam([w], { lr: 0.1 });
  w.grad = tensor([[1, 1], [1, 1]]);
  opt.step();
  const good = opt.stateDict();
  const before = JSON.stringify(good.state[0].buffers.exp_avg.toArray());
  const badShape = {
    ...good,
    options: { ...good.options, lr: 0.5 },
    state: { 0: { step: 1, buffers: { ...good.state[0].buffers, exp_avg: tensor([1, 2, 3, 4]) } } },
  };
  assert.throws(
    () => opt.loadStateDict(badShape),
    /state 0 buffer exp_avg has shape \[4\], the parameter params\[0\] \[2, 2\]/,
  );
  assert.equal(opt.lr, 0.1);
  assert.equal(JSON.stringify(opt.stateDict().state[0].buffers.exp_avg.toArray()), before);
  assert.throws(
    () => opt.loadStateDict({ ...good, state: { 3: good.state[0] } }),
    /state 3 is not a parameter index in \[0, 1\)/,
  );
  assert.throws(
    () => opt.loadStateDict({ ...good, options: { ...good.options, amsgrad: true } }),
    /buffers \[exp_avg, exp_avg_sq\], these options need \[exp_avg, exp_avg_sq, max_exp_avg_sq\]/,
  );
  assert.throws(
    () => opt.loadStateDict({ ...good, options: { ...good.options, betas: [1, 0.9] } }),
    /betas\[0\] must be a number in \[0, 1\)/,
  );
  assert.throws(() => opt.loadStateDict(null as never), TypeError);
});

Deno.test("step skips parameters without grad; zeroGrad sets grads to null; lr is settable", () => {
  const w = tensor([1, 2]), u = tensor([5]);
  const opt = new SGD({ w, u }, { lr: 0.5, momentum: 0.9 });
  w.grad = tensor([1, 1]);
  opt.step();
  assert.deepEqual(w.toArray(), [0.5, 1.5]);
  assert.deepEqual(u.toArray(), [5]);
  assert.deepEqual(Object.keys(opt.stateDict().state), ["0"]);
  opt.zeroGrad();
  assert.equal(w.grad, null);
  opt.lr = 0;
  w.grad = tensor([1, 1]);
  opt.step(); // the momentum buffer moves, the parameter does not at lr 0
  assert.deepEqual(w.toArray(), [0.5, 1.5]);
  assert.throws(() => (opt.lr = -1), /SGD.lr: lr must be a finite number >= 0, got -1/);
  assert.throws(() => (opt.lr = "0.1" as never), TypeError);
});

Deno.test("a parameter listed twice (tied weights) is stepped once", () => {
  const shared = tensor([1]);
  const opt = new SGD({ "encoder.embed": shared, "decoder.embed": shared }, { lr: 1 });
  assert.equal(opt.params.length, 1);
  shared.grad = tensor([0.25]);
  opt.step();
  assert.deepEqual(shared.toArray(), [0.75]);
});

Deno.test("optimizer errors name the option, the value and the rule; a bad gradient changes nothing", () => {
  const w = tensor([1, 2]), v = tensor([3]);
  assert.throws(() => new SGD([w], {} as never), /SGD: options.lr is required/);
  assert.throws(
    () => new SGD([w], { lr: 0.1, nesterov: true }),
    /nesterov needs momentum > 0 and dampening 0/,
  );
  assert.throws(
    () => new SGD([w], { lr: 0.1, momentum: -1 }),
    /SGD: momentum must be a finite number >= 0, got -1/,
  );
  assert.throws(
    () => new Adam([w], { betas: [0.9, 1] }),
    /Adam: betas\[1\] must be a number in \[0, 1\), got 1/,
  );
  assert.throws(
    () => new AdamW([w], { eps: NaN }),
    /AdamW: eps must be a finite number >= 0, got NaN/,
  );
  assert.throws(() => new Adam([w, 3 as never]), /Adam: params\[1\] must be a Tensor, got 3/);
  const leaf = tensor([1]);
  leaf.requiresGrad = true;
  assert.throws(() => new Adam({ x: mul(leaf, 2) }), /Adam: x was made by "mul", not a leaf/);
  const opt = new Adam({ w, v });
  w.grad = tensor([1, 1]);
  v.grad = tensor([1, 1]);
  assert.throws(
    () => opt.step(),
    /Adam.step: the gradient of v has shape \[2\], the parameter \[1\]/,
  );
  assert.deepEqual(w.toArray(), [1, 2]);
});

/** Float64 total p-norm of gradients (the reference of clipGradNorm). */
function norm64(grads: Float32Array[], p: number): number {
  let s = 0;
  for (const g of grads) {
    for (const x of g) s = p === Infinity ? Math.max(s, Math.abs(x)) : s + Math.abs(x) ** p;
  }
  return p === Infinity ? s : s ** (1 / p);
}

Deno.test("clipGradNorm matches nn.utils.clip_grad_norm_ and a float64 loop", () => {
  const params = [0, 1].map((j) => {
    const g = fx[`clip.p${j}.grad`];
    const t = new Tensor(new Float32Array(g.size), g.shape);
    t.grad = g.clone();
    return t;
  });
  const total = clipGradNorm(params, 1.5);
  assertClose(Float32Array.of(total), fx["clip.total_norm"].data, { rtol: 1e-6 });
  params.forEach((t, j) =>
    assertClose(t.grad!.data, fx[`clip.p${j}.clipped`].data, tol(fx[`clip.p${j}.clipped`]))
  );
  for (const p of [1, 3, Infinity]) {
    const grads = [Float32Array.from(values(10, 5, -2, 2)), Float32Array.from(values(4, 6, -2, 2))];
    const ts = grads.map((g) => {
      const t = new Tensor(new Float32Array(g.length), [g.length]);
      t.grad = new Tensor(g.slice(), [g.length]);
      return t;
    });
    const want = norm64(grads, p);
    const got = clipGradNorm(ts, 0.5, { normType: p });
    assert.ok(Math.abs(got - want) <= 1e-12 * want, `p=${p}: ${got} vs ${want}`);
    const coef = 0.5 / (want + 1e-6);
    ts.forEach((t, j) => assertClose(t.grad!.data, grads[j].map((x) => x * coef), { rtol: 1e-6 }));
  }
});

Deno.test("clipGradNorm: below the limit nothing changes; no grads gives 0; NaN reaches every gradient", () => {
  const w = tensor([0, 0]);
  w.grad = tensor([0.3, 0.4]);
  assert.ok(Math.abs(clipGradNorm({ w }, 1) - 0.5) < 1e-7);
  assert.deepEqual([...w.grad.data], [Math.fround(0.3), Math.fround(0.4)]);
  assert.equal(clipGradNorm([tensor([1])], 1), 0);
  const u = tensor([0]);
  u.grad = tensor([NaN]);
  assert.ok(Number.isNaN(clipGradNorm([w, u], 1)));
  assert.ok(w.grad.data.every(Number.isNaN));
  assert.throws(
    () => clipGradNorm([w], -1),
    /clipGradNorm: maxNorm must be a finite number >= 0, got -1/,
  );
  assert.throws(() => clipGradNorm([w], 1, { normType: 0 }), /normType must be a number > 0/);
});

/** Hugging Face's get_cosine_schedule_with_warmup multiplier, restated (num_cycles 0.5). */
function hfCosine(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
}

Deno.test("warmupCosineLearningRate: maxLr × Hugging Face's cosine-with-warmup multiplier; monotone pieces", () => {
  for (const [w, s] of [[10, 100], [0, 50], [3, 4]]) {
    for (let step = 1; step <= s; step++) {
      const got = warmupCosineLearningRate(step, { maxLr: 0.003, warmupSteps: w, totalSteps: s });
      const want = 0.003 * hfCosine(step, w, s);
      assert.ok(Math.abs(got - want) <= 1e-15, `w=${w} S=${s} step ${step}: ${got} vs ${want}`);
    }
  }
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 50 }),
      fc.integer({ min: 1, max: 200 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (w, extra, floor) => {
        const o = { maxLr: 1, warmupSteps: w, totalSteps: w + extra, minLr: floor };
        let prev = w === 0 ? Infinity : -Infinity;
        for (let s = 1; s <= w; s++) {
          const lr = warmupCosineLearningRate(s, o);
          assert.ok(lr >= prev);
          prev = lr;
        }
        for (let s = Math.max(w, 1); s <= w + extra + 2; s++) {
          const lr = warmupCosineLearningRate(s, o);
          assert.ok(lr <= prev + 1e-15 && lr >= floor - 1e-15);
          prev = lr;
        }
      },
    ),
  );
  const o = { maxLr: 1, warmupSteps: 5, totalSteps: 10 };
  // past totalSteps the rate stays at the floor (Hugging Face's cosine would rise again)
  assert.equal(warmupCosineLearningRate(15, o), 0);
  assert.throws(() => warmupCosineLearningRate(0, o), /step must be a finite number >= 1/);
  assert.throws(
    () => warmupCosineLearningRate(1, { ...o, totalSteps: 5 }),
    /totalSteps must be an integer > warmupSteps \(5\), got 5/,
  );
  assert.throws(
    () => warmupCosineLearningRate(1, { ...o, minLr: 2 }),
    /minLr 2 must not exceed maxLr 1/,
  );
  assert.throws(() => warmupCosineLearningRate(1, null as never), TypeError);
});

Deno.test("a softmax classifier trained with crossEntropy and each optimizer fits its data", () => {
  // 3 well-separated classes in 2-D; 60 steps must bring the mean loss well below log 3
  const xs = new Tensor(Float32Array.from([2, 0, 1.8, 0.3, -1, 1.7, -1.2, 2, -1, -1.8, -0.8, -2]), [
    6,
    2,
  ]);
  const y = [0, 0, 1, 1, 2, 2];
  for (
    const build of [
      (p: Tensor[]) => new SGD(p, { lr: 0.5, momentum: 0.9 }),
      (p: Tensor[]) => new Adam(p, { lr: 0.1 }),
      (p: Tensor[]) => new AdamW(p, { lr: 0.1 }),
    ]
  ) {
    const weight = new Tensor(new Float32Array(6), [3, 2]);
    const bias = new Tensor(new Float32Array(3), [3]);
    weight.requiresGrad = bias.requiresGrad = true;
    const opt = build([weight, bias]);
    const first = crossEntropy(linear(xs, weight, bias), y).data[0];
    let last = first;
    for (let i = 0; i < 60; i++) {
      opt.zeroGrad();
      const loss = crossEntropy(linear(xs, weight, bias), y);
      loss.backward();
      opt.step();
      last = loss.data[0];
    }
    assert.ok(Math.abs(first - Math.log(3)) < 1e-6);
    assert.ok(last < 0.2, `${opt.constructor.name}: loss ${last} after 60 steps`);
  }
});

Deno.test("Module: parameters require grad; grads() is keyed and ordered like stateDictKeys(); zeroGrad clears", () => {
  const x = randn([2, 3, 8], new Rng(1));
  const models: [string, Module, () => Tensor][] = [];
  const packed = multiHeadAttention({ dModel: 8, numHeads: 2, seed: 1 });
  models.push(["mha packed", packed, () => packed.forward(x, x, x, { needWeights: false }).output]);
  const kv = randn([2, 4, 5], new Rng(2));
  const separate = multiHeadAttention({ dModel: 8, numHeads: 2, kDim: 5, vDim: 5, seed: 2 });
  models.push([
    "mha kDim/vDim",
    separate,
    () => separate.forward(x, kv, kv, { needWeights: false }).output,
  ]);
  const grouped = multiHeadAttention({ dModel: 8, numHeads: 4, numKvHeads: 2, seed: 3 });
  models.push([
    "mha grouped",
    grouped,
    () => grouped.forward(x, x, x, { needWeights: false }).output,
  ]);
  const layer = encoderLayer({ dModel: 8, numHeads: 2, dFF: 16, seed: 4 });
  models.push(["encoder layer", layer, () => layer.forward(x, { needWeights: false }).output]);
  const t = transformer({
    dModel: 8,
    numHeads: 2,
    dFF: 16,
    numEncoderLayers: 1,
    numDecoderLayers: 1,
    seed: 5,
  });
  models.push(["transformer", t, () => t.forward(x, x, { needWeights: false }).output]);
  const s2s = seq2seq({
    srcVocab: 7,
    tgtVocab: 7,
    dModel: 8,
    numHeads: 2,
    dFF: 16,
    numEncoderLayers: 1,
    numDecoderLayers: 1,
    maxLen: 8,
    shareEmbeddings: true,
    seed: 6,
  });
  models.push([
    "seq2seq shared embeddings",
    s2s,
    () => s2s.forward([[1, 2, 3]], [[1, 4]], { needWeights: false }).output,
  ]);
  for (const [name, model, run] of models) {
    for (const [key, p] of Object.entries(model.parameters())) {
      assert.ok(p.requiresGrad && p.isLeaf, `${name}: ${key} must be a leaf requiring grad`);
    }
    const before = model.grads();
    assert.deepEqual(Object.keys(before), model.stateDictKeys(), name);
    assert.ok(Object.values(before).every((g) => g === null), `${name}: no gradient yet`);
    const out = run();
    sum(mul(out, out)).backward();
    const grads = model.grads();
    assert.deepEqual(Object.keys(grads), model.stateDictKeys(), name);
    const sd = model.stateDict();
    for (const [key, g] of Object.entries(grads)) {
      if (g === null) continue; // a parameter the graph does not reach yet

      assert.deepEqual(g.shape, sd[key].shape, `${name}: ${key}`);
    }
    // the output projections always get a gradient: every path runs through them
    const outProj = Object.keys(grads).filter((k) => k.endsWith("out_proj.weight"));
    assert.ok(outProj.length > 0 && outProj.every((k) => grads[k] !== null), name);
    model.zeroGrad();
    assert.ok(Object.values(model.parameters()).every((p) => p.grad === null), name);
    assert.ok(Object.values(model.grads()).every((g) => g === null), name);
  }
});

Deno.test("MultiHeadAttention.grads(): in_proj_weight stacks the Q, K, V gradients; zeros for a missing part", () => {
  const mha = multiHeadAttention({ dModel: 4, numHeads: 2, seed: 7 });
  mha.queryWeight.grad = tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]);
  mha.valueWeight.grad = full([4, 4], -1);
  const g = mha.grads();
  assert.deepEqual(g.in_proj_weight!.shape, [12, 4]);
  assert.deepEqual([...g.in_proj_weight!.data.slice(0, 16)], [...mha.queryWeight.grad.data]);
  assert.ok(g.in_proj_weight!.data.slice(16, 32).every((v) => v === 0));
  assert.ok(g.in_proj_weight!.data.slice(32).every((v) => v === -1));
  assert.equal(g.in_proj_bias, null);
  // a copy: writing into it does not touch the parameter's gradient
  g.in_proj_weight!.data[0] = 99;
  assert.equal(mha.queryWeight.grad.data[0], 1);
});

Deno.test("decoding records no graph: greedyDecode and beamSearch run inside noGrad", () => {
  const model = seq2seq({
    srcVocab: 9,
    tgtVocab: 9,
    dModel: 8,
    numHeads: 2,
    dFF: 16,
    numEncoderLayers: 1,
    numDecoderLayers: 1,
    maxLen: 16,
    seed: 3,
  });
  const out = model.greedyDecode([[4, 5, 6]], { maxLen: 4, startToken: 1, endToken: 2 });
  for (
    const w of [...out.encoderSelfWeights, ...out.decoderSelfWeights, ...out.decoderCrossWeights]
  ) {
    assert.equal(w.requiresGrad, false);
  }
  model.beamSearch([4, 5, 6], { maxLen: 4, startToken: 1, endToken: 2, beamSize: 2 });
  assert.ok(isGradEnabled());
  // outside the decoding entry points a forward records, since the parameters require grad
  const trained = model.forward([[4, 5, 6]], [[1, 3]], { needWeights: false }).output;
  assert.equal(trained.requiresGrad, true);
  assert.equal(
    noGrad(() => model.forward([[4, 5, 6]], [[1, 3]], { needWeights: false })).output.requiresGrad,
    false,
  );
});

Deno.test("a Module trained by Adam through model.parameters() fits a linear map", () => {
  const model = new Linear(3, 2, { seed: 1 });
  const opt = new Adam(model.parameters(), { lr: 0.05 });
  const xs = randn([16, 3], new Rng(4));
  const target = noGrad(() => linear(xs, tensor([[1, -2, 0.5], [0, 1, 1]]), tensor([0.3, -0.3])));
  let loss = Infinity;
  for (let i = 0; i < 300; i++) {
    model.zeroGrad();
    const l = mseLoss(model.forward(xs), target);
    l.backward();
    opt.step();
    loss = l.data[0];
  }
  assert.ok(loss < 1e-4, `loss ${loss} after 300 steps`);
  assertClose(model.weight.data, Float32Array.of(1, -2, 0.5, 0, 1, 1), { atol: 0.02 });
});

Deno.test("without weight decay an infinite weight stays infinite (no 0·∞ NaN), as in torch.optim", () => {
  for (
    const make of [
      (p: Tensor[]) => new SGD(p, { lr: 0.1 }),
      (p: Tensor[]) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true }),
      (p: Tensor[]) => new Adam(p),
      (p: Tensor[]) => new Adam(p, { amsgrad: true }),
    ]
  ) {
    const w = tensor([Infinity, 1]);
    const opt = make([w]);
    w.grad = tensor([1, 1]);
    opt.step();
    assert.equal(w.data[0], Infinity, opt.constructor.name);
    assert.ok(Number.isFinite(w.data[1]));
  }
  // a NaN gradient reaches its weight
  const w = tensor([1]);
  w.grad = tensor([NaN]);
  new Adam([w]).step();
  assert.ok(Number.isNaN(w.data[0]));
});
