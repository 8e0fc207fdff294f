// The training script's loop, its determinism, the checkpoint format and the predict CLI.
import assert from "node:assert/strict";

import { reverseTask } from "../train/tasks.ts";
import { encodeBatch, exactMatch, trainTask } from "../train/trainer.ts";
import { loadCheckpoint, parseCheckpoint, shippedCheckpoint } from "../train/checkpoint.ts";

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

async function predict(args: string[], stdin?: string) {
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-env", "train/predict.ts", ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

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

Deno.test("the shipped reverse checkpoint: >= 99% exact match on the test split at every length", async () => {
  const ck = await loadCheckpoint(shippedCheckpoint("reverse"));
  const test = reverseTask.splits().test;
  const { accuracy, byGroup } = exactMatch(
    ck.model,
    ck.charVocab,
    test,
    reverseTask.maxOutputChars,
  );
  assert.ok(accuracy >= 0.99, `test exact match ${accuracy}`);
  assert.equal(byGroup.size, 16);
  console.log(`reverse test exact match ${(100 * accuracy).toFixed(2)}% over ${test.length}`);
  for (const [length, { right, total }] of byGroup) {
    assert.ok(right / total >= 0.99, `length ${length}: ${right}/${total}`);
  }
});
