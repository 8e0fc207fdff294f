// GPT (lib/models/gpt.ts): shapes, the causal property, the module convention, the LM loss
// against a float64 reference, generation with and without the KV cache, and a short training run.
import assert from "node:assert/strict";
import {
  Adam,
  GPT,
  gpt,
  GPTBlock,
  type GPTConfig,
  type KVCache,
  scale,
  type Tensor,
} from "../mod.ts";
import { assertClose } from "../lib/testing/assert_close.ts";

const small: GPTConfig = { vocabSize: 11, blockSize: 12, dModel: 8, numHeads: 2, numLayers: 2 };

/** Row-major `[B, T, V]` logits as nested arrays. */
const nested = (t: Tensor) => t.toArray() as number[][][];

Deno.test("GPT.forward: logits [B, T, V], one [B, H, T, T] map per block", () => {
  for (const extra of [{}, { attentionOnly: true }, { normFirst: false }, { tieWeights: false }]) {
    const model = gpt({ ...small, ...extra });
    const { output, selfWeights } = model.forward([[1, 2, 3, 4], [5, 6, 7, 8]]);
    assert.deepEqual(output.shape, [2, 4, 11]);
    assert.equal(selfWeights.length, 2);
    for (const w of selfWeights) assert.deepEqual(w.shape, [2, 2, 4, 4]);
    assert.ok(output.data.every(Number.isFinite));
  }
});

Deno.test("GPT.forward: the logits at position i do not depend on tokens after i", () => {
  for (const positional of ["learned", "sinusoidal"] as const) {
    const model = gpt({ ...small, positional, seed: 5 });
    const a = nested(model.forward([[1, 2, 3, 4, 5, 6]]).output)[0];
    const b = nested(model.forward([[1, 2, 3, 9, 0, 10]]).output)[0];
    // positions 0..2 see the same prefix: equal up to float32 rounding of the kernels
    assertClose(a.slice(0, 3), b.slice(0, 3), { atol: 1e-6, rtol: 0 });
    assert.ok(Math.abs(a[3][0] - b[3][0]) > 1e-6, "position 3 reads its own (changed) token");
  }
});

Deno.test("GPT.forward: unbatched [T] equals B = 1; needWeights: false gives identical logits", () => {
  const model = gpt({ ...small, seed: 2 });
  const batched = model.forward([[3, 1, 4, 1, 5]]);
  const single = model.forward([3, 1, 4, 1, 5]);
  assert.deepEqual(single.output.shape, [5, 11]);
  assert.deepEqual(single.selfWeights[0].shape, [2, 5, 5]);
  assert.deepEqual(single.output.toArray(), nested(batched.output)[0]);
  const noMaps = model.forward([[3, 1, 4, 1, 5]], { needWeights: false });
  assert.equal(noMaps.selfWeights, undefined);
  assert.deepEqual(Array.from(noMaps.output.data), Array.from(batched.output.data));
});

Deno.test("GPT.forward with caches, one token at a time, equals the full pass", () => {
  const model = gpt({ ...small, seed: 8 });
  const ids = [2, 7, 1, 8, 2, 8];
  const full = nested(model.forward([ids]).output)[0];
  const caches = model.createCaches();
  ids.forEach((id, t) => {
    const step = nested(model.forward([[id]], { caches }).output)[0][0];
    assertClose(step, full[t], { atol: 1e-5, rtol: 1e-5 });
  });
  assert.equal(caches[0].length, ids.length);
});

Deno.test("GPT.lmLoss: shifted next-token cross-entropy, pad targets ignored (float64 reference)", () => {
  const model = gpt({ ...small, padId: 0, seed: 4 });
  const ids = [[5, 3, 9, 2, 0, 0], [1, 4, 1, 5, 9, 2]];
  const loss = model.lmLoss(ids).data[0];
  let sum = 0, count = 0;
  ids.forEach((row) => {
    const logits = nested(model.forward([row.slice(0, -1)]).output)[0];
    for (let t = 0; t + 1 < row.length; t++) {
      const target = row[t + 1];
      if (target === 0) continue;
      const z = logits[t];
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      sum += lse - z[target];
      count++;
    }
  });
  assert.equal(count, 8);
  assertClose([loss], [sum / count], { atol: 1e-5, rtol: 1e-5 });
  assert.throws(() => model.lmLoss([[3]]), /at least 2 tokens/);
  assert.throws(() => model.lmLoss([[3, 0, 0]]), /every target is the pad id 0/);
});

Deno.test("GPT.lmLoss backward gives every parameter a finite, non-zero gradient", () => {
  for (const extra of [{}, { tieWeights: false, normFirst: false }, { attentionOnly: true }]) {
    const model = gpt({ ...small, ...extra, seed: 6 });
    model.lmLoss([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]]).backward();
    const grads = model.grads();
    assert.ok(Object.keys(grads).length > 0);
    for (const [name, g] of Object.entries(grads)) {
      assert.ok(g !== null, `${name} has no gradient`);
      assert.ok(g.data.every(Number.isFinite), `${name} has a non-finite gradient`);
      assert.ok(g.data.some((v) => v !== 0), `${name} has an all-zero gradient`);
    }
  }
});

Deno.test("GPT.generate: the KV cache gives the tokens of the full re-run, greedy and sampled", () => {
  const model = gpt({ ...small, blockSize: 20, seed: 9 });
  const prompt = [[1, 2, 3], [4, 5, 6]];
  for (const opts of [{ temperature: 0 }, { temperature: 1.5, topK: 4, seed: 3 }]) {
    const cached = model.generate(prompt, { maxNewTokens: 10, ...opts });
    const plain = model.generate(prompt, { maxNewTokens: 10, ...opts, useCache: false });
    assert.deepEqual(cached.tokens, plain.tokens);
    assert.equal(cached.tokens[0].length, 10);
  }
});

Deno.test("GPT.generate: greedy is the argmax of the logits and deterministic; seeds repeat", () => {
  const model = gpt({ ...small, seed: 11 });
  const greedy = model.generate([4, 4, 2], { maxNewTokens: 4, temperature: 0 });
  assert.deepEqual(model.generate([4, 4, 2], { maxNewTokens: 4, temperature: 0 }), greedy);
  // each greedy token is the argmax of the full forward pass on the sequence so far
  const seq = [4, 4, 2];
  for (const token of greedy.tokens[0]) {
    const last = nested(model.forward([seq]).output)[0][seq.length - 1];
    assert.equal(token, last.indexOf(Math.max(...last)));
    seq.push(token);
  }
  const a = model.generate([4, 4, 2], { maxNewTokens: 6, temperature: 2, seed: 7 });
  const b = model.generate([4, 4, 2], { maxNewTokens: 6, temperature: 2, seed: 7 });
  assert.deepEqual(a, b);
  const draws = new Set(
    Array.from(
      { length: 12 },
      (_, s) => model.generate([4], { maxNewTokens: 3, temperature: 2, seed: s }).tokens[0].join(),
    ),
  );
  assert.ok(draws.size > 1, "different seeds sample different continuations");
});

Deno.test("GPT.generate: top-k never samples outside the k most likely tokens", () => {
  const model = gpt({ ...small, seed: 12 });
  const last = nested(model.forward([[3, 5]]).output)[0][1];
  const order = last.map((v, j) => [v, j]).sort((x, y) => y[0] - x[0]).map(([, j]) => j);
  const top3 = new Set(order.slice(0, 3));
  const seen = new Set<number>();
  for (let seed = 0; seed < 200; seed++) {
    const [t] = model.generate([3, 5], { maxNewTokens: 1, temperature: 10, topK: 3, seed })
      .tokens[0];
    assert.ok(top3.has(t), `token ${t} is not among the top 3 ${[...top3]}`);
    seen.add(t);
  }
  assert.equal(seen.size, 3, "a high temperature reaches each of the top 3");
  const one = model.generate([3, 5], { maxNewTokens: 1, temperature: 1, topK: 1, seed: 1 });
  assert.equal(one.tokens[0][0], order[0]);
});

Deno.test("GPT.generate: options are validated", () => {
  const model = gpt(small);
  const g = (o: object) => model.generate([1, 2], { maxNewTokens: 2, ...o });
  assert.throws(() => g({ temperature: -1 }), RangeError);
  assert.throws(
    () => g({ temperature: "0" }),
    (e: Error) => e instanceof TypeError && /"0"/.test(e.message),
  );
  assert.throws(() => g({ temperature: NaN }), RangeError);
  assert.throws(() => g({ topK: 0 }), RangeError);
  assert.throws(() => g({ topK: 1.5 }), RangeError);
  assert.throws(() => g({ rng: 3 }), TypeError);
  assert.throws(() => g({ useCache: "yes" }), TypeError);
  assert.throws(() => g({ stopToken: 11 }), /stopToken=11 must be < vocabSize=11/);
  assert.throws(() => model.generate([1, 2], { maxNewTokens: 11 }), /past blockSize=12/);
  assert.throws(() => model.generate([1, 99], { maxNewTokens: 1 }), /id 99/);
  const stopped = model.generate([1, 2], { maxNewTokens: 5, temperature: 0, stopToken: 0 });
  const free = model.generate([1, 2], { maxNewTokens: 5, temperature: 0 }).tokens[0];
  const cut = free.indexOf(0);
  assert.deepEqual(stopped.tokens[0], cut < 0 ? free : free.slice(0, cut + 1));
});

Deno.test("gpt: config validation names the option and shows the value", () => {
  assert.throws(() => gpt(null as unknown as GPTConfig), TypeError);
  assert.throws(() => gpt({ ...small, dModel: 9 }), /divisible by numHeads/);
  assert.throws(
    () => gpt({ ...small, tieWeights: "no" as unknown as boolean }),
    (e: Error) => e instanceof TypeError && /tieWeights/.test(e.message) && /"no"/.test(e.message),
  );
  assert.throws(() => gpt({ ...small, positional: "rope" as "learned" }), /positional/);
  assert.throws(() => gpt({ ...small, dropout: 1 }), RangeError);
  assert.throws(() => gpt({ ...small, padId: 11 }), /padId=11/);
  assert.throws(() => gpt({ ...small, numLayers: -1 }), RangeError);
  assert.throws(() => gpt(small).forward([[1, 2]], { caches: [] }), /one KVCache per block/);
  assert.throws(() => gpt(small).forward([Array(13).fill(1)]), /past blockSize=12/);
});

Deno.test("GPT.stateDict: nanoGPT names; a tied head is stored once; seeds repeat", () => {
  const keys = Object.keys(gpt({ ...small, numLayers: 1 }).stateDict()).sort();
  assert.deepEqual(keys, [
    "h.0.attn.in_proj_bias",
    "h.0.attn.in_proj_weight",
    "h.0.attn.out_proj.bias",
    "h.0.attn.out_proj.weight",
    "h.0.ln_1.bias",
    "h.0.ln_1.weight",
    "h.0.ln_2.bias",
    "h.0.ln_2.weight",
    "h.0.mlp.linear1.bias",
    "h.0.mlp.linear1.weight",
    "h.0.mlp.linear2.bias",
    "h.0.mlp.linear2.weight",
    "ln_f.bias",
    "ln_f.weight",
    "wpe.weight",
    "wte.weight",
  ]);
  const untied = Object.keys(
    gpt({ ...small, numLayers: 0, tieWeights: false, positional: "sinusoidal" }).stateDict(),
  );
  assert.deepEqual(untied.sort(), ["lm_head.weight", "ln_f.bias", "ln_f.weight", "wte.weight"]);
  const a = gpt({ ...small, seed: 1 }).stateDict(), b = gpt({ ...small, seed: 1 }).stateDict();
  for (const k of Object.keys(a)) assert.deepEqual(Array.from(a[k].data), Array.from(b[k].data));
  const c = gpt({ ...small, seed: 2 }).stateDict();
  assert.notDeepEqual(Array.from(a["wte.weight"].data), Array.from(c["wte.weight"].data));
  assert.ok(gpt(small) instanceof GPT);
});

Deno.test("GPT: a tiny model learns a repeating sequence with Adam (the loss falls)", () => {
  for (const attentionOnly of [false, true]) {
    const model = gpt({
      vocabSize: 6,
      blockSize: 12,
      dModel: 16,
      numHeads: 2,
      numLayers: 1,
      attentionOnly,
      seed: 0,
    });
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    // 0 1 2 3 4 5 0 1 ...: the next token is a function of the current one
    const batch = [0, 2, 4].map((s) => Array.from({ length: 12 }, (_, t) => (s + t) % 6));
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) {
      opt.zeroGrad();
      const loss = model.lmLoss(batch);
      loss.backward();
      opt.step();
      losses.push(loss.data[0]);
    }
    const first = losses[0], last = losses[losses.length - 1];
    assert.ok(first > 1.5, `starts near log 6 = 1.79, got ${first}`);
    assert.ok(last < 0.25 * first, `loss ${first} -> ${last} should fall below a quarter`);
    const { tokens } = model.generate([2, 3], { maxNewTokens: 4, temperature: 0 });
    assert.deepEqual(tokens[0], [4, 5, 0, 1]);
  }
});

Deno.test("GPT attention-only, one block: logits equal a float64 loop over the parameters", () => {
  const model = gpt({
    vocabSize: 7,
    blockSize: 6,
    dModel: 4,
    numHeads: 2,
    numLayers: 1,
    attentionOnly: true,
    seed: 13,
  });
  // N(0, 1) embeddings instead of GPT-2's N(0, 0.02²), so the logits are of order 1
  const scaled = Object.fromEntries(
    Object.entries(model.stateDict()).map(([k, w]) => [k, k.startsWith("w") ? scale(w, 50) : w]),
  );
  model.loadStateDict(scaled);
  const sd = model.stateDict();
  assert.ok(Math.max(...Array.from(model.forward([1, 2]).output.data, Math.abs)) > 1);
  const get = (k: string) => Array.from(sd[k].data);
  const [wte, wpe, wIn, bIn, wOut, bOut] = [
    "wte.weight",
    "wpe.weight",
    "h.0.attn.in_proj_weight",
    "h.0.attn.in_proj_bias",
    "h.0.attn.out_proj.weight",
    "h.0.attn.out_proj.bias",
  ].map(get);
  const ids = [3, 0, 6, 3, 1];
  const e = 4, heads = 2, dh = 2, t = ids.length;
  // x_t = wte[id_t] + wpe[t]
  const x = ids.map((id, p) =>
    Array.from({ length: e }, (_, j) => wte[id * e + j] + wpe[p * e + j])
  );
  // q, k, v = x W_inᵀ + b_in, rows 0..E-1, E..2E-1, 2E..3E-1 of in_proj_weight
  const proj = (r: number[], block: number) =>
    Array.from({ length: e }, (_, o) => {
      let s = bIn[block * e + o];
      for (let j = 0; j < e; j++) s += r[j] * wIn[(block * e + o) * e + j];
      return s;
    });
  const q = x.map((r) => proj(r, 0)), k = x.map((r) => proj(r, 1)), v = x.map((r) => proj(r, 2));
  const logits: number[][] = [];
  for (let i = 0; i < t; i++) {
    const concat = new Array<number>(e).fill(0);
    for (let h = 0; h < heads; h++) {
      const scores: number[] = [];
      for (let j = 0; j <= i; j++) { // causal: keys 0..i
        let s = 0;
        for (let d = 0; d < dh; d++) s += q[i][h * dh + d] * k[j][h * dh + d];
        scores.push(s / Math.sqrt(dh));
      }
      const m = Math.max(...scores);
      const w = scores.map((s) => Math.exp(s - m));
      const z = w.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; j++) {
        for (let d = 0; d < dh; d++) concat[h * dh + d] += (w[j] / z) * v[j][h * dh + d];
      }
    }
    // residual: x + out_proj(concat); then the tied head: · wteᵀ
    const y = Array.from({ length: e }, (_, o) => {
      let s = bOut[o];
      for (let j = 0; j < e; j++) s += concat[j] * wOut[o * e + j];
      return x[i][o] + s;
    });
    logits.push(
      Array.from({ length: 7 }, (_, c) => y.reduce((s, yj, j) => s + yj * wte[c * e + j], 0)),
    );
  }
  assertClose(model.forward(ids).output.toArray() as number[][], logits, {
    atol: 1e-6,
    rtol: 1e-5,
  });
});

Deno.test("GPTBlock validates its options; GPTBlock.forward its cache and needWeights", () => {
  const ok = {
    dModel: 4,
    numHeads: 2,
    dFF: 8,
    dropout: 0,
    activation: "gelu" as const,
    normFirst: true,
    attentionOnly: false,
    layerNormEps: 1e-5,
    seed: 0,
  };
  assert.throws(
    () => new GPTBlock({ ...ok, normFirst: "yes" as unknown as boolean }),
    /normFirst.*"yes"/,
  );
  assert.throws(() => new GPTBlock({ ...ok, dFF: 0 }), RangeError);
  const block = new GPTBlock(ok);
  const x = gpt(small).wte.forward([[1, 2]]).reshape([1, 2, 8]);
  assert.throws(
    () => new GPTBlock({ ...ok, dModel: 8 }).forward(x, { cache: {} as KVCache }),
    TypeError,
  );
  assert.throws(
    () => new GPTBlock({ ...ok, dModel: 8 }).forward(x, { needWeights: 1 as unknown as boolean }),
    TypeError,
  );
  assert.ok(block instanceof GPTBlock);
});
