import assert from "node:assert/strict";
import fc from "fast-check";
import { loadModule, saveModule } from "../lib/io/module_io.ts";
import { seq2seq, type Seq2SeqConfig } from "../lib/models/seq2seq.ts";
import { assertClose } from "../lib/testing/assert_close.ts";

const small: Seq2SeqConfig = {
  srcVocab: 11,
  tgtVocab: 13,
  dModel: 8,
  numHeads: 2,
  dFF: 16,
  numEncoderLayers: 2,
  numDecoderLayers: 2,
  maxLen: 24,
  dropout: 0,
};

Deno.test("greedyDecode() with the KV cache equals decoding without it", () => {
  fc.assert(
    fc.property(
      fc.integer(),
      fc.array(fc.array(fc.integer({ min: 3, max: 10 }), { minLength: 4, maxLength: 4 }), {
        minLength: 1,
        maxLength: 3,
      }),
      (seed, src) => {
        const model = seq2seq({ ...small, seed });
        const opts = { maxLen: 6, startToken: 1, endToken: 2 };
        const a = model.greedyDecode(src, opts);
        const b = model.greedyDecode(src, { ...opts, useCache: false });
        assert.deepEqual(a.tokens, b.tokens);
        assertClose(a.scores.flat(), b.scores.flat(), { rtol: 1e-5, atol: 1e-5 });
        for (let l = 0; l < 2; l++) {
          assertClose(a.decoderSelfWeights[l], b.decoderSelfWeights[l], {
            rtol: 1e-5,
            atol: 1e-6,
          });
          assertClose(a.decoderCrossWeights[l], b.decoderCrossWeights[l], {
            rtol: 1e-5,
            atol: 1e-6,
          });
        }
      },
    ),
    { numRuns: 15 },
  );
});

Deno.test("greedyDecode() returns the attention of every step", () => {
  const model = seq2seq({ ...small, seed: 4 });
  const r = model.greedyDecode([[3, 4, 5, 6, 7]], { maxLen: 5, startToken: 1, endToken: 2 });
  const steps = r.decoderSelfWeights[0].shape[2];
  assert.ok(steps >= 1 && steps <= 5);
  assert.deepEqual(r.decoderSelfWeights[0].shape, [1, 2, steps, steps]);
  assert.deepEqual(r.decoderCrossWeights[1].shape, [1, 2, steps, 5]);
  assert.deepEqual(r.encoderSelfWeights[0].shape, [1, 2, 5, 5]);
  // Step t attends to t+1 target positions: its row sums to 1 over them, the future is 0.
  const w = r.decoderSelfWeights[0];
  for (let t = 0; t < steps; t++) {
    let sum = 0;
    for (let j = 0; j < steps; j++) {
      if (j > t) assert.equal(w.get(0, 0, t, j), 0);
      sum += w.get(0, 0, t, j);
    }
    assertClose(sum, 1, { atol: 1e-5 });
  }
  assert.equal(r.tokens[0].length, steps);
});

Deno.test("seq2seq() masks padded source tokens via padToken", () => {
  const model = seq2seq({ ...small, padToken: 0, seed: 2 });
  const a = model.forward([[5, 6, 7, 0, 0]], [[1, 3]]);
  const b = model.forward([[5, 6, 7, 0, 0]], [[1, 3]]);
  assert.deepEqual(a.output.data, b.output.data);
  for (let h = 0; h < 2; h++) {
    assert.equal(a.decoderCrossWeights[0].get(0, h, 0, 3), 0);
    assert.equal(a.encoderSelfWeights[1].get(0, h, 2, 4), 0);
  }
});

Deno.test("seq2seq() saved to safetensors and loaded back is bit-identical", () => {
  const model = seq2seq({ ...small, seed: 7 });
  const copy = seq2seq({ ...small, seed: 8 });
  loadModule(copy, saveModule(model, { name: "small" }));
  const a = model.forward([[3, 4, 5]], [[1, 6, 7]]);
  const b = copy.forward([[3, 4, 5]], [[1, 6, 7]]);
  assert.deepEqual(b.output.data, a.output.data);
});

Deno.test("seq2seq() shares embeddings only when vocabularies agree", () => {
  const shared = seq2seq({ ...small, srcVocab: 13, shareEmbeddings: true });
  assert.equal(shared.srcEmbedding, shared.tgtEmbedding);
  assert.ok(!Object.keys(shared.stateDict()).some((k) => k.startsWith("tgtEmbedding")));
  assert.throws(() => seq2seq({ ...small, shareEmbeddings: true }), /srcVocab === tgtVocab/);
});

Deno.test("seq2seq() rejects bad input at the edge", async (t) => {
  const model = seq2seq(small);
  await t.step("token id out of range names the id and the vocabulary", () => {
    assert.throws(
      () => model.forward([[3, 11]], [[1]]),
      /id 11 at ids\[0\]\[1\] is not an integer in \[0, 11\) \(vocabulary size 11\)/,
    );
  });
  await t.step("ragged batch", () => {
    assert.throws(() => model.encode([[1, 2], [3]]), /same length/);
  });
  await t.step("longer than the positional table", () => {
    assert.throws(() => model.encode([Array(30).fill(3)]), /beyond maxLen=24/);
    assert.throws(
      () => model.greedyDecode([[3]], { maxLen: 99, startToken: 1, endToken: 2 }),
      /maxLen must be an integer in \[1, 24\]/,
    );
  });
  await t.step("start/end tokens outside the vocabulary", () => {
    assert.throws(
      () => model.greedyDecode([[3]], { maxLen: 3, startToken: 13, endToken: 2 }),
      /startToken=13 is outside \[0, tgtVocab=13\)/,
    );
  });
});

Deno.test("beamSearch() hypotheses score what teacher forcing says they do", () => {
  const model = seq2seq({ ...small, padToken: 0, seed: 5 });
  const src = [3, 4, 5, 6, 0];
  const beams = model.beamSearch(src, { beamSize: 3, maxLen: 6, startToken: 1, endToken: 2 });
  assert.ok(beams.length >= 1 && beams.length <= 3);
  for (let i = 1; i < beams.length; i++) assert.ok(beams[i - 1].score >= beams[i].score);
  for (const beam of beams) {
    // Independent check: re-score the hypothesis with one teacher-forced pass.
    const { output: logProbs } = model.forward([src], [[1, ...beam.tokens.slice(0, -1)]]);
    const v = small.tgtVocab;
    const sum = beam.tokens.reduce((s, tok, t) => s + logProbs.data[t * v + tok], 0);
    assertClose(beam.logProb, sum, { rtol: 1e-4, atol: 1e-4 });
    const penalty = ((5 + beam.tokens.length) / 6) ** 0.6;
    assertClose(beam.score, beam.logProb / penalty, { rtol: 1e-6 });
  }
});

Deno.test("beamSearch() with one beam and no length penalty is greedy decoding", () => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const model = seq2seq({ ...small, seed });
      const opts = { maxLen: 6, startToken: 1, endToken: 2 };
      const [best] = model.beamSearch([[7, 8, 9]], { ...opts, beamSize: 1, lengthPenalty: 0 });
      assert.deepEqual(best.tokens, model.greedyDecode([[7, 8, 9]], opts).tokens[0]);
    }),
    { numRuns: 10 },
  );
  const model = seq2seq(small);
  const opts = { maxLen: 3, startToken: 1, endToken: 2, beamSize: 2 };
  assert.throws(() => model.beamSearch([[3], [4]], opts), /one source sequence, got a batch of 2/);
  assert.throws(
    () => model.beamSearch([3], { ...opts, beamSize: 0 }),
    /beamSize must be a positive integer/,
  );
  assert.throws(() => model.beamSearch([3], { ...opts, lengthPenalty: -1 }), /lengthPenalty/);
});
