/**
 * The training-step workloads T1 and T2 (bench/README.md, "Training step") on the
 * library, shared by bench/train_bench.ts and bench/train_memory.ts.
 *
 * The optimizer and the losses are looked up on mod.ts by name, so this file type-checks
 * and runs before they exist: {@link libraryStep} then returns the reason it cannot
 * build the step (the missing export, or the parameters no gradient reached) instead
 * of a step.
 *
 * @module
 */

import * as lib from "../mod.ts";
import { EncoderLayer } from "../lib/models/encoder_layer.ts";
import { Seq2Seq } from "../lib/models/seq2seq.ts";
import { mean } from "../lib/tensor/reduce.ts";
import { mul } from "../lib/tensor/elementwise.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn, type Tensor } from "../lib/tensor/tensor.ts";

/** T1: one encoder layer 512/8/2048, batch 8 × 64 tokens. */
export const T1 = { dModel: 512, numHeads: 8, dFF: 2048, batch: 8, length: 64 } as const;
/** T2: a 2 + 2 layer Transformer 128/4/512 with embeddings and a generator, batch 32 × 16. */
export const T2 = {
  dModel: 128,
  numHeads: 4,
  dFF: 512,
  layers: 2,
  batch: 32,
  length: 16,
  vocab: 1000,
} as const;
/** Adam's learning rate in every contender (the value does not change the work). */
export const LR = 1e-4;

export type Workload = "T1" | "T2";

/** Group names in `deno bench` and RESULTS.md. */
export const GROUPS: Record<Workload, string> = {
  T1: "T1 train step: encoder layer 512/8/2048, 8×64 tokens",
  T2: "T2 train step: transformer 128/4/512, 2+2 layers, 32×16 tokens",
};

/** Inputs of T2: source and target ids `[32, 16]`, next-token labels `[512]`, uniform over the vocabulary. */
export function t2Tokens(seed = 7): { src: number[][]; tgt: number[][]; labels: Int32Array } {
  const rng = new Rng(seed);
  const ids = () =>
    Array.from(
      { length: T2.batch },
      () => Array.from({ length: T2.length }, () => rng.int(T2.vocab)),
    );
  const src = ids(), tgt = ids();
  const labels = Int32Array.from(ids().flat());
  return { src, tgt, labels };
}

/** One training step of the library, timed by phase when asked. */
export interface LibraryStep {
  /** forward + loss, backward, Adam step, zeroGrad; returns the loss. */
  step(): number;
  /**
   * The same, returning each phase's milliseconds too; `after` (untimed) runs after
   * each phase (bench/train_memory.ts samples the RSS there).
   */
  timedStep(
    after?: (phase: "forward" | "backward" | "step") => void,
  ): { loss: number; forwardMs: number; backwardMs: number; stepMs: number };
  /** Parameter values updated by each step. */
  numParameters: number;
}

interface Optimizer {
  step(): void;
  zeroGrad(): void;
}
type OptimizerClass = new (
  params: Record<string, Tensor>,
  options: { lr: number },
) => Optimizer;
type ClassLoss = (logits: Tensor, target: Int32Array) => Tensor;

const api = lib as unknown as Record<string, unknown>;

/**
 * The library's training step for `workload`, or a one-line reason why it cannot be
 * built yet. Outside any timing it runs one step and checks that the loss is finite and
 * that every parameter received a gradient; a step that would train only part of the
 * model is refused, never timed.
 */
export function libraryStep(workload: Workload): LibraryStep | string {
  const Adam = api.Adam as OptimizerClass | undefined;
  if (typeof Adam !== "function") return "Adam is not exported from mod.ts yet";
  let model: EncoderLayer | Seq2Seq;
  let loss: () => Tensor;
  if (workload === "T1") {
    const layer = new EncoderLayer({
      dModel: T1.dModel,
      numHeads: T1.numHeads,
      dFF: T1.dFF,
      dropout: 0,
      seed: 1,
    });
    const x = randn([T1.batch, T1.length, T1.dModel], new Rng(3)); // [8, 64, 512]
    model = layer;
    // mean of squares of the output: L = Σ y² / N
    loss = () => {
      const { output } = layer.forward(x, { needWeights: false }); // [8, 64, 512]
      return mean(mul(output, output));
    };
  } else {
    // nllLoss of the log-probabilities Seq2Seq returns; crossEntropy on them is the same
    // number (log-softmax is idempotent) and serves until nllLoss lands
    const nll = (api.nllLoss ?? api.crossEntropy) as ClassLoss | undefined;
    if (typeof nll !== "function") return "neither nllLoss nor crossEntropy is exported yet";
    const s2s = new Seq2Seq({
      srcVocab: T2.vocab,
      tgtVocab: T2.vocab,
      dModel: T2.dModel,
      numHeads: T2.numHeads,
      dFF: T2.dFF,
      numEncoderLayers: T2.layers,
      numDecoderLayers: T2.layers,
      dropout: 0,
      maxLen: T2.length,
      seed: 1,
    });
    const { src, tgt, labels } = t2Tokens();
    model = s2s;
    loss = () => {
      const { output } = s2s.forward(src, tgt, { needWeights: false }); // [32, 16, V]
      return nll(output.reshape([T2.batch * T2.length, T2.vocab]), labels); // [512, V]
    };
  }
  model.train();
  const params = model.parameters();
  for (const p of Object.values(params)) p.requiresGrad = true;
  let optimizer: Optimizer;
  try {
    optimizer = new Adam(params, { lr: LR });
    const first = loss();
    if (!first.requiresGrad) return "the loss does not require grad: no op on its path records";
    first.backward();
    const missing = Object.entries(params).filter(([, p]) => p.grad === null).map(([k]) => k);
    if (missing.length > 0) {
      return `no gradient reached ${missing.length} of ${Object.keys(params).length} parameters (${
        missing.slice(0, 3).join(", ")
      }${missing.length > 3 ? ", ..." : ""})`;
    }
    const value = first.data[0];
    if (!Number.isFinite(value)) return `the loss is ${value}`;
    optimizer.step();
    optimizer.zeroGrad();
  } catch (error) {
    return `the step throws: ${(error as Error).message ?? error}`;
  }
  let n = 0;
  for (const p of Object.values(params)) n += p.size;
  return {
    numParameters: n,
    step() {
      const l = loss();
      l.backward();
      optimizer.step();
      optimizer.zeroGrad();
      return l.data[0];
    },
    timedStep(after) {
      const t0 = performance.now();
      const l = loss();
      const value = l.data[0];
      const t1 = performance.now();
      after?.("forward");
      const t2 = performance.now();
      l.backward();
      const t3 = performance.now();
      after?.("backward");
      const t4 = performance.now();
      optimizer.step();
      optimizer.zeroGrad();
      const t5 = performance.now();
      after?.("step");
      return { loss: value, forwardMs: t1 - t0, backwardMs: t3 - t2, stepMs: t5 - t4 };
    },
  };
}
