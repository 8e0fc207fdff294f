// Head analysis scores against float64 loops on hand-made attention maps whose answer is known,
// and on a tiny random attention-only GPT (values in [0, 1], shapes [layers, heads]).
import assert from "node:assert/strict";
import {
  alignmentScore,
  assertClose,
  causalMask,
  copyingScore,
  gpt,
  mask,
  prefixMatchingScore,
  previousTokenScore,
  rand,
  Rng,
  softmax,
  Tensor,
  tensor,
} from "../mod.ts";
import { inductionExample, inductionTargets } from "../tasks/induction.ts";

// float32 storage of a float64 mean: the scores are means of float32 weights
const TOL = { atol: 1e-6, rtol: 1e-6 };

/** Random causal attention `[B, H, T, T]`: softmax of random scores under the causal mask. */
function randomCausal(b: number, h: number, t: number, seed: number): Tensor {
  const scores = rand([b, h, t, t], new Rng(seed));
  const m = causalMask(t);
  const d = scores.data.slice();
  for (let i = 0; i < d.length; i++) if (!m.data[i % (t * t)]) d[i] = -Infinity;
  return softmax(new Tensor(d, [b, h, t, t]));
}

/** Map `[B, H, T, T]` with weight 1 on `key(i)` for every query i. */
function oneHot(b: number, h: number, t: number, key: (i: number) => number): Tensor {
  const d = new Float32Array(b * h * t * t);
  for (let bh = 0; bh < b * h; bh++) for (let i = 0; i < t; i++) d[bh * t * t + i * t + key(i)] = 1;
  return new Tensor(d, [b, h, t, t]);
}

Deno.test("previousTokenScore: a perfect previous-token head scores 1, uniform causal the mean of 1/(i+1)", () => {
  const t = 9;
  assertClose(previousTokenScore(oneHot(2, 3, t, (i) => Math.max(i - 1, 0))), [1, 1, 1], TOL);
  const uniform = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = 0; j <= i; j++) uniform[i * t + j] = 1 / (i + 1);
  let expected = 0;
  for (let i = 1; i < t; i++) expected += 1 / (i + 1);
  assertClose(previousTokenScore(new Tensor(uniform, [1, t, t])), [expected / (t - 1)], TOL);
  // a head on the token itself scores 0
  assertClose(previousTokenScore(oneHot(1, 1, t, (i) => i)), [0], TOL);
});

Deno.test("previousTokenScore: random causal maps against a float64 loop", () => {
  const [b, h, t] = [3, 4, 7];
  const w = randomCausal(b, h, t, 11);
  const ref = new Float64Array(h);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let i = 1; i < t; i++) ref[hi] += w.get(bi, hi, i, i - 1) / (b * (t - 1));
    }
  }
  assertClose(previousTokenScore(w), Array.from(ref), TOL);
});

Deno.test("prefixMatchingScore: a perfect induction pattern scores 1 on the repeat, from ids or targets", () => {
  const e = inductionExample(new Rng(4), { period: 6, randomTokens: 10, distinct: true });
  const t = e.ids.length;
  // induction head: from the repeat to the token after the first occurrence; elsewhere <bos>
  const w = oneHot(2, 1, t, (i) => (i >= e.repeatStart ? i - e.period + 1 : 0));
  assertClose(prefixMatchingScore(w, { ids: e.ids }), [1], TOL);
  assertClose(prefixMatchingScore(w, { targets: inductionTargets(e) }), [1], TOL);
  const twice = [...inductionTargets(e), ...inductionTargets(e)]; // listed twice, counted once
  assertClose(prefixMatchingScore(w, { targets: twice }), [1], TOL);
  assertClose(prefixMatchingScore(w, { ids: [e.ids, e.ids] }), [1], TOL);
  // a previous-token head scores 0 on the repeat (distinct tokens: the target is never i - 1)
  const prev = oneHot(1, 1, t, (i) => Math.max(i - 1, 0));
  assertClose(prefixMatchingScore(prev, { ids: e.ids }), [0], TOL);
});

Deno.test("prefixMatchingScore: random causal maps against a float64 loop over repeated tokens", () => {
  const [b, h] = [2, 3];
  const ids = [[0, 3, 1, 3, 3, 1, 2], [0, 2, 2, 2, 1, 0, 1]]; // tokens seen 1, 2, 3 times before
  const t = ids[0].length;
  const w = randomCausal(b, h, t, 5);
  const ref = new Float64Array(h);
  let queries = 0;
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < t; i++) {
      const keys = [];
      for (let j = 0; j < i; j++) if (ids[bi][j] === ids[bi][i]) keys.push(j + 1);
      if (keys.length === 0) continue;
      queries++;
      for (let hi = 0; hi < h; hi++) for (const k of keys) ref[hi] += w.get(bi, hi, i, k);
    }
  }
  assertClose(prefixMatchingScore(w, { ids }), Array.from(ref, (v) => v / queries), TOL);
});

Deno.test("alignmentScore: function, pairs and matrix agree with a float64 loop; the anti-diagonal scores 1", () => {
  const [b, h, t, s] = [2, 3, 4, 5];
  const w = softmax(rand([b, h, t, s], new Rng(9)));
  const f = (q: number) => (q === 0 ? [] : q === 1 ? [0, 4] : [q]);
  const pairs: [number, number][] = [[1, 0], [1, 4], [2, 2], [3, 3]];
  const matrix = new Float32Array(t * s);
  for (const [q, j] of pairs) matrix[q * s + j] = 1;
  const ref = new Float64Array(h);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) for (const [q, j] of pairs) ref[hi] += w.get(bi, hi, q, j);
  }
  const expected = Array.from(ref, (v) => v / (3 * b)); // queries 1, 2, 3 are scored
  assertClose(alignmentScore(w, f), expected, TOL);
  assertClose(alignmentScore(w, pairs), expected, TOL);
  assertClose(alignmentScore(w, new Tensor(matrix, [t, s])), expected, TOL);
  const m = mask(
    Array.from(
      { length: t },
      (_, q) => Array.from({ length: s }, (_, j) => matrix[q * s + j] === 1),
    ),
  );
  assertClose(alignmentScore(w, m), expected, TOL);
  // reverse: output t reads source S - 1 - t
  const anti = new Float32Array(s * s);
  for (let q = 0; q < s; q++) anti[q * s + s - 1 - q] = 1;
  assertClose(alignmentScore(new Tensor(anti, [1, s, s]), (q) => s - 1 - q), [1], TOL);
  // uniform attention over S sources scores 1/S
  assertClose(
    alignmentScore(new Tensor(new Float32Array(s * s).fill(1 / s), [1, s, s]), (q) => q),
    [1 / s],
    TOL,
  );
});

Deno.test("copyingScore: an attention-only GPT's scores against a float64 loop over its parameters", () => {
  const model = gpt({
    vocabSize: 10,
    blockSize: 8,
    dModel: 8,
    numHeads: 2,
    numLayers: 2,
    attentionOnly: true,
    seed: 7,
  });
  const { vocabSize: v, dModel: d, numHeads: hs } = model.config;
  const dh = d / hs;
  const e = (s: number, j: number) => model.wte.weight.get(s, j);
  const ref: number[] = [];
  for (const block of model.blocks) {
    for (let h = 0; h < hs; h++) {
      let copies = 0;
      for (let s = 0; s < v; s++) {
        const col = new Float64Array(v);
        for (let r = 0; r < v; r++) {
          for (let i = 0; i < d; i++) {
            for (let k = 0; k < dh; k++) {
              for (let j = 0; j < d; j++) {
                col[r] += e(r, i) * block.attn.outputWeight.get(i, h * dh + k) *
                  block.attn.valueWeight.get(h * dh + k, j) * e(s, j);
              }
            }
          }
        }
        if (col.every((c, r) => r === s || col[s] > c)) copies++;
      }
      ref.push(Math.fround(copies / v)); // the Tensor stores float32
    }
  }
  const score = copyingScore(model);
  assert.deepEqual(score.shape, [2, 2]);
  assertClose(score, ref, { atol: 0, rtol: 0 });
});

Deno.test("copyingScore: a head whose OV circuit is the identity copies every token", () => {
  const model = gpt({
    vocabSize: 6,
    blockSize: 4,
    dModel: 6,
    numHeads: 1,
    numLayers: 1,
    attentionOnly: true,
    tieWeights: false,
  });
  const eye = (t: Tensor) => t.data.forEach((_, i) => (t.data[i] = i % 7 === 0 ? 1 : 0)); // [6, 6] identity
  eye(model.wte.weight);
  eye(model.lmHead!.weight);
  eye(model.blocks[0].attn.valueWeight);
  eye(model.blocks[0].attn.outputWeight);
  assertClose(copyingScore(model), [1], { atol: 0, rtol: 0 });
  model.blocks[0].attn.outputWeight.data.forEach((v, i, a) => (a[i] = -v)); // an anti-copying head
  assertClose(copyingScore(model), [0], { atol: 0, rtol: 0 });
});

Deno.test("head scores on a tiny random attention-only GPT: [layers, heads] in [0, 1]", () => {
  const model = gpt({
    vocabSize: 12,
    blockSize: 16,
    dModel: 8,
    numHeads: 2,
    numLayers: 2,
    attentionOnly: true,
    seed: 1,
  });
  const e = inductionExample(new Rng(2), { period: 5, randomTokens: 11, distinct: true });
  const { selfWeights } = model.forward([e.ids, e.ids]);
  const prev = selfWeights.map((w) => Array.from(previousTokenScore(w).data));
  const prefix = selfWeights.map((w) => Array.from(prefixMatchingScore(w, { ids: e.ids }).data));
  const copy = copyingScore(model);
  for (const scores of [prev, prefix]) {
    assert.equal(scores.length, 2);
    for (const row of scores) {
      assert.equal(row.length, 2);
      for (const v of row) assert.ok(v >= 0 && v <= 1, `score ${v} in [0, 1]`);
    }
  }
  assert.deepEqual(copy.shape, [2, 2]);
  for (const v of copy.data) assert.ok(v >= 0 && v <= 1);
});

Deno.test("head scores: NaN reaches the score; bad input gets errors naming function, argument and rule", () => {
  const w = oneHot(1, 2, 3, (i) => Math.max(i - 1, 0));
  w.data[3] = NaN; // head 0, query 1, key 0
  const score = previousTokenScore(w);
  assert.ok(Number.isNaN(score.data[0]) && score.data[1] === 1);
  assert.throws(
    () => previousTokenScore(tensor([[1]])),
    /previousTokenScore: weights must be \[B\?, H, T, T\] \(rank 3 or 4\), got shape \[1, 1\]/,
  );
  assert.throws(
    () => previousTokenScore(new Tensor(new Float32Array(6), [1, 2, 3])),
    /previousTokenScore: weights must be self-attention .* T=2 queries and S=3 keys/,
  );
  assert.throws(
    () => previousTokenScore(tensor([[[0, 0], [1.5, 0]]])),
    /previousTokenScore: weights must hold attention weights in \[0, 1\], got 1.5/,
  );
  assert.throws(() => previousTokenScore([[1]] as unknown as Tensor), TypeError);
  const sq = oneHot(1, 1, 4, () => 0);
  assert.throws(
    () => prefixMatchingScore(sq, { ids: [1, 2, 3] }),
    /prefixMatchingScore: spec.ids row 0 must hold T=4 token ids/,
  );
  assert.throws(
    () => prefixMatchingScore(sq, { ids: [1, 2, 3, 4] }),
    /prefixMatchingScore: spec gives no query with a target/,
  );
  assert.throws(
    () => prefixMatchingScore(sq, { targets: [{ query: 1, key: 2 }] }),
    /0 <= key <= query < T=4/,
  );
  assert.throws(
    () => prefixMatchingScore(sq, { ids: [[1, 2, 1, 2], [1, 2, 1, 2]] }),
    /spec.ids has 2 rows but weights has B=1/,
  );
  assert.throws(() => prefixMatchingScore(sq, {} as never), TypeError);
  const cross = new Tensor(new Float32Array(6).fill(0.5), [1, 3, 2]);
  assert.throws(
    () => alignmentScore(cross, (t) => t),
    /alignmentScore: expected source of query 2 must be an integer in \[0, S=2\), got 2/,
  );
  assert.throws(
    () => alignmentScore(cross, [[3, 0]]),
    /expected\[0\] must be a pair \[t, s\] with 0 <= t < T=3/,
  );
  assert.throws(
    () => alignmentScore(cross, tensor([[1, 0], [0, 1]])),
    /must be a \[T, S\] = \[3, 2\] matrix, got shape \[2, 2\]/,
  );
  assert.throws(
    () => alignmentScore(cross, tensor([[1, 0], [0, 2], [0, 0]])),
    /must hold only 0 and 1, got 2/,
  );
  assert.throws(() => alignmentScore(cross, () => []), /expected names no \(t, s\) pair/);
  assert.throws(() => copyingScore({} as never), /copyingScore: model must be a GPT/);
});
