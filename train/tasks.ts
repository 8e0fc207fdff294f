/**
 * The trainable tasks: each task's vocabulary, splits, model configuration and
 * training defaults, shared by `train.ts`, `predict.ts` and `checkpoint.ts`.
 *
 * @module
 */

import type { GPTConfig, Seq2SeqConfig } from "../mod.ts";
import type { CharVocab } from "../tasks/_vocab.ts";
import { inductionSplits, InductionVocab } from "../tasks/induction.ts";
import { REVERSE_MAX_LENGTH, reverseSplits, reverseVocab } from "../tasks/reverse.ts";
import { datesSplits, datesVocab } from "../tasks/dates.ts";

/** One source/target pair of a sequence-to-sequence task. */
export interface Pair {
  /** The input text. */
  input: string;
  /** The expected output text. */
  target: string;
  /** A group the test split is scored by (the number of symbols for `reverse`). */
  group: string;
}

/** Everything `train` and `predict` need to know about one task. */
export interface TaskSpec {
  /** The task's name, as typed after `deno task train`. */
  name: string;
  /** Input and output vocabulary. */
  vocab: CharVocab;
  /** Longest input in characters. */
  maxInputChars: number;
  /** Longest output in characters (decoding stops one token after it). */
  maxOutputChars: number;
  /** The splits, drawn by the task's own seeds. */
  splits(): { train: Pair[]; validation: Pair[]; test: Pair[] };
  /** The model (without seed; the training seed is added). */
  model: Omit<Seq2SeqConfig, "seed">;
  /** Default training steps. */
  steps: number;
  /** Examples per step. */
  batchSize: number;
  /** Peak learning rate (Adam), reached after `warmupSteps`, then cosine decay to a tenth. */
  maxLr: number;
  /** Linear warm-up steps. */
  warmupSteps: number;
  /** Label smoothing of the cross-entropy. */
  labelSmoothing: number;
}

/** A task's example splits as {@link Pair}s, each in the group `group` gives it. */
function pairSplits<E extends { input: string; target: string }>(
  s: { train: E[]; validation: E[]; test: E[] },
  group: (e: E) => string,
): { train: Pair[]; validation: Pair[]; test: Pair[] } {
  const pairs = (list: E[]) =>
    list.map((e) => ({ input: e.input, target: e.target, group: group(e) }));
  return { train: pairs(s.train), validation: pairs(s.validation), test: pairs(s.test) };
}

// 16 symbols and the 15 spaces between them.
const reverseChars = 2 * REVERSE_MAX_LENGTH - 1;

/** The `reverse` task. */
export const reverseTask: TaskSpec = {
  name: "reverse",
  vocab: reverseVocab,
  maxInputChars: reverseChars,
  maxOutputChars: reverseChars,
  splits: () => pairSplits(reverseSplits(), (e) => String(e.length)),
  model: {
    srcVocab: reverseVocab.size,
    tgtVocab: reverseVocab.size,
    dModel: 64,
    numHeads: 4,
    dFF: 128,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dropout: 0,
    // Source: the characters and EOS; target: BOS, the characters, EOS.
    maxLen: reverseChars + 2,
    padToken: reverseVocab.pad,
  },
  steps: 800,
  batchSize: 32,
  maxLr: 4e-3,
  warmupSteps: 50,
  labelSmoothing: 0,
};

// The longest date any form writes: the weekday form with the longest weekday and month names
// and a two-digit day (27 September 2000 was a Wednesday).
const datesInputChars = "Wednesday, 27 September 2000".length;
// YYYY-MM-DD.
const datesOutputChars = 10;

/** The `dates` task: a date as people write it to ISO `YYYY-MM-DD`, scored per form. */
export const datesTask: TaskSpec = {
  name: "dates",
  vocab: datesVocab,
  maxInputChars: datesInputChars,
  maxOutputChars: datesOutputChars,
  splits: () => pairSplits(datesSplits(), (e) => e.form),
  model: {
    srcVocab: datesVocab.size,
    tgtVocab: datesVocab.size,
    dModel: 64,
    numHeads: 4,
    dFF: 128,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dropout: 0,
    // Source: the characters and EOS (the target, BOS + 10 characters + EOS, is shorter).
    maxLen: datesInputChars + 1,
    padToken: datesVocab.pad,
  },
  steps: 1000,
  batchSize: 32,
  maxLr: 6e-3,
  warmupSteps: 100,
  labelSmoothing: 0,
};

/** The tasks by name. */
export const TASKS: Readonly<Record<string, TaskSpec>> = {
  reverse: reverseTask,
  dates: datesTask,
};

/** The task called `name`, or a RangeError listing the known ones. */
export function getTask(name: string | undefined): TaskSpec {
  // Own properties only: "toString" or "constructor" is no task.
  const task = name !== undefined && Object.hasOwn(TASKS, name) ? TASKS[name] : undefined;
  if (!task) {
    const lm = isLMTask(name);
    throw new RangeError(
      lm
        ? `task ${JSON.stringify(name)} is a decoder-only (language-model) task: use getLMTask`
        : `unknown task ${JSON.stringify(name)}; the tasks are: ${
          [...Object.keys(TASKS), ...Object.keys(LM_TASKS)].join(", ")
        }`,
    );
  }
  return task;
}

/** One sequence of a language-model task. */
export interface LMSequence {
  /** Token ids, `<bos>` first. */
  ids: number[];
  /**
   * The first target position scored as "predictable": for `induction`, the
   * second token of the repeat (`repeatStart + 1`), the first that an induction
   * head can predict (the repeat's first token could be any token).
   */
  scoredFrom: number;
  /** The group the test split is scored by, and batches are drawn from (the period for `induction`). */
  group: string;
}

/** Everything `train` and `predict` need to know about one decoder-only (GPT) task. */
export interface LMTaskSpec {
  /** Marks a decoder-only task (seq2seq {@link TaskSpec}s have no `kind`). */
  kind: "lm";
  /** The task's name, as typed after `deno task train`. */
  name: string;
  /** The token vocabulary (`<bos>` is id 0). */
  vocab: InductionVocab;
  /**
   * The splits, drawn by the task's own seeds. All sequences of one group have
   * one length; a training batch is drawn from one group.
   */
  splits(): { train: LMSequence[]; validation: LMSequence[]; test: LMSequence[] };
  /** The group of the fixed held-out probe batch (its first `probeSize` validation sequences). */
  probeGroup: string;
  /** Sequences in the probe batch. */
  probeSize: number;
  /** Steps between two probes of the training record. */
  probeEvery: number;
  /** The model (without seed; the training seed is added). */
  model: Omit<GPTConfig, "seed">;
  /** Default training steps. */
  steps: number;
  /** Sequences per step. */
  batchSize: number;
  /** Peak learning rate (Adam), reached after `warmupSteps`, then cosine decay to a tenth. */
  maxLr: number;
  /** Linear warm-up steps. */
  warmupSteps: number;
}

/** The periods of the `induction` training sequences; 25 is the task's own (the test's main group). */
export const INDUCTION_PERIODS: Readonly<{ min: number; max: number }> = { min: 8, max: 25 };

const inductionVocab = new InductionVocab(50);

/**
 * The `induction` task: `<bos>`, p random distinct tokens of 50, the same p
 * again (tasks/induction.ts), for every period p in 8..25. Half the training
 * sequences have p = 25 (the default task) and the other half are spread over
 * 8..24; each step's batch holds one period. A single fixed period lets a
 * one-layer model predict the repeat by looking a fixed distance back (measured:
 * 77% on the repeat with prefix-matching scores of 0.04 at 800 steps), so the
 * period varies; the longest period stays frequent because only it reaches the
 * last positions (with periods drawn uniformly, seed 1 got positions 47-49 wrong).
 */
export const inductionTask: LMTaskSpec = {
  kind: "lm",
  name: "induction",
  vocab: inductionVocab,
  splits() {
    const out = {
      train: [] as LMSequence[],
      validation: [] as LMSequence[],
      test: [] as LMSequence[],
    };
    const { min, max } = INDUCTION_PERIODS;
    for (let p = min; p <= max; p++) {
      const main = p === max;
      const s = inductionSplits({
        period: p,
        randomTokens: inductionVocab.randomTokens,
        // The main period keeps the task's default seeds and test split (inductionSplits().test).
        sizes: main
          ? { train: 10000, validation: 500, test: 1000 }
          : { train: Math.ceil(10000 / (max - min)), validation: 50, test: 100 },
        seeds: main ? undefined : { train: 1000 + p, validation: 2000 + p, test: 3000 + p },
      });
      for (const split of ["train", "validation", "test"] as const) {
        for (const e of s[split]) {
          out[split].push({ ids: e.ids, scoredFrom: e.repeatStart + 1, group: String(p) });
        }
      }
    }
    return out;
  },
  probeGroup: String(INDUCTION_PERIODS.max),
  probeSize: 32,
  probeEvery: 10,
  model: {
    vocabSize: inductionVocab.size,
    blockSize: 1 + 2 * INDUCTION_PERIODS.max,
    dModel: 32,
    numHeads: 4,
    numLayers: 2,
    attentionOnly: true,
    // An untied unembedding, as in Olsson et al.; with embeddings N(0, 0.3²) and uniform periods,
    // tied reached 75% token accuracy on the repeat at 1200 steps where untied reached 100% by 900.
    tieWeights: false,
    positional: "learned",
  },
  steps: 2500,
  batchSize: 32,
  maxLr: 1e-2,
  warmupSteps: 20,
};

/** The decoder-only tasks by name. */
export const LM_TASKS: Readonly<Record<string, LMTaskSpec>> = { induction: inductionTask };

/** The decoder-only task called `name`, or a RangeError listing the known ones. */
export function getLMTask(name: string | undefined): LMTaskSpec {
  const task = isLMTask(name) ? LM_TASKS[name!] : undefined;
  if (!task) {
    throw new RangeError(
      `unknown task ${JSON.stringify(name)}; the tasks are: ${
        [...Object.keys(TASKS), ...Object.keys(LM_TASKS)].join(", ")
      }`,
    );
  }
  return task;
}

/** Whether `name` is a decoder-only task. */
export function isLMTask(name: string | undefined): boolean {
  return name !== undefined && Object.hasOwn(LM_TASKS, name);
}

/** The task called `name`, sequence-to-sequence or decoder-only (`"kind" in task` for the latter). */
export function getAnyTask(name: string | undefined): TaskSpec | LMTaskSpec {
  return isLMTask(name) ? getLMTask(name) : getTask(name);
}
