/**
 * The training loop of a decoder-only (GPT) task model, as a function (the
 * CLI in `train.ts`, the tests and notebook 11 call it): deterministic for a
 * given seed, like trainer.ts. Besides the training loss it probes one fixed
 * held-out batch every few steps (loss on the repeat, previous-token and
 * prefix-matching scores of every head), so the checkpoint's record shows the
 * induction heads forming without retraining.
 *
 * @module
 */

import {
  Adam,
  crossEntropy,
  type GPT,
  gpt,
  noGrad,
  prefixMatchingScore,
  previousTokenScore,
  Rng,
  saveModule,
  type Tensor,
} from "../mod.ts";
import type { InductionVocab } from "../tasks/induction.ts";
import { type GPTCheckpointInfo, gptCheckpointMetadata, type ProbeRecord } from "./checkpoint.ts";
import type { LMSequence, LMTaskSpec } from "./tasks.ts";
import { type StepProgress, trainingLearningRate } from "./trainer.ts";
import { argmax } from "./argmax.ts";
import { LossCurve } from "./loss_curve.ts";

/** One probe of the held-out batch (a column of {@link ProbeRecord}). */
export interface ProbePoint {
  /** The step probed (0: before training). */
  step: number;
  /** Mean next-token loss over every position. */
  loss: number;
  /** Mean loss on the predictable targets (the repeat after its first token). */
  repeatLoss: number;
  /** Mean loss on the other targets. */
  otherLoss: number;
  /** Greedy token accuracy on the predictable targets. */
  repeatAccuracy: number;
  /** Previous-token score `[layer][head]`. */
  previousToken: number[][];
  /** Prefix-matching score `[layer][head]`. */
  prefixMatching: number[][];
}

/** Options of {@link trainLMTask}. */
export interface LMTrainOptions {
  /** Steps to run; default the task's. */
  steps?: number;
  /** The seed of the weights and of the batch order; default 0. */
  seed?: number;
  /** Overrides of the task's model configuration (tests use tiny models). */
  model?: Partial<LMTaskSpec["model"]>;
  /** Overrides of the batch size. */
  batchSize?: number;
  /** Overrides of the peak learning rate. */
  maxLr?: number;
  /** Steps between probes; default the task's. */
  probeEvery?: number;
  /** Validation sequences scored at the end; default all. */
  validationSize?: number;
  /** Called after every step. */
  onProgress?: (p: StepProgress) => void;
  /** Called after every probe (step 0 included). */
  onProbe?: (p: ProbePoint) => void;
}

/** What {@link trainLMTask} returns. */
export interface LMTrainResult {
  /** The trained model (eval mode). */
  model: GPT;
  /** The checkpoint's bytes. */
  bytes: Uint8Array;
  /** What the checkpoint's metadata holds. */
  info: GPTCheckpointInfo;
}

/** Rounds a recorded number to 4 significant digits, so the record stays small. */
const round = (x: number) => Number(x.toPrecision(4));

/** log softmax(row)[y], in float64. */
function logProb(row: Float32Array, y: number): number {
  let m = -Infinity;
  for (const x of row) m = Math.max(m, x);
  let z = 0;
  for (const x of row) z += Math.exp(x - m);
  return row[y] - m - Math.log(z);
}

/** What {@link scoreSequences} measures on sequences of one length. */
export interface SequenceScores {
  /** Mean next-token loss over every target. */
  loss: number;
  /** Mean loss on the predictable targets (positions from `scoredFrom`). */
  repeatLoss: number;
  /** Mean loss on the other targets. */
  otherLoss: number;
  /** Greedy token accuracy on the predictable targets. */
  repeatAccuracy: number;
  /** Per sequence: whether every predictable target is the argmax. */
  exact: boolean[];
  /** Self-attention maps per layer, `[B, H, T-1, T-1]` (with `needWeights`). */
  selfWeights?: Tensor[];
}

/**
 * Runs `model` on sequences of one length (teacher forcing: it reads `ids[:-1]`
 * and predicts `ids[1:]`) and scores the predictions. A sequence is an exact
 * match when the argmax at every predictable target is right, which is the same
 * as greedy decoding from the prompt `ids[:scoredFrom]` reproducing the rest:
 * greedy decoding feeds back its own tokens, and while they are right they are
 * the teacher-forced ones.
 */
export function scoreSequences(
  model: GPT,
  sequences: readonly LMSequence[],
  needWeights = false,
): SequenceScores {
  const t = sequences[0].ids.length;
  if (sequences.some((s) => s.ids.length !== t)) {
    throw new RangeError(`scoreSequences: sequences must all have one length (${t})`);
  }
  return noGrad(() => {
    const inputs = sequences.map((s) => s.ids.slice(0, -1));
    const r = needWeights ? model.forward(inputs) : model.forward(inputs, { needWeights: false });
    const out = r.output; // [B, T-1, V]
    const v = out.shape[2];
    let lossSum = 0, repeatSum = 0, repeatN = 0, right = 0;
    const exact = sequences.map((s, b) => {
      let ok = true;
      for (let i = 0; i + 1 < t; i++) {
        // position i predicts target i + 1
        const row = out.data.subarray((b * (t - 1) + i) * v, (b * (t - 1) + i + 1) * v);
        const y = s.ids[i + 1];
        const nll = -logProb(row, y);
        lossSum += nll;
        if (i + 1 >= s.scoredFrom) {
          repeatSum += nll;
          repeatN++;
          if (argmax(row) === y) right++;
          else ok = false;
        }
      }
      return ok;
    });
    const all = sequences.length * (t - 1);
    return {
      loss: lossSum / all,
      repeatLoss: repeatN ? repeatSum / repeatN : NaN,
      otherLoss: all > repeatN ? (lossSum - repeatSum) / (all - repeatN) : NaN,
      repeatAccuracy: repeatN ? right / repeatN : NaN,
      exact,
      selfWeights: r.selfWeights,
    };
  });
}

/** The probe of one held-out batch: its losses and every head's scores. */
export function probe(model: GPT, batch: readonly LMSequence[], step: number): ProbePoint {
  const s = scoreSequences(model, batch, true);
  const ids = batch.map((b) => b.ids.slice(0, -1));
  const perLayer = (f: (w: Tensor) => Tensor) =>
    s.selfWeights!.map((w) => Array.from(f(w).data, round));
  return {
    step,
    loss: round(s.loss),
    repeatLoss: round(s.repeatLoss),
    otherLoss: round(s.otherLoss),
    repeatAccuracy: round(s.repeatAccuracy),
    previousToken: perLayer((w) => previousTokenScore(w)),
    prefixMatching: perLayer((w) => prefixMatchingScore(w, { ids })),
  };
}

/** Groups sequences by `group`, in order of first appearance. */
export function byGroup(sequences: readonly LMSequence[]): Map<string, LMSequence[]> {
  const m = new Map<string, LMSequence[]>();
  for (const s of sequences) {
    const g = m.get(s.group);
    if (g) g.push(s);
    else m.set(s.group, [s]);
  }
  return m;
}

/** Exact-match accuracy (see {@link scoreSequences}) of `model` on `sequences`, overall and per group. */
export function lmExactMatch(
  model: GPT,
  sequences: readonly LMSequence[],
): {
  accuracy: number;
  tokenAccuracy: number;
  byGroup: Map<string, { right: number; total: number }>;
} {
  const groups = new Map<string, { right: number; total: number }>();
  let right = 0, tokens = 0, tokensRight = 0;
  for (const [group, list] of byGroup(sequences)) {
    const g = { right: 0, total: 0 };
    for (let i = 0; i < list.length; i += 128) {
      const chunk = list.slice(i, i + 128);
      const s = scoreSequences(model, chunk);
      const n = chunk.reduce((a, c) => a + c.ids.length - c.scoredFrom, 0);
      tokens += n;
      tokensRight += Math.round(s.repeatAccuracy * n);
      for (const e of s.exact) {
        g.total++;
        if (e) g.right++;
      }
    }
    right += g.right;
    groups.set(group, g);
  }
  return {
    accuracy: right / sequences.length,
    tokenAccuracy: tokensRight / tokens,
    byGroup: groups,
  };
}

/**
 * The greedy continuation (KV cache) of each prompt: the token names after
 * `<bos>` and the prompt's tokens, until the model's context is full.
 */
export function continueTexts(
  model: GPT,
  vocab: InductionVocab,
  prompts: readonly string[],
): string[] {
  return prompts.map((p) => {
    const ids = [vocab.bos, ...vocab.encode(p)];
    const { tokens } = model.generate(ids, {
      maxNewTokens: model.config.blockSize - ids.length,
      temperature: 0,
    });
    return vocab.decode(tokens[0]);
  });
}

/** Trains `task`'s GPT and returns it with its checkpoint bytes. */
export function trainLMTask(task: LMTaskSpec, options: LMTrainOptions = {}): LMTrainResult {
  const run = lmTrainSteps(task, options);
  let next = run.next();
  while (!next.done) next = run.next();
  return next.value;
}

/**
 * {@link trainLMTask} one step per `next()`: it yields each step's progress and
 * returns the result, so that a notebook can redraw between steps (awaiting,
 * so its displays go out). The same seed gives the same bytes either way.
 */
export function* lmTrainSteps(
  task: LMTaskSpec,
  options: LMTrainOptions = {},
): Generator<StepProgress, LMTrainResult, void> {
  const steps = options.steps ?? task.steps;
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? task.batchSize;
  const maxLr = options.maxLr ?? task.maxLr;
  const probeEvery = options.probeEvery ?? task.probeEvery;
  const config = { ...task.model, ...options.model, seed };
  const model = gpt(config);
  // N(0, 1/d_model) token and position embeddings (the size of the reverse trainer's
  // fairseq-style init) instead of GPT-2's N(0, 0.02²), whose attention logits start near 0.
  // Measured at seed 0 with periods drawn uniformly from 8-25: GPT-2's init plateaued at 92%
  // token accuracy on the repeat (steps 700-1200), 1/√d reached 100% by step 800.
  const std = 1 / Math.sqrt(model.config.dModel);
  for (const table of [model.wte.weight, model.wpe?.weight]) {
    if (!table) continue;
    const w = table.data;
    for (let i = 0; i < w.length; i++) w[i] *= std / 0.02;
  }
  const splits = task.splits();
  const groups = byGroup(splits.train);
  const probeBatch = splits.validation.filter((s) => s.group === task.probeGroup)
    .slice(0, task.probeSize);
  const opt = new Adam(model.parameters(), { lr: 0 });
  const rng = new Rng(seed + 1000);
  const curve = new LossCurve(steps);
  const probes: ProbePoint[] = [];
  const record = (step: number) => {
    model.eval();
    const p = probe(model, probeBatch, step);
    model.train();
    probes.push(p);
    options.onProbe?.(p);
  };
  record(0);
  model.train();
  for (let step = 1; step <= steps; step++) {
    // The batch's group (period) is that of a random training sequence, so groups come up as
    // often as the split holds them; the batch is then drawn from that group.
    const group = groups.get(splits.train[rng.int(splits.train.length)].group)!;
    const batch: LMSequence[] = [];
    for (let i = 0; i < batchSize; i++) batch.push(group[rng.int(group.length)]);
    const t = batch[0].ids.length;
    opt.lr = trainingLearningRate(step, steps, maxLr, task.warmupSteps);
    opt.zeroGrad();
    // GPT.lmLoss, written out to keep the logits for the accuracy
    const { output } = model.forward(batch.map((s) => s.ids.slice(0, -1)), { needWeights: false });
    const v = output.shape[2];
    const logits = output.reshape([-1, v]); // [B·(T-1), V]
    const targets = batch.flatMap((s) => s.ids.slice(1));
    const loss = crossEntropy(logits, targets);
    loss.backward();
    opt.step();
    let right = 0;
    let scored = 0;
    batch.forEach((s, b) => {
      for (let i = s.scoredFrom - 1; i + 1 < t; i++) {
        const r = b * (t - 1) + i;
        scored++;
        if (argmax(logits.data.subarray(r * v, (r + 1) * v)) === targets[r]) right++;
      }
    });
    const value = loss.data[0];
    curve.add(step, value);
    const progress = {
      step,
      steps,
      lr: opt.lr,
      loss: value,
      accuracy: right / scored,
      tokens: targets.length,
    };
    options.onProgress?.(progress);
    if (step % probeEvery === 0 || step === steps) record(step);
    yield progress;
  }
  model.eval();
  const validation = splits.validation.slice(0, options.validationSize ?? splits.validation.length);
  const { accuracy } = lmExactMatch(model, validation);
  const column = <K extends keyof ProbePoint>(k: K) => probes.map((p) => p[k]);
  const probeRecord: ProbeRecord = {
    group: task.probeGroup,
    size: probeBatch.length,
    every: probeEvery,
    steps: column("step"),
    loss: column("loss"),
    repeatLoss: column("repeatLoss"),
    otherLoss: column("otherLoss"),
    repeatAccuracy: column("repeatAccuracy"),
    previousToken: column("previousToken"),
    prefixMatching: column("prefixMatching"),
  };
  const info: GPTCheckpointInfo = {
    task: task.name,
    config,
    tokens: [...task.vocab.tokens],
    training: {
      steps,
      seed,
      batchSize,
      maxLr,
      warmupSteps: task.warmupSteps,
      every: curve.every,
      loss: curve.values,
      probe: probeRecord,
      validationAccuracy: accuracy,
    },
  };
  return { model, bytes: saveModule(model, gptCheckpointMetadata(info)), info };
}
