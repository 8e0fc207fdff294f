/**
 * Checkpoints of trained task models: safetensors files whose `__metadata__`
 * carries the task, the model configuration, the vocabulary and the training
 * record, so that one call ({@link loadCheckpoint}) rebuilds the model.
 *
 * @module
 */

import { loadModule, readSafetensorsMetadata, type Seq2Seq, seq2seq } from "../mod.ts";
import type { Seq2SeqConfig } from "../mod.ts";
import { CharVocab } from "../tasks/_vocab.ts";

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
