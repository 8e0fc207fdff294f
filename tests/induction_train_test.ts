// The decoder-only (GPT) training path: its loop, determinism, the checkpoint and its training
// record, the shipped induction checkpoint, and `deno task predict induction`.
//
// Exact match for `induction` (the ">= 99% exact match"): a sequence <bos> x_1..x_p
// x_1..x_p counts when the model, reading <bos> x_1..x_p x_1, greedily continues with exactly
// x_2..x_p. The repeat's first token is left out: nothing in the sequence says where the repeat
// starts, so no model can predict it. scoreSequences computes this by teacher forcing (every
// argmax from the repeat's second token right), which the greedy-decoding test below checks.
import assert from "node:assert/strict";

import { prefixMatchingScore, previousTokenScore } from "../mod.ts";
import { inductionSplits, InductionVocab } from "../tasks/induction.ts";
import {
  loadGPTCheckpoint,
  parseCheckpoint,
  parseGPTCheckpoint,
  shippedCheckpoint,
} from "../train/checkpoint.ts";
import {
  continueTexts,
  lmExactMatch,
  lmTrainSteps,
  scoreSequences,
  trainLMTask,
} from "../train/lm_trainer.ts";
import {
  getLMTask,
  getTask,
  inductionTask,
  type LMSequence,
  type LMTaskSpec,
  reverseTask,
} from "../train/tasks.ts";
import { trainTask } from "../train/trainer.ts";
import { predict } from "./_cli.ts";

// A tiny task: period 4 over 8 tokens, a 16-wide model.
const tinyVocab = new InductionVocab(8);
const asSequences = (list: { ids: number[]; repeatStart: number }[]): LMSequence[] =>
  list.map((e) => ({ ids: e.ids, scoredFrom: e.repeatStart + 1, group: "4" }));
const tinyTask: LMTaskSpec = {
  ...inductionTask,
  vocab: tinyVocab,
  splits() {
    const s = inductionSplits({
      period: 4,
      randomTokens: 8,
      sizes: { train: 200, validation: 20, test: 20 },
    });
    return {
      train: asSequences(s.train),
      validation: asSequences(s.validation),
      test: asSequences(s.test),
    };
  },
  probeGroup: "4",
  probeSize: 8,
  probeEvery: 10,
  model: { ...inductionTask.model, vocabSize: 9, blockSize: 9, dModel: 16, numHeads: 2 },
  steps: 60,
  batchSize: 16,
  maxLr: 3e-2,
  warmupSteps: 5,
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

Deno.test("trainLMTask: a tiny induction model's loss falls; two runs give identical bytes", () => {
  const a = trainLMTask(tinyTask, { seed: 3 });
  const t = a.info.training;
  assert.equal(t.steps, 60);
  assert.equal(t.loss.length, 60); // every = max(1, floor(60 / 50)) = 1 step
  assert.ok(
    mean(t.loss.slice(-10)) < 0.9 * mean(t.loss.slice(0, 10)),
    `loss ${mean(t.loss.slice(0, 10))} -> ${mean(t.loss.slice(-10))}`,
  );
  // The probe: step 0 and every 10 steps, [layer][head] scores.
  const p = t.probe;
  assert.deepEqual(p.steps, [0, 10, 20, 30, 40, 50, 60]);
  assert.equal(p.size, 8);
  for (const column of [p.loss, p.repeatLoss, p.otherLoss, p.repeatAccuracy]) {
    assert.equal(column.length, 7);
    assert.ok(column.every(Number.isFinite));
  }
  assert.ok(p.repeatLoss.at(-1)! < 0.9 * p.repeatLoss[0], `repeat loss ${p.repeatLoss}`);
  for (const scores of [...p.previousToken, ...p.prefixMatching]) {
    assert.equal(scores.length, 2);
    assert.ok(scores.every((s) => s.length === 2 && s.every((v) => v >= 0 && v <= 1)));
  }
  const b = trainLMTask(tinyTask, { seed: 3 });
  assert.equal(b.bytes.length, a.bytes.length);
  assert.ok(b.bytes.every((x, i) => x === a.bytes[i]), "checkpoint bytes differ between runs");
  // the step-by-step generator is the same run
  const run = lmTrainSteps(tinyTask, { seed: 3 });
  let yielded = 0;
  let next = run.next();
  for (; !next.done; next = run.next()) assert.equal(next.value.step, ++yielded);
  assert.equal(yielded, 60);
  assert.ok(next.value.bytes.every((x, i) => x === a.bytes[i]), "lmTrainSteps bytes differ");
  const c = trainLMTask(tinyTask, { seed: 4, steps: 2 });
  const d = trainLMTask(tinyTask, { seed: 3, steps: 2 });
  assert.ok(c.bytes.some((x, i) => x !== d.bytes[i]), "another seed gives other weights");
  // One call rebuilds the same model, vocabulary and record.
  const loaded = parseGPTCheckpoint(a.bytes);
  assert.equal(loaded.task, "induction");
  assert.deepEqual(loaded.training, t);
  assert.deepEqual(loaded.vocabulary.tokens, tinyVocab.tokens);
  const state = a.model.stateDict();
  for (const [name, w] of Object.entries(loaded.model.stateDict())) {
    assert.deepEqual(w.data, state[name].data, name);
  }
  // Each loader refuses the other architecture, saying which loader to use.
  assert.throws(
    () => parseCheckpoint(a.bytes),
    /GPT \(decoder-only\) checkpoint.*loadGPTCheckpoint/,
  );
  const seq2seqBytes = trainTask(reverseTask, {
    steps: 1,
    batchSize: 2,
    validationSize: 1,
    model: { dModel: 8, numHeads: 2, dFF: 8, numEncoderLayers: 1, numDecoderLayers: 1 },
  }).bytes;
  assert.throws(() => parseGPTCheckpoint(seq2seqBytes), /sequence-to-sequence.*loadCheckpoint/);
});

Deno.test("scoreSequences: losses agree with GPT.lmLoss; the probe's scores with lib/analysis", () => {
  const { model, info } = trainLMTask(tinyTask, { seed: 5, steps: 20 });
  const batch = tinyTask.splits().validation.slice(0, 8);
  const s = scoreSequences(model, batch, true);
  const reference = model.lmLoss(batch.map((e) => e.ids)).data[0];
  assert.ok(Math.abs(s.loss - reference) <= 1e-5 * reference, `${s.loss} vs ${reference}`);
  // the two parts are weighted means of the whole: per sequence 8 targets, 3 predictable
  assert.ok(Math.abs((3 * s.repeatLoss + 5 * s.otherLoss) / 8 - s.loss) < 1e-9);
  // the record's last probe is this batch's scores on the final weights (4 significant digits)
  const ids = batch.map((e) => e.ids.slice(0, -1));
  const last = info.training.probe.steps.length - 1;
  s.selfWeights!.forEach((w, l) => {
    const pt = Array.from(previousTokenScore(w).data);
    const pm = Array.from(prefixMatchingScore(w, { ids }).data);
    pt.forEach((v, h) =>
      assert.ok(Math.abs(info.training.probe.previousToken[last][l][h] - v) < 1e-3 * v + 1e-9)
    );
    pm.forEach((v, h) =>
      assert.ok(Math.abs(info.training.probe.prefixMatching[last][l][h] - v) < 1e-3 * v + 1e-9)
    );
  });
});

Deno.test("the shipped induction checkpoint: >= 99% exact match on every period's test split", async () => {
  const ck = await loadGPTCheckpoint(shippedCheckpoint("induction"));
  assert.equal(ck.task, "induction");
  assert.equal(ck.config.attentionOnly, true);
  assert.equal(ck.model.blocks.length, 2);
  const test = inductionTask.splits().test;
  const { accuracy, tokenAccuracy, byGroup } = lmExactMatch(ck.model, test);
  console.log(
    `induction test exact match ${(100 * accuracy).toFixed(2)}% over ${test.length}, ` +
      `token accuracy on the repeat ${(100 * tokenAccuracy).toFixed(3)}%`,
  );
  assert.ok(accuracy >= 0.99, `test exact match ${accuracy}`);
  assert.equal(byGroup.size, 18); // periods 8..25
  for (const [period, { right, total }] of byGroup) {
    assert.ok(right / total >= 0.99, `period ${period}: ${right}/${total}`);
  }
});

Deno.test("the shipped induction checkpoint: a first-layer previous-token head, second-layer induction heads", async () => {
  const ck = await loadGPTCheckpoint(shippedCheckpoint("induction"));
  // 100 test sequences of the main period 25, not the probe batch
  const batch = inductionTask.splits().test.filter((s) => s.group === "25").slice(0, 100);
  const { selfWeights } = scoreSequences(ck.model, batch, true);
  const ids = batch.map((e) => e.ids.slice(0, -1));
  const prev = selfWeights!.map((w) => Array.from(previousTokenScore(w).data));
  const prefix = selfWeights!.map((w) => Array.from(prefixMatchingScore(w, { ids }).data));
  const best = (scores: number[][]) => {
    let at = [0, 0];
    scores.forEach((row, l) => row.forEach((v, h) => v > scores[at[0]][at[1]] && (at = [l, h])));
    return { layer: at[0], head: at[1], score: scores[at[0]][at[1]] };
  };
  const p = best(prev);
  const m = best(prefix);
  console.log(`previous-token ${JSON.stringify(p)}, prefix-matching ${JSON.stringify(m)}`);
  assert.equal(p.layer, 0, "the top previous-token head is in the first layer");
  assert.equal(m.layer, 1, "the top prefix-matching head is in the second layer");
  assert.ok(m.score >= 0.9, `prefix-matching ${m.score}`);
  // far above attention spread evenly over the causal prefix (1/(i+1) at query i)
  assert.ok(p.score >= 0.3, `previous-token ${p.score}`);
  // Greedy decoding (KV cache) from <bos> x_1..x_p x_1 gives the repeat exactly when
  // scoreSequences calls the sequence an exact match.
  const some = batch.slice(0, 10);
  const exact = scoreSequences(ck.model, some).exact;
  some.forEach((s, i) => {
    const prompt = s.ids.slice(0, s.scoredFrom);
    const { tokens } = ck.model.generate(prompt, {
      maxNewTokens: s.ids.length - s.scoredFrom,
      temperature: 0,
    });
    assert.equal(tokens[0].join() === s.ids.slice(s.scoredFrom).join(), exact[i]);
  });
});

Deno.test("predict induction: the greedy continuation fills the context; bad input exits 2", async () => {
  const ok = await predict(["induction", "t1 t2 t3 t4 t5 t6 t7 t8 t9 t1", "t30 t20 t10"]);
  assert.equal(ok.code, 0, ok.err);
  const lines = ok.out.split("\n");
  assert.equal(lines.length, 3); // two lines and the final newline
  // <bos>, the prompt and the continuation fill the 51-token context
  assert.equal(lines[0].split(" ").length, 51 - 1 - 10);
  assert.equal(lines[1].split(" ").length, 51 - 1 - 3);
  // the shipped model continues the repeat it has seen
  assert.match(lines[0], /^t2 t3 t4 t5 t6 t7 t8 t9 t1 t2 /);

  const stdin = await predict(["induction"], "t4 t5 t6 t7 t8 t9 t10 t11 t4\nt1 t2\n");
  assert.equal(stdin.code, 0, stdin.err);
  assert.equal(stdin.out.split("\n").length, 3);
  assert.match(stdin.out, /^t5 t6 t7 t8 t9 t10 t11 t4 /);

  const unknown = await predict(["induction", "t1 t2", "t1 t50 t2"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.out, "");
  assert.match(
    unknown.err,
    /input 2 \("t1 t50 t2"\): token "t50" at position 1 is not in the vocabulary/,
  );
  assert.doesNotMatch(unknown.err, /\bat .*\.ts:\d+/); // no stack trace

  const bos = await predict(["induction", "<bos> t1"]);
  assert.equal(bos.code, 2);
  assert.match(bos.err, /token "<bos>" at position 0 is not in the vocabulary/);

  const long = await predict([
    "induction",
    Array.from({ length: 50 }, (_, i) => `t${i % 50}`).join(" "),
  ]);
  assert.equal(long.code, 2);
  assert.match(long.err, /has 50 tokens; the limit is 49/);

  const empty = await predict(["induction", "  "]);
  assert.equal(empty.code, 2);
  assert.match(empty.err, /input 1 \(" {2}"\) is empty/);
});

Deno.test("tasks: getTask and getLMTask name each other's tasks", () => {
  assert.equal(getLMTask("induction"), inductionTask);
  assert.throws(() => getTask("induction"), /decoder-only \(language-model\) task: use getLMTask/);
  assert.throws(() => getLMTask("nope"), /unknown task "nope"; the tasks are: .*induction/);
  assert.throws(() => getLMTask("toString"), /unknown task "toString"/);
  // continueTexts is what predict prints
  const { model } = trainLMTask(tinyTask, { seed: 1, steps: 1 });
  const [line] = continueTexts(model, tinyVocab, ["t1 t2"]);
  assert.equal(line.split(" ").length, 9 - 1 - 2);
  assert.throws(() => continueTexts(model, tinyVocab, ["t1 t9"]), /unknown token "t9"/);
});
