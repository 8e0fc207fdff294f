// The training script's loop, its determinism, the checkpoint format and the predict CLI.
import assert from "node:assert/strict";

import { reverseTask } from "../train/tasks.ts";
import {
  attentionSnapshot,
  encodeBatch,
  type StepProgress,
  type TrainingSnapshot,
  trainSteps,
  trainTask,
} from "../train/trainer.ts";
import { crossEntropy, noGrad, warmupCosineLearningRate } from "../mod.ts";
import { parseCheckpoint } from "../train/checkpoint.ts";
import { predict, runDeno } from "./_cli.ts";

const tiny = {
  steps: 30,
  seed: 7,
  batchSize: 8,
  validationSize: 8,
  model: { dModel: 16, numHeads: 2, dFF: 32, numEncoderLayers: 1, numDecoderLayers: 1 },
};

Deno.test("encodeBatch: source ends with EOS, decoder input starts with BOS, pads with pad", () => {
  const v = reverseTask.vocab;
  const { src, tgtIn, tgtOut } = encodeBatch(v, [
    { input: "a b", target: "b a", group: "2" },
    { input: "c", target: "c", group: "1" },
  ]);
  assert.deepEqual(src, [[...v.encode("a b"), v.eos], [...v.encode("c"), v.eos, v.pad, v.pad]]);
  assert.deepEqual(tgtIn, [[v.bos, ...v.encode("b a")], [v.bos, ...v.encode("c"), v.pad, v.pad]]);
  assert.deepEqual(tgtOut, [...v.encode("b a"), v.eos, ...v.encode("c"), v.eos, v.pad, v.pad]);
});

Deno.test("trainTask: a tiny reverse model's loss falls; two runs give identical checkpoint bytes", () => {
  const a = trainTask(reverseTask, tiny);
  const loss = a.info.training.loss;
  assert.equal(a.info.training.steps, 30);
  assert.ok(loss.length >= 2);
  assert.ok(loss.at(-1)! < 0.8 * loss[0], `loss ${loss[0]} -> ${loss.at(-1)}`);
  const b = trainTask(reverseTask, tiny);
  assert.equal(b.bytes.length, a.bytes.length);
  assert.ok(b.bytes.every((x, i) => x === a.bytes[i]), "checkpoint bytes differ between runs");
  // A different seed gives different weights.
  const c = trainTask(reverseTask, { ...tiny, steps: 2, seed: 8 });
  const d = trainTask(reverseTask, { ...tiny, steps: 2 });
  assert.ok(c.bytes.some((x, i) => x !== d.bytes[i]));
  // The checkpoint rebuilds the same model in one call.
  const loaded = parseCheckpoint(a.bytes);
  assert.equal(loaded.task, "reverse");
  assert.deepEqual(loaded.training, a.info.training);
  assert.equal(loaded.charVocab.chars, reverseTask.vocab.chars);
  const state = a.model.stateDict();
  for (const [name, t] of Object.entries(loaded.model.stateDict())) {
    assert.deepEqual(t.data, state[name].data, name);
  }
});

/** Whether two checkpoints are byte for byte equal (without assert's slow diff of 100 KB arrays). */
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const example = { input: "q w e r t", target: "t r e w q", group: "5" };

/** Checks one snapshot's token lists, shapes and that every row is a distribution. */
function checkSnapshot(s: TrainingSnapshot, layers: [number, number], heads: number) {
  const v = reverseTask.vocab;
  assert.deepEqual(s.source, [...example.input, "<eos>"]);
  assert.deepEqual(s.target, ["<bos>", ...example.target]);
  assert.deepEqual(s.expected, [...example.target, "<eos>"]);
  assert.equal(s.predicted.length, s.target.length);
  for (const t of s.predicted) assert.ok(v.tokens.includes(t), t);
  assert.ok(Number.isFinite(s.loss) && s.loss > 0);
  const S = s.source.length, T = s.target.length;
  const maps: [string, number[][][][], number, number, number][] = [
    ["encoderSelf", s.encoderSelf, layers[0], S, S],
    ["decoderSelf", s.decoderSelf, layers[1], T, T],
    ["cross", s.cross, layers[1], T, S],
  ];
  for (const [name, w, l, rows, cols] of maps) {
    assert.equal(w.length, l, `${name} layers`);
    for (const layer of w) {
      assert.equal(layer.length, heads, `${name} heads`);
      for (const head of layer) {
        assert.equal(head.length, rows, `${name} rows`);
        head.forEach((row, q) => {
          assert.equal(row.length, cols, `${name} columns`);
          assert.ok(row.every((x) => x >= 0 && x <= 1), `${name} row ${q}: ${row}`);
          // float32 softmax of at most 10 terms: the sum is 1 to within a few ulps
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${name} row ${q}`);
          if (name === "decoderSelf") {
            assert.ok(row.slice(q + 1).every((x) => x === 0), `decoder row ${q} sees the future`);
          }
        });
      }
    }
  }
}

Deno.test("trainTask snapshots: at step 0, every N steps and the last; shapes; rows sum to 1", () => {
  const progress: StepProgress[] = [];
  const seen: TrainingSnapshot[] = [];
  const run = trainTask(reverseTask, {
    ...tiny,
    steps: 25,
    snapshots: { every: 10, example, onSnapshot: (s) => seen.push(s) },
    onProgress: (p) => progress.push(p),
  });
  assert.deepEqual(run.snapshots.map((s) => s.step), [0, 10, 20, 25]);
  assert.deepEqual(seen, run.snapshots);
  for (const s of run.snapshots) checkSnapshot(s, [1, 1], 2);
  // trainLoss: the mean of the batch losses since the previous snapshot
  assert.equal(run.snapshots[0].trainLoss, null);
  const mean = (a: StepProgress[]) => a.reduce((t, p) => t + p.loss, 0) / a.length;
  assert.equal(run.snapshots[1].trainLoss, mean(progress.slice(0, 10)));
  assert.equal(run.snapshots[3].trainLoss, mean(progress.slice(20, 25)));
  // The last snapshot is the trained model's attention; its loss the library's cross-entropy.
  const last = attentionSnapshot(run.model, reverseTask.vocab, example, 25, null);
  assert.deepEqual(last.cross, run.snapshots[3].cross);
  assert.deepEqual(last.encoderSelf, run.snapshots[3].encoderSelf);
  const { src, tgtIn, tgtOut } = encodeBatch(reverseTask.vocab, [example]);
  const ref = noGrad(() => {
    const { output, decoderCrossWeights } = run.model.forward(src, tgtIn);
    const v = output.shape[2];
    const ce = crossEntropy(output.reshape([-1, v]), tgtOut).data[0];
    return { ce, cross: Array.from(decoderCrossWeights[0].data) };
  });
  assert.ok(Math.abs(last.loss - ref.ce) < 1e-5 * ref.ce, `${last.loss} vs ${ref.ce}`);
  assert.deepEqual(last.cross[0].flat(2), ref.cross);
  // Training moved the attention away from the initial weights.
  assert.notDeepEqual(run.snapshots[0].cross, last.cross);
  // The learning rate of each step is the warm-up + cosine schedule's.
  progress.forEach((p) => {
    const lr = warmupCosineLearningRate(p.step, {
      maxLr: reverseTask.maxLr,
      warmupSteps: Math.min(reverseTask.warmupSteps, 24),
      totalSteps: 25,
      minLr: reverseTask.maxLr / 10,
    });
    assert.equal(p.lr, lr);
  });
  assert.throws(
    () => trainTask(reverseTask, { ...tiny, snapshots: { every: 0 } }),
    /trainTask: snapshots.every must be a positive integer, got 0/,
  );
});

Deno.test("snapshots do not change training: same bytes with dropout; trainSteps = trainTask", () => {
  // With dropout each training-mode forward draws keys: a snapshot taken in training mode
  // would shift every later mask and change the weights.
  const drop = { ...tiny, steps: 12, model: { ...tiny.model, dropout: 0.1 } };
  const plain = trainTask(reverseTask, drop);
  const snapped = trainTask(reverseTask, { ...drop, snapshots: { every: 3 } });
  assert.equal(snapped.snapshots.length, 5);
  assert.ok(plain.snapshots.length === 0);
  assert.ok(sameBytes(snapped.bytes, plain.bytes), "a snapshot changed the checkpoint");
  assert.equal(snapped.model.training, false);
  // The default example is the first validation pair with the longest input.
  const longest = Math.max(...reverseTask.splits().validation.map((p) => p.input.length));
  assert.equal(snapped.snapshots[0].source.length, longest + 1);
  // The generator yields every step and returns the same result.
  const gen = trainSteps(reverseTask, drop);
  const steps: number[] = [];
  let r = gen.next();
  for (; !r.done; r = gen.next()) steps.push(r.value.step);
  assert.deepEqual(steps, Array.from({ length: 12 }, (_, i) => i + 1));
  assert.ok(sameBytes(r.value.bytes, plain.bytes));
  // Overrides reach the loss and the checkpoint's record.
  const smooth = trainTask(reverseTask, { ...drop, labelSmoothing: 0.1, warmupSteps: 4 });
  assert.equal(smooth.info.training.labelSmoothing, 0.1);
  assert.equal(smooth.info.training.warmupSteps, 4);
  assert.ok(!sameBytes(smooth.bytes, plain.bytes));
});

Deno.test("predict: one line per argument or stdin line; bad input exits 2 naming the problem", async () => {
  await Deno.mkdir("out", { recursive: true });
  const path = "out/train_test_tiny.safetensors";
  await Deno.writeFile(path, trainTask(reverseTask, { ...tiny, steps: 2 }).bytes);
  const ck = ["--checkpoint", path, "reverse"];

  const args = await predict([...ck, "a b c", "z"]);
  assert.equal(args.code, 0, args.err);
  assert.equal(args.out.split("\n").length, 3); // two lines and the final newline
  assert.match(args.out, /^[a-z ]*\n[a-z ]*\n$/);

  const lines = await predict(ck, "a b\nc d e\nf\n");
  assert.equal(lines.code, 0, lines.err);
  assert.equal(lines.out.split("\n").length, 4);

  const unknown = await predict([...ck, "a b", "a B"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.out, "");
  assert.match(unknown.err, /character "B" at position 2 is not in the vocabulary/);
  assert.doesNotMatch(unknown.err, /\bat .*\.ts:\d+/); // no stack trace

  const long = await predict([...ck, Array(17).fill("a").join(" ")]);
  assert.equal(long.code, 2);
  assert.match(long.err, /has 33 characters; the limit is 31/);

  const task = await predict(["nope", "a"]);
  assert.equal(task.code, 2);
  assert.match(task.err, /unknown task "nope"; the tasks are: reverse/);
});

Deno.test("train: an --out it may not write, or a bad flag, exits 2 with a message before training", async () => {
  const run = (args: string[]) =>
    runDeno(["run", "--allow-read", "--allow-env", "--allow-write=out", "train/train.ts", ...args]);
  // The default --out is checkpoints/reverse.safetensors, outside --allow-write=out:
  // refused at once (a 800-step run would take a minute), and the shipped file untouched.
  const denied = await run(["reverse"]);
  assert.equal(denied.code, 2);
  assert.match(denied.err, /--out checkpoints\/reverse\.safetensors: this run may not write there/);
  assert.doesNotMatch(denied.err, /\bat .*\.ts:\d+/); // no stack trace
  assert.doesNotMatch(denied.err, /\[#*-*\]/); // no progress bar: nothing trained

  const steps = await run(["reverse", "--steps", "0", "--out", "out/x.safetensors"]);
  assert.equal(steps.code, 2);
  assert.match(steps.err, /--steps must be an integer >= 1, got 0/);
});
