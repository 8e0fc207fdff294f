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
  warmupCosineLearningRate,
} from "../mod.ts";
import type { CharVocab } from "../tasks/_vocab.ts";
import { type CheckpointInfo, checkpointMetadata } from "./checkpoint.ts";
import type { Pair, TaskSpec } from "./tasks.ts";

/** Progress of one training step, for a progress bar. */
export interface StepProgress {
  /** The step just run, from 1. */
  step: number;
  /** Steps in all. */
  steps: number;
  /** This step's loss. */
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
  /** Called after every step. */
  onProgress?: (p: StepProgress) => void;
}

/** What {@link trainTask} returns. */
export interface TrainResult {
  /** The trained model. */
  model: Seq2Seq;
  /** The checkpoint's bytes. */
  bytes: Uint8Array;
  /** What the checkpoint's metadata holds. */
  info: CheckpointInfo;
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
  noGrad(() => {
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
  });
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

/** Trains `task`'s model and returns it with its checkpoint bytes. */
export function trainTask(task: TaskSpec, options: TrainOptions = {}): TrainResult {
  const steps = options.steps ?? task.steps;
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? task.batchSize;
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
  const opt = new Adam(model.parameters(), { lr: 0, betas: [0.9, 0.98], eps: 1e-9 });
  const rng = new Rng(seed + 1000);
  const every = Math.max(1, Math.floor(steps / 50));
  const losses: number[] = [];
  let sum = 0;
  let count = 0;
  for (let step = 1; step <= steps; step++) {
    const batch: Pair[] = [];
    for (let i = 0; i < batchSize; i++) batch.push(splits.train[rng.int(splits.train.length)]);
    const { src, tgtIn, tgtOut } = encodeBatch(vocab, batch);
    opt.lr = warmupCosineLearningRate(step, {
      maxLr: task.maxLr,
      warmupSteps: Math.min(task.warmupSteps, steps - 1),
      totalSteps: steps,
      minLr: task.maxLr / 10,
    });
    opt.zeroGrad();
    const { output } = model.forward(src, tgtIn, { needWeights: false }); // [B, T, V] log-probs
    const v = output.shape[2];
    const logits = output.reshape([-1, v]); // [B·T, V]
    const loss = crossEntropy(logits, tgtOut, {
      ignoreIndex: vocab.pad,
      labelSmoothing: task.labelSmoothing,
    });
    loss.backward();
    opt.step();
    let right = 0;
    let tokens = 0;
    const d = logits.data;
    for (let r = 0; r < tgtOut.length; r++) {
      if (tgtOut[r] === vocab.pad) continue;
      tokens++;
      let best = 0;
      for (let c = 1; c < v; c++) if (d[r * v + c] > d[r * v + best]) best = c;
      if (best === tgtOut[r]) right++;
    }
    const value = loss.data[0];
    sum += value;
    count++;
    if (count === every || step === steps) {
      losses.push(Number((sum / count).toPrecision(6)));
      sum = 0;
      count = 0;
    }
    options.onProgress?.({ step, steps, loss: value, accuracy: right / tokens, tokens });
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
      maxLr: task.maxLr,
      warmupSteps: task.warmupSteps,
      labelSmoothing: task.labelSmoothing,
      every,
      loss: losses,
      validationAccuracy: accuracy,
    },
  };
  return { model, bytes: saveModule(model, checkpointMetadata(info)), info };
}
