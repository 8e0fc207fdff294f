/**
 * Checkpoints of trained task models: safetensors files whose `__metadata__`
 * carries the task, the model configuration, the vocabulary and the training
 * record, so that one call ({@link loadCheckpoint}) rebuilds the model.
 *
 * @module
 */

import {
  type GPT,
  gpt,
  loadModule,
  readSafetensorsMetadata,
  type Seq2Seq,
  seq2seq,
} from "../mod.ts";
import type { GPTConfig, Seq2SeqConfig } from "../mod.ts";
import { CharVocab } from "../tasks/_vocab.ts";
import { InductionVocab } from "../tasks/induction.ts";

/** What a checkpoint's metadata holds, parsed. */
export interface CheckpointInfo {
  /** The task's name. */
  task: string;
  /** The model configuration, seed included. */
  config: Seq2SeqConfig;
  /** The vocabulary's characters (after the specials pad, bos, eos). */
  vocab: string;
  /** The training record: options and the loss every few steps. */
  training: TrainingRecord;
}

/** How a checkpoint was trained. */
export interface TrainingRecord {
  /** Steps run. */
  steps: number;
  /** The training seed. */
  seed: number;
  /** Examples per step. */
  batchSize: number;
  /** Peak learning rate. */
  maxLr: number;
  /** Warm-up steps. */
  warmupSteps: number;
  /** Label smoothing. */
  labelSmoothing: number;
  /** The loss is averaged over each run of this many steps in `loss`. */
  every: number;
  /** Mean training loss of each run of `every` steps. */
  loss: number[];
  /** Exact match on the validation split at the end. */
  validationAccuracy: number;
}

/** Bytes of a checkpoint: the model's tensors and `info` in `__metadata__`. */
export function checkpointMetadata(info: CheckpointInfo): Record<string, string> {
  return {
    format: "attention-lab-checkpoint",
    task: info.task,
    config: JSON.stringify(info.config),
    vocab: info.vocab,
    training: JSON.stringify(info.training),
  };
}

/** A loaded checkpoint: the model (in eval mode), its vocabulary and its metadata. */
export interface Checkpoint extends CheckpointInfo {
  /** The trained model. */
  model: Seq2Seq;
  /** The vocabulary rebuilt from the stored characters. */
  charVocab: CharVocab;
}

/** Parses checkpoint bytes into the model, vocabulary and metadata. */
export function parseCheckpoint(bytes: Uint8Array): Checkpoint {
  const meta = readSafetensorsMetadata(bytes);
  if (meta.format !== "attention-lab-checkpoint") {
    throw new RangeError("parseCheckpoint: not an attention-lab checkpoint (no format metadata)");
  }
  if (meta.architecture === "gpt") {
    throw new RangeError(
      `parseCheckpoint: this is a GPT (decoder-only) checkpoint of task ${meta.task}; ` +
        `load it with loadGPTCheckpoint or parseGPTCheckpoint`,
    );
  }
  const config = JSON.parse(meta.config) as Seq2SeqConfig;
  const model = loadModule(seq2seq(config), bytes);
  model.eval();
  return {
    task: meta.task,
    config,
    vocab: meta.vocab,
    training: JSON.parse(meta.training) as TrainingRecord,
    model,
    charVocab: new CharVocab(meta.vocab, meta.task),
  };
}

/** Reads and parses the checkpoint at `path` (needs read permission). */
export async function loadCheckpoint(path: string | URL): Promise<Checkpoint> {
  return parseCheckpoint(await Deno.readFile(path));
}

/** Where the shipped checkpoint of `task` lives. */
export function shippedCheckpoint(task: string): URL {
  return new URL(`../checkpoints/${task}.safetensors`, import.meta.url);
}

/**
 * The held-out probe of a GPT training run: every `every` steps (and at step
 * 0, before training), the loss and the head scores on one fixed batch of
 * validation sequences. Column `k` of every array belongs to `steps[k]`.
 */
export interface ProbeRecord {
  /** The group (period) of the probe sequences. */
  group: string;
  /** Sequences in the probe batch (the first of the group in the validation split). */
  size: number;
  /** Steps between two probes. */
  every: number;
  /** The step of each probe (0: the initial weights). */
  steps: number[];
  /** Mean next-token loss over every position. */
  loss: number[];
  /** Mean loss on the predictable targets (from `scoredFrom`: the repeat after its first token). */
  repeatLoss: number[];
  /** Mean loss on the other targets (the first half and the repeat's first token). */
  otherLoss: number[];
  /** Greedy token accuracy on the predictable targets. */
  repeatAccuracy: number[];
  /** Previous-token score `[probe][layer][head]` (lib/analysis previousTokenScore). */
  previousToken: number[][][];
  /** Prefix-matching score `[probe][layer][head]` (lib/analysis prefixMatchingScore). */
  prefixMatching: number[][][];
}

/** How a GPT checkpoint was trained. */
export interface LMTrainingRecord {
  /** Steps run. */
  steps: number;
  /** The training seed. */
  seed: number;
  /** Sequences per step. */
  batchSize: number;
  /** Peak learning rate. */
  maxLr: number;
  /** Warm-up steps. */
  warmupSteps: number;
  /** The loss is averaged over each run of this many steps in `loss`. */
  every: number;
  /** Mean training loss of each run of `every` steps. */
  loss: number[];
  /** The held-out probe: loss and head scores over training. */
  probe: ProbeRecord;
  /** Exact match (every predictable target right, greedy) on the validation split at the end. */
  validationAccuracy: number;
}

/** What a GPT checkpoint's metadata holds, parsed. */
export interface GPTCheckpointInfo {
  /** The task's name. */
  task: string;
  /** The model configuration, seed included. */
  config: GPTConfig;
  /** The vocabulary's tokens, by id. */
  tokens: string[];
  /** The training record: options, the loss and the probe over training. */
  training: LMTrainingRecord;
}

/** The `__metadata__` of a GPT checkpoint. */
export function gptCheckpointMetadata(info: GPTCheckpointInfo): Record<string, string> {
  return {
    format: "attention-lab-checkpoint",
    architecture: "gpt",
    task: info.task,
    config: JSON.stringify(info.config),
    vocab: JSON.stringify(info.tokens),
    training: JSON.stringify(info.training),
  };
}

/** A loaded GPT checkpoint: the model (in eval mode), its vocabulary and its metadata. */
export interface GPTCheckpoint extends GPTCheckpointInfo {
  /** The trained model. */
  model: GPT;
  /** The vocabulary rebuilt from the stored tokens. */
  vocabulary: InductionVocab;
}

/** Parses GPT checkpoint bytes into the model, vocabulary and metadata (no I/O: works in a browser). */
export function parseGPTCheckpoint(bytes: Uint8Array): GPTCheckpoint {
  const fn = "parseGPTCheckpoint";
  const meta = readSafetensorsMetadata(bytes);
  if (meta.format !== "attention-lab-checkpoint") {
    throw new RangeError(`${fn}: not an attention-lab checkpoint (no format metadata)`);
  }
  if (meta.architecture !== "gpt") {
    throw new RangeError(
      `${fn}: this is a sequence-to-sequence checkpoint of task ${meta.task}; load it with ` +
        `loadCheckpoint or parseCheckpoint`,
    );
  }
  const config = JSON.parse(meta.config) as GPTConfig;
  const tokens = JSON.parse(meta.vocab) as string[];
  const vocabulary = new InductionVocab(tokens.length - 1);
  if (vocabulary.tokens.some((t, i) => t !== tokens[i])) {
    throw new RangeError(
      `${fn}: the stored vocabulary is not <bos>, t0..t${tokens.length - 2} (got ${
        JSON.stringify(tokens.slice(0, 4))
      }...)`,
    );
  }
  const model = loadModule(gpt(config), bytes);
  model.eval();
  return {
    task: meta.task,
    config,
    tokens,
    training: JSON.parse(meta.training) as LMTrainingRecord,
    model,
    vocabulary,
  };
}

/**
 * Reads and parses the GPT checkpoint at `path` (needs read permission), e.g.
 * `await loadGPTCheckpoint(shippedCheckpoint("induction"))`.
 */
export async function loadGPTCheckpoint(path: string | URL): Promise<GPTCheckpoint> {
  return parseGPTCheckpoint(await Deno.readFile(path));
}
