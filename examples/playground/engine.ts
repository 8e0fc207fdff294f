/**
 * The playground's computations, with no DOM: loading a shipped checkpoint
 * from its bytes, checking an input against the task, greedy decoding with
 * the attention maps as plain arrays, and the attention walk-through of the
 * second tab. The page's script (`app.ts`) and the Deno tests both call
 * these, so what the browser shows is what Deno computes.
 *
 * @module
 */

import {
  add,
  causalMask,
  maskToBias,
  matmul,
  noGrad,
  randn,
  Rng,
  scale,
  scaledDotProductAttention,
  slice,
  softmax,
  type Tensor,
  transpose,
} from "../../mod.ts";
import { type Checkpoint, parseCheckpoint } from "../../train/checkpoint.ts";
import { getTask, type TaskSpec } from "../../train/tasks.ts";
import { headView } from "../../lib/plot/views/head_view.ts";
import { modelView } from "../../lib/plot/views/model_view.ts";
import { neuronView } from "../../lib/plot/views/neuron_view.ts";
import { traceAttention } from "../../lib/plot/views/trace_attention.ts";
import type { AttentionRole } from "../../lib/plot/views/attention_roles.ts";
import type { HeadViewSpec, NeuronViewSpec } from "../../lib/plot/views/view_spec.ts";
import { traceKernels } from "../../lib/kernels/registry.ts";
import { threadsAvailable, wasmReady } from "../../lib/kernels/simd.ts";
import { poolSize } from "../../lib/kernels/threads.ts";

/** A shipped model ready to decode: its checkpoint and its task's limits. */
export interface PlaygroundModel {
  /** The task's name (`reverse`, `dates`). */
  name: string;
  /** The loaded checkpoint (model in eval mode, vocabulary, training record). */
  checkpoint: Checkpoint;
  /** The task: input and output limits. */
  task: TaskSpec;
}

/** Bytes of a base64 string (`atob` exists in browsers and in Deno). */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Loads the checkpoint `bytes` of task `name` with the library's safetensors and loadModule. */
export function loadModel(name: string, bytes: Uint8Array): PlaygroundModel {
  const checkpoint = parseCheckpoint(bytes);
  if (checkpoint.task !== name) {
    throw new RangeError(
      `loadModel: the checkpoint is for task "${checkpoint.task}", not "${name}"`,
    );
  }
  return { name, checkpoint, task: getTask(name) };
}

/**
 * Why `text` cannot be decoded by `model` (empty, too long, a character
 * outside the vocabulary, named with its position), or null when it can.
 */
export function inputProblem(model: PlaygroundModel, text: string): string | null {
  const chars = [...text];
  if (chars.length === 0) return "Type an input.";
  if (chars.length > model.task.maxInputChars) {
    return `The input has ${chars.length} characters; the ${model.name} model takes at most ` +
      `${model.task.maxInputChars}.`;
  }
  const vocab = model.checkpoint.charVocab;
  for (const [i, c] of chars.entries()) {
    if (vocab.tokens.indexOf(c) < 3) {
      return `The character ${JSON.stringify(c)} at position ${i + 1} is not in the ` +
        `${model.name} vocabulary (${JSON.stringify(vocab.chars)}).`;
    }
  }
  return null;
}

/** One attention map as nested arrays: `[head][query][key]`. */
export type HeadMaps = number[][][];

/** What {@link decodeText} returns: tokens per step and every attention map as arrays. */
export interface DecodeView {
  /** The source tokens: the input's characters, then `<eos>`. */
  sourceTokens: string[];
  /** The token produced at each step (the last may be `<eos>`). */
  outputTokens: string[];
  /** The output text (the tokens before `<eos>`). */
  text: string;
  /** Log-probability of each step's token. */
  scores: number[];
  /** Decoder cross-attention per layer: `[head][step][source token]`. */
  cross: HeadMaps[];
  /** Decoder self-attention per layer: `[head][step][step]` (future steps 0). */
  decoderSelf: HeadMaps[];
  /** Encoder self-attention per layer: `[head][source token][source token]`. */
  encoderSelf: HeadMaps[];
  /** The decoder's input at each step: `<bos>`, then the previous step's token. */
  decoderInputs: string[];
  /** Kernel calls of the decode, counted by `name: backend`. */
  kernels: Record<string, number>;
}

/** `[1, H, R, C]` weights (batch of one) as `[head][row][col]` arrays. */
function headMaps(w: Tensor): HeadMaps {
  return (w.toArray() as HeadMaps[])[0];
}

/**
 * Greedy decoding of `text` with the KV cache (`Seq2Seq.greedyDecode`, as
 * `deno task predict` runs it), the attention maps of every step as arrays.
 *
 * @throws {RangeError} When {@link inputProblem} finds one.
 */
export function decodeText(model: PlaygroundModel, text: string): DecodeView {
  const problem = inputProblem(model, text);
  if (problem) throw new RangeError(`decodeText: ${problem}`);
  const { charVocab: vocab, model: seq } = model.checkpoint;
  const src = [...vocab.encode(text), vocab.eos];
  const { result, calls } = traceKernels(() =>
    seq.greedyDecode([src], {
      maxLen: model.task.maxOutputChars + 1,
      startToken: vocab.bos,
      endToken: vocab.eos,
    })
  );
  const tokens = result.tokens[0];
  const kernels: Record<string, number> = {};
  for (const c of calls) {
    kernels[`${c.name}: ${c.backend}`] = (kernels[`${c.name}: ${c.backend}`] ?? 0) + 1;
  }
  const outputTokens = tokens.map((t) => vocab.tokens[t]);
  return {
    sourceTokens: src.map((t) => vocab.tokens[t]),
    outputTokens,
    text: vocab.decode(tokens),
    scores: result.scores[0],
    cross: result.decoderCrossWeights.map(headMaps),
    decoderSelf: result.decoderSelfWeights.map(headMaps),
    encoderSelf: result.encoderSelfWeights.map(headMaps),
    decoderInputs: ["<bos>", ...outputTokens.slice(0, -1)],
    kernels,
  };
}

/** Token labels for the views: a space shown as `␣`. */
function shown(tokens: readonly string[]): string[] {
  return tokens.map((t) => t === " " ? "␣" : t);
}

/**
 * The decode's attention after its first `steps` steps, as the views' roles:
 * `cross` (steps × source), `decoder` (steps × steps) and `encoder` (source ×
 * source, complete from the start).
 */
export function rolesAt(view: DecodeView, steps: number): AttentionRole[] {
  const n = Math.max(1, Math.min(steps, view.outputTokens.length));
  const queries = shown(view.decoderInputs.slice(0, n));
  const source = shown(view.sourceTokens);
  const rows = (maps: HeadMaps[], cols?: number) =>
    maps.map((heads) => heads.map((m) => m.slice(0, n).map((r) => r.slice(0, cols))));
  return [
    {
      name: "cross",
      layers: rows(view.cross),
      queryLabels: queries,
      keyLabels: source,
    },
    {
      name: "decoder",
      layers: rows(view.decoderSelf, n),
      queryLabels: queries,
      keyLabels: queries,
    },
    {
      name: "encoder",
      layers: view.encoderSelf,
      queryLabels: source,
      keyLabels: source,
    },
  ];
}

/** The head view (lib/plot/views) of the decode after `steps` steps, cross-attention first. */
export function headViewSpec(view: DecodeView, steps: number): HeadViewSpec {
  const roles = rolesAt(view, steps);
  return headView(roles, { layer: roles[0].layers.length - 1 }).spec as HeadViewSpec;
}

/** The model view (every layer × head) of the decode after `steps` steps. */
export function modelViewSpec(view: DecodeView, steps: number): HeadViewSpec {
  return modelView(rolesAt(view, steps)).spec as HeadViewSpec;
}

/**
 * The neuron view of a finished decode: one teacher-forced forward pass of
 * the model over the input and the decoder inputs the greedy steps fed
 * (`<bos>` and each produced token but the last), traced.
 */
export function neuronViewSpec(model: PlaygroundModel, view: DecodeView): NeuronViewSpec {
  const { charVocab: vocab, model: seq } = model.checkpoint;
  const src = view.sourceTokens.map((t) => vocab.tokens.indexOf(t));
  const tgt = view.decoderInputs.map((t) => vocab.tokens.indexOf(t));
  const traced = noGrad(() => traceAttention(seq, () => seq.forward([src], [tgt])));
  const layers = seq.transformer.decoder.layers.length;
  return neuronView(traced, {
    sourceTokens: shown(view.sourceTokens),
    targetTokens: shown(view.decoderInputs),
    role: "cross",
    layer: layers - 1,
  }).spec as NeuronViewSpec;
}

/** Where the kernels run here: WebAssembly SIMD or JavaScript, and on how many threads. */
export function kernelPlace(): string {
  if (!wasmReady()) return "JavaScript kernels (no WebAssembly SIMD here), 1 thread";
  // no worker threads (a browser) or no shared memory (a page that is not cross-origin isolated)
  if (!threadsAvailable()) return "WebAssembly SIMD kernels, 1 thread";
  return `WebAssembly SIMD kernels, up to ${poolSize()} threads for large calls`;
}

/** The settings of the attention walk-through. */
export interface WalkSettings {
  /** Width of Q and K (1-16): their first `dK` columns. */
  dK: number;
  /** Temperature τ: scores are scaled by 1/(√d_k · τ). */
  temperature: number;
  /** Causal mask on (token i sees tokens 0..i) or off. */
  mask: boolean;
}

/** Every intermediate of one attention computation, as nested arrays. */
export interface WalkView {
  /** The example's tokens (queries and keys). */
  tokens: string[];
  /** The scale applied to Q·Kᵀ: 1/(√d_k · τ). */
  scale: number;
  /** `[T, d_k]` queries. */
  q: number[][];
  /** `[T, d_k]` keys. */
  k: number[][];
  /** `[T, d_v]` values. */
  v: number[][];
  /** `[T, T]` Q·Kᵀ. */
  scores: number[][];
  /** `[T, T]` Q·Kᵀ · scale. */
  scaled: number[][];
  /** `[T, T]` scaled with -∞ where the mask blocks. */
  masked: number[][];
  /** `[T, T]` softmax over keys. */
  weights: number[][];
  /** `[T, d_v]` weights · V. */
  output: number[][];
  /** The mask (true: may attend), `[T, T]`. */
  allowed: boolean[][];
  /** Largest |difference| between these steps and `scaledDotProductAttention` (weights, output). */
  fusedDifference: number;
}

/** The walk-through's example tokens. */
export const WALK_TOKENS: readonly string[] = ["the", "cat", "sat", "on", "the", "mat"];
/** Widest d_k of the walk-through. */
export const WALK_MAX_DK = 16;
/** Width of the walk-through's values. */
export const WALK_DV = 4;

// Fixed random Q, K, V at the widest d_k: moving the slider keeps the first columns.
const walkRng = new Rng(13);
const walkQ = randn([WALK_TOKENS.length, WALK_MAX_DK], walkRng);
const walkK = randn([WALK_TOKENS.length, WALK_MAX_DK], walkRng);
const walkV = randn([WALK_TOKENS.length, WALK_DV], walkRng);

function rows(x: Tensor): number[][] {
  return x.toArray() as number[][];
}

/**
 * One scaled dot-product attention, step by step with the library's ops,
 * and the fused `scaledDotProductAttention` on the same operands for comparison.
 *
 * @throws {RangeError} When `dK` is not an integer in [1, 16] or `temperature` is not positive.
 */
export function attentionWalk(settings: WalkSettings): WalkView {
  const { dK, temperature, mask } = settings;
  if (!Number.isInteger(dK) || dK < 1 || dK > WALK_MAX_DK) {
    throw new RangeError(`attentionWalk: dK must be an integer in [1, ${WALK_MAX_DK}], got ${dK}`);
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`attentionWalk: temperature must be positive, got ${temperature}`);
  }
  const t = WALK_TOKENS.length;
  const q = slice(walkQ, 1, 0, dK); // [T, d_k]
  const k = slice(walkK, 1, 0, dK); // [T, d_k]
  const v = walkV; // [T, d_v]
  const factor = 1 / (Math.sqrt(dK) * temperature);
  const scores = matmul(q, transpose(k)); // [T, d_k] x [d_k, T] -> [T, T]
  const scaled = scale(scores, factor);
  const m = mask ? causalMask(t) : undefined;
  const masked = m ? add(scaled, maskToBias(m)) : scaled; // blocked keys: -∞
  const weights = softmax(masked);
  const output = matmul(weights, v); // [T, T] x [T, d_v] -> [T, d_v]
  const fused = scaledDotProductAttention(q, k, v, { mask: m, scale: factor });
  let diff = 0;
  for (const [a, b] of [[weights, fused.weights], [output, fused.output]]) {
    for (let i = 0; i < a.data.length; i++) diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
  }
  return {
    tokens: [...WALK_TOKENS],
    scale: factor,
    q: rows(q),
    k: rows(k),
    v: rows(v),
    scores: rows(scores),
    scaled: rows(scaled),
    masked: rows(masked),
    weights: rows(weights),
    output: rows(output),
    allowed: Array.from(
      { length: t },
      (_, i) => Array.from({ length: t }, (_, j) => !mask || j <= i),
    ),
    fusedDifference: diff,
  };
}
