/**
 * The training loop of a task model, as a function (the CLI in `train.ts`
 * and the tests call it): deterministic for a given seed, since every random
 * draw comes from seeded generators and the kernels give the same bits at
 * any thread count.
 *
 * @module
 */

import {
  Adam,
  crossEntropy,
  noGrad,
  Rng,
  saveModule,
  type Seq2Seq,
  seq2seq,
  type Tensor,
  warmupCosineLearningRate,
} from "../mod.ts";
import type { CharVocab } from "../tasks/_vocab.ts";
import { type CheckpointInfo, checkpointMetadata } from "./checkpoint.ts";
import type { Pair, TaskSpec } from "./tasks.ts";
import { argmax } from "./argmax.ts";
import { LossCurve } from "./loss_curve.ts";

/** Progress of one training step, for a progress bar. */
export interface StepProgress {
  /** The step just run, from 1. */
  step: number;
  /** Steps in all. */
  steps: number;
  /** The learning rate this step's update used (warm-up, then cosine decay). */
  lr: number;
  /** This step's loss (with the run's label smoothing). */
  loss: number;
  /** Token accuracy of this step's batch (argmax against the target, pad ignored). */
  accuracy: number;
  /** Target tokens in this step's batch. */
  tokens: number;
}

/** Options of {@link trainTask}. */
export interface TrainOptions {
  /** Steps to run; default the task's. */
  steps?: number;
  /** The seed of the weights and of the batch order; default 0. */
  seed?: number;
  /** Overrides of the task's model configuration (tests use tiny models). */
  model?: Partial<TaskSpec["model"]>;
  /** Overrides of the batch size. */
  batchSize?: number;
  /** Validation examples scored at the end; default all. */
  validationSize?: number;
  /** Overrides of the task's label smoothing (recorded in the checkpoint). */
  labelSmoothing?: number;
  /** Overrides of the task's peak learning rate (recorded in the checkpoint). */
  maxLr?: number;
  /** Overrides of the task's warm-up steps (recorded in the checkpoint). */
  warmupSteps?: number;
  /** Called after every step. */
  onProgress?: (p: StepProgress) => void;
  /** Record attention snapshots of one fixed example during training. */
  snapshots?: SnapshotOptions;
}

/** Options of the attention snapshots {@link trainTask} records. */
export interface SnapshotOptions {
  /**
   * Take a snapshot after every `every` steps; one is also taken at step 0
   * (the initial weights) and after the last step.
   */
  every: number;
  /** The example; default the first validation pair with the longest input. */
  example?: Pair;
  /** Called with each snapshot as soon as it is taken (it is also in `TrainResult.snapshots`). */
  onSnapshot?: (s: TrainingSnapshot) => void;
}

/**
 * The attention of a model on one fixed example at one point of training, as
 * plain arrays: every head of every layer, teacher-forced (the decoder reads
 * `<bos>` and the target), computed in eval mode with recording off. Maps are
 * indexed `[layer][head][query][key]`; each row sums to 1 (float32 rounding).
 * Queries of the decoder maps are the decoder input tokens `target`; keys of
 * the encoder and cross maps are the `source` tokens.
 *
 * @example The first snapshot of a tiny run: the initial weights
 * ```ts
 * import { reverseTask } from "./tasks.ts";
 * import { trainTask } from "./trainer.ts";
 * import assert from "node:assert/strict";
 * const example = { input: "a b", target: "b a", group: "2" };
 * const { snapshots } = trainTask(reverseTask, {
 *   steps: 4, batchSize: 4, validationSize: 2,
 *   model: { dModel: 8, numHeads: 2, dFF: 16, numEncoderLayers: 1, numDecoderLayers: 1 },
 *   snapshots: { every: 2, example },
 * });
 * assert.deepEqual(snapshots.map((s) => s.step), [0, 2, 4]);
 * const s = snapshots[0];
 * assert.deepEqual(s.source, ["a", " ", "b", "<eos>"]);
 * assert.deepEqual(s.target, ["<bos>", "b", " ", "a"]);
 * assert.equal(s.trainLoss, null);
 * // [layers][heads][target][source]
 * assert.deepEqual([s.cross.length, s.cross[0].length, s.cross[0][0].length], [1, 2, 4]);
 * assert.equal(s.cross[0][0][0].length, 4);
 * ```
 */
export interface TrainingSnapshot {
  /** Updates applied before the snapshot: 0 is the initial weights. */
  step: number;
  /**
   * Mean training-batch loss of the steps since the previous snapshot (with the
   * run's label smoothing); null at step 0.
   */
  trainLoss: number | null;
  /** The example's own teacher-forced cross-entropy (no smoothing), mean per target token. */
  loss: number;
  /** Source tokens: the input's characters and `<eos>` (keys of `encoderSelf` and `cross`). */
  source: string[];
  /** Decoder input tokens: `<bos>` and the target's characters (queries of `decoderSelf`, `cross`). */
  target: string[];
  /** The tokens the decoder is trained to predict at each position: the target and `<eos>`. */
  expected: string[];
  /** The model's argmax token at each decoder position (teacher-forced). */
  predicted: string[];
  /** Encoder self-attention `[layer][head][S][S]`. */
  encoderSelf: number[][][][];
  /** Decoder masked self-attention `[layer][head][T][T]`. */
  decoderSelf: number[][][][];
  /** Decoder cross-attention `[layer][head][T][S]`. */
  cross: number[][][][];
}

/** What {@link trainTask} returns. */
export interface TrainResult {
  /** The trained model. */
  model: Seq2Seq;
  /** The checkpoint's bytes. */
  bytes: Uint8Array;
  /** What the checkpoint's metadata holds. */
  info: CheckpointInfo;
  /** The attention snapshots, oldest first (empty without `snapshots`). */
  snapshots: TrainingSnapshot[];
}

/** Source, decoder input and decoder target ids of a batch, padded with `vocab.pad`. */
export function encodeBatch(
  vocab: CharVocab,
  pairs: readonly Pair[],
): { src: number[][]; tgtIn: number[][]; tgtOut: number[] } {
  const src = pairs.map((p) => [...vocab.encode(p.input), vocab.eos]);
  const tgt = pairs.map((p) => vocab.encode(p.target));
  const s = Math.max(...src.map((r) => r.length));
  const t = Math.max(...tgt.map((r) => r.length)) + 1;
  const pad = (row: number[], n: number) => [...row, ...new Array(n - row.length).fill(vocab.pad)];
  return {
    src: src.map((r) => pad(r, s)),
    tgtIn: tgt.map((r) => pad([vocab.bos, ...r], t)),
    tgtOut: tgt.flatMap((r) => pad([...r, vocab.eos], t)),
  };
}

/** Greedy outputs (KV cache) of `inputs`, decoded to text, in batches of 64. */
export function predictTexts(
  model: Seq2Seq,
  vocab: CharVocab,
  inputs: readonly string[],
  maxOutputChars: number,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < inputs.length; i += 64) {
    const chunk = inputs.slice(i, i + 64);
    const { src } = encodeBatch(vocab, chunk.map((input) => ({ input, target: "", group: "" })));
    const { tokens } = model.greedyDecode(src, {
      maxLen: maxOutputChars + 1,
      startToken: vocab.bos,
      endToken: vocab.eos,
    });
    for (const t of tokens) out.push(vocab.decode(t));
  }
  return out;
}

/** Exact-match accuracy of `model` on `pairs`, overall and per group. */
export function exactMatch(
  model: Seq2Seq,
  vocab: CharVocab,
  pairs: readonly Pair[],
  maxOutputChars: number,
): { accuracy: number; byGroup: Map<string, { right: number; total: number }> } {
  const outputs = predictTexts(model, vocab, pairs.map((p) => p.input), maxOutputChars);
  const byGroup = new Map<string, { right: number; total: number }>();
  let right = 0;
  pairs.forEach((p, i) => {
    const g = byGroup.get(p.group) ?? { right: 0, total: 0 };
    g.total++;
    if (outputs[i] === p.target) {
      g.right++;
      right++;
    }
    byGroup.set(p.group, g);
  });
  return { accuracy: right / pairs.length, byGroup };
}

/** `[1, H, R, C]` weights as plain `[head][row][column]` arrays. */
function heads(w: Tensor): number[][][] {
  const [, h, r, c] = w.shape;
  const d = w.data;
  return Array.from(
    { length: h },
    (_, k) =>
      Array.from(
        { length: r },
        (_, i) => Array.from(d.subarray((k * r + i) * c, (k * r + i + 1) * c)),
      ),
  );
}

/**
 * A {@link TrainingSnapshot} of `model` on `example`: one teacher-forced pass
 * in eval mode with recording off, so that it changes neither the weights,
 * the gradients nor any random stream (the training mode is restored after).
 *
 * @param trainLoss The recent training loss to record (null for none).
 * @example Cross-attention rows are distributions over the source
 * ```ts
 * import { seq2seq } from "../mod.ts";
 * import { reverseTask } from "./tasks.ts";
 * import { attentionSnapshot } from "./trainer.ts";
 * import assert from "node:assert/strict";
 * const v = reverseTask.vocab;
 * const model = seq2seq({
 *   srcVocab: v.size, tgtVocab: v.size, dModel: 8, numHeads: 2, dFF: 16,
 *   numEncoderLayers: 1, numDecoderLayers: 1, maxLen: 8, padToken: v.pad, seed: 1,
 * });
 * const s = attentionSnapshot(model, v, { input: "a b", target: "b a", group: "2" }, 0, null);
 * for (const row of s.cross[0][1]) assert.ok(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-6);
 * assert.deepEqual(s.expected, ["b", " ", "a", "<eos>"]);
 * ```
 */
export function attentionSnapshot(
  model: Seq2Seq,
  vocab: CharVocab,
  example: Pair,
  step: number,
  trainLoss: number | null,
): TrainingSnapshot {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const { src, tgtIn, tgtOut } = encodeBatch(vocab, [example]);
      const r = model.forward(src, tgtIn); // output [1, T, V] log-probs; maps [1, H, ·, ·]
      const v = r.output.shape[2];
      const lp = r.output.data;
      let nll = 0;
      const predicted: string[] = [];
      tgtOut.forEach((y, t) => {
        nll -= lp[t * v + y];
        predicted.push(vocab.tokens[argmax(lp.subarray(t * v, (t + 1) * v))]);
      });
      const names = (ids: number[]) => ids.map((id) => vocab.tokens[id]);
      return {
        step,
        trainLoss,
        loss: nll / tgtOut.length,
        source: names(src[0]),
        target: names(tgtIn[0]),
        expected: names(tgtOut),
        predicted,
        encoderSelf: r.encoderSelfWeights.map(heads),
        decoderSelf: r.decoderSelfWeights.map(heads),
        cross: r.decoderCrossWeights.map(heads),
      };
    });
  } finally {
    model.train(wasTraining);
  }
}

/** The default snapshot example: the first validation pair with the longest input. */
function longestPair(pairs: readonly Pair[]): Pair {
  return pairs.reduce((best, p) => (p.input.length > best.input.length ? p : best));
}

/** Trains `task`'s model and returns it with its checkpoint bytes ({@link trainSteps} run to its end). */
export function trainTask(task: TaskSpec, options: TrainOptions = {}): TrainResult {
  const run = trainSteps(task, options);
  for (;;) {
    const r = run.next();
    if (r.done) return r.value;
  }
}

/**
 * The learning rate of step `step` (1-based) of a `steps`-step run, for both
 * trainers: linear warm-up to `maxLr` over `warmupSteps` (at most `steps - 1`,
 * so that a short test run still decays), then cosine decay to `maxLr / 10`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainingLearningRate } from "./trainer.ts";
 * assert.ok(Math.abs(trainingLearningRate(4, 100, 1e-3, 4) - 1e-3) < 1e-12); // warmed up
 * assert.ok(Math.abs(trainingLearningRate(100, 100, 1e-3, 4) - 1e-4) < 1e-12); // decayed
 * ```
 */
export function trainingLearningRate(
  step: number,
  steps: number,
  maxLr: number,
  warmupSteps: number,
): number {
  return warmupCosineLearningRate(step, {
    maxLr,
    warmupSteps: Math.min(warmupSteps, steps - 1),
    totalSteps: steps,
    minLr: maxLr / 10,
  });
}

/**
 * {@link trainTask} one step at a time: a generator that yields each step's
 * progress and returns the {@link TrainResult}. Between steps the caller may
 * await (a notebook redraws its curves there: Deno's kernel sends a display
 * only when the event loop runs); the result is the same.
 *
 * @throws {RangeError} When `snapshots.every` is not a positive integer.
 */
export function* trainSteps(
  task: TaskSpec,
  options: TrainOptions = {},
): Generator<StepProgress, TrainResult, void> {
  const steps = options.steps ?? task.steps;
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? task.batchSize;
  const labelSmoothing = options.labelSmoothing ?? task.labelSmoothing;
  const maxLr = options.maxLr ?? task.maxLr;
  const warmupSteps = options.warmupSteps ?? task.warmupSteps;
  const snap = options.snapshots;
  if (snap !== undefined && !(Number.isInteger(snap.every) && snap.every >= 1)) {
    throw new RangeError(
      `trainTask: snapshots.every must be a positive integer, got ${String(snap.every)}`,
    );
  }
  const config = { ...task.model, ...options.model, seed };
  const model = seq2seq(config);
  // fairseq's initialisation: N(0, 1/d_model) embeddings, so that after the √d_model scale
  // tokens and sinusoidal positions are of one size; with N(0, 1) (PyTorch's nn.Embedding) the
  // tokens are √d_model times larger and the positions, which reversing needs, hardly show.
  const shrink = 1 / Math.sqrt(model.transformer.config.dModel);
  for (const table of new Set([model.srcEmbedding, model.tgtEmbedding])) {
    const w = table.weight.data;
    for (let i = 0; i < w.length; i++) w[i] *= shrink;
  }
  model.train();
  const splits = task.splits();
  const vocab = task.vocab;
  const snapshots: TrainingSnapshot[] = [];
  const example = snap ? snap.example ?? longestPair(splits.validation) : undefined;
  let snapSum = 0;
  let snapCount = 0;
  const takeSnapshot = (step: number) => {
    const s = attentionSnapshot(
      model,
      vocab,
      example!,
      step,
      snapCount ? snapSum / snapCount : null,
    );
    snapSum = 0;
    snapCount = 0;
    snapshots.push(s);
    snap!.onSnapshot?.(s);
  };
  if (snap) takeSnapshot(0);
  const opt = new Adam(model.parameters(), { lr: 0, betas: [0.9, 0.98], eps: 1e-9 });
  const rng = new Rng(seed + 1000);
  const curve = new LossCurve(steps);
  for (let step = 1; step <= steps; step++) {
    const batch: Pair[] = [];
    for (let i = 0; i < batchSize; i++) batch.push(splits.train[rng.int(splits.train.length)]);
    const { src, tgtIn, tgtOut } = encodeBatch(vocab, batch);
    const lr = trainingLearningRate(step, steps, maxLr, warmupSteps);
    opt.lr = lr;
    opt.zeroGrad();
    const { output } = model.forward(src, tgtIn, { needWeights: false }); // [B, T, V] log-probs
    const v = output.shape[2];
    const logits = output.reshape([-1, v]); // [B·T, V]
    const loss = crossEntropy(logits, tgtOut, { ignoreIndex: vocab.pad, labelSmoothing });
    loss.backward();
    opt.step();
    let right = 0;
    let tokens = 0;
    const d = logits.data;
    for (let r = 0; r < tgtOut.length; r++) {
      if (tgtOut[r] === vocab.pad) continue;
      tokens++;
      if (argmax(d.subarray(r * v, (r + 1) * v)) === tgtOut[r]) right++;
    }
    const value = loss.data[0];
    curve.add(step, value);
    snapSum += value;
    snapCount++;
    if (snap && (step % snap.every === 0 || step === steps)) takeSnapshot(step);
    const progress = { step, steps, lr, loss: value, accuracy: right / tokens, tokens };
    options.onProgress?.(progress);
    yield progress;
  }
  model.eval();
  const validation = splits.validation.slice(0, options.validationSize ?? splits.validation.length);
  const { accuracy } = exactMatch(model, vocab, validation, task.maxOutputChars);
  const info: CheckpointInfo = {
    task: task.name,
    config,
    vocab: vocab.chars,
    training: {
      steps,
      seed,
      batchSize,
      maxLr,
      warmupSteps,
      labelSmoothing,
      every: curve.every,
      loss: curve.values,
      validationAccuracy: accuracy,
    },
  };
  return { model, bytes: saveModule(model, checkpointMetadata(info)), info, snapshots };
}
