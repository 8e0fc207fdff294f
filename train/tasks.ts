/**
 * The trainable tasks: each task's vocabulary, splits, model configuration and
 * training defaults, shared by `train.ts`, `predict.ts` and `checkpoint.ts`.
 *
 * @module
 */

import type { Seq2SeqConfig } from "../mod.ts";
import type { CharVocab } from "../tasks/_vocab.ts";
import { REVERSE_MAX_LENGTH, reverseSplits, reverseVocab } from "../tasks/reverse.ts";

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

// 16 symbols and the 15 spaces between them.
const reverseChars = 2 * REVERSE_MAX_LENGTH - 1;

/** The `reverse` task. */
export const reverseTask: TaskSpec = {
  name: "reverse",
  vocab: reverseVocab,
  maxInputChars: reverseChars,
  maxOutputChars: reverseChars,
  splits() {
    const s = reverseSplits();
    const pairs = (list: typeof s.train) =>
      list.map((e) => ({ input: e.input, target: e.target, group: String(e.length) }));
    return { train: pairs(s.train), validation: pairs(s.validation), test: pairs(s.test) };
  },
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

/** The tasks by name. */
export const TASKS: Readonly<Record<string, TaskSpec>> = { reverse: reverseTask };

/** The task called `name`, or a RangeError listing the known ones. */
export function getTask(name: string | undefined): TaskSpec {
  const task = name === undefined ? undefined : TASKS[name];
  if (!task) {
    throw new RangeError(
      `unknown task ${JSON.stringify(name)}; the tasks are: ${Object.keys(TASKS).join(", ")}`,
    );
  }
  return task;
}
