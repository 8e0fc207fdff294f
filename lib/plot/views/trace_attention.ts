/**
 * {@link traceAttention}: the intermediates (queries, keys, scores, mask) of
 * every multi-head attention inside a model during one forward pass, for the
 * neuron view. Works for any model of this library, because every attention
 * in it is a {@link MultiHeadAttention} module.
 *
 * @module
 */

import type { Module } from "../../layers/module.ts";
import {
  MultiHeadAttention,
  type MultiHeadAttentionForwardOptions,
  type MultiHeadAttentionTrace,
} from "../../models/multi_head_attention.ts";
import type { Mask } from "../../tensor/mask.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/** One call of one attention module, recorded by {@link traceAttention}. */
export interface AttentionTraceRecord {
  /** The module's dotted path in the model, e.g. `transformer.decoder.layers.1.multihead_attn`, `h.0.attn`. */
  path: string;
  /**
   * The role read from the path: `"encoder"` (self-attention under an
   * encoder), `"cross"` (`multihead_attn`), `"decoder"` (self-attention under
   * a decoder), else `"self"` (GPT blocks, a lone attention).
   */
  role: string;
  /** The layer: the last number in the path (`layers.1` → 1, `h.0` → 0), else 0. */
  layer: number;
  /** Query heads H. */
  numHeads: number;
  /** Key/value heads Hkv (query head h reads key head `floor(h·Hkv/H)`). */
  numKvHeads: number;
  /** The call's intermediates: `query`, `key`, `value`, `scores` (before mask and softmax), `concat`. */
  trace: MultiHeadAttentionTrace;
  /** The call's mask (`true` = may attend), broadcast against the scores. */
  mask?: Mask;
  /** The call's additive score bias, if any (already inside `trace.scores`). */
  bias?: Tensor;
}

/** What {@link traceAttention} returns. */
export interface TracedAttention<T> {
  /** What `run` returned. */
  result: T;
  /** Every attention call, in call order. */
  records: AttentionTraceRecord[];
}

/** Every MultiHeadAttention under `root`, with its path. */
function attentionModules(root: Module): { path: string; mha: MultiHeadAttention }[] {
  const out: { path: string; mha: MultiHeadAttention }[] = [];
  // Iterative walk, parents before children, children in registration order.
  const stack: { path: string; m: Module }[] = [{ path: root.path, m: root }];
  while (stack.length) {
    const { path, m } = stack.pop()!;
    if (m instanceof MultiHeadAttention) out.push({ path, mha: m });
    const kids = Object.entries(m.children()).reverse();
    for (const [name, child] of kids) {
      stack.push({ path: path ? `${path}.${name}` : name, m: child });
    }
  }
  return out;
}

/** Role and layer from a module path. */
export function _roleOfPath(path: string): { role: string; layer: number } {
  const parts = path.split(".");
  const numbers = parts.filter((p) => /^\d+$/.test(p));
  const layer = numbers.length ? Number(numbers[numbers.length - 1]) : 0;
  const last = parts[parts.length - 1];
  let role = "self";
  if (last === "multihead_attn" || /cross/i.test(last)) role = "cross";
  else if (parts.includes("encoder")) role = "encoder";
  else if (parts.includes("decoder")) role = "decoder";
  return { role, layer };
}

/**
 * Runs `run` (typically one teacher-forced `model.forward(...)`) while every
 * {@link MultiHeadAttention} inside `model` records its trace
 * (`forward(..., { trace: true })`), its mask and its bias. The model is left
 * exactly as it was (the recording wrapper is removed, also when `run` throws)
 * and its outputs are unchanged: tracing only copies intermediates out.
 *
 * @param model The model (any {@link Module}; a lone MultiHeadAttention works too).
 * @param run A synchronous function that runs the model.
 * @returns `run`'s result and one record per attention call, in call order.
 * @throws {TypeError} When `model` holds no MultiHeadAttention, or `run` is not a function
 *   or returns a Promise (the recording must end when `run` returns).
 *
 * @example The three attentions of a 1 + 1 layer encoder-decoder
 * ```ts
 * import { traceAttention } from "./trace_attention.ts";
 * import { seq2seq } from "../../models/seq2seq.ts";
 * import assert from "node:assert/strict";
 * const model = seq2seq({ srcVocab: 5, tgtVocab: 5, dModel: 8, numHeads: 2, numEncoderLayers: 1,
 *   numDecoderLayers: 1, dFF: 16, maxLen: 8 });
 * const { records } = traceAttention(model, () => model.forward([1, 2, 3], [0, 4]));
 * assert.deepEqual(records.map((r) => r.role), ["encoder", "decoder", "cross"]);
 * assert.deepEqual(records[2].trace.scores.shape, [1, 2, 2, 3]); // [B, H, T, S]
 * ```
 */
export function traceAttention<T>(model: Module, run: () => T): TracedAttention<T> {
  const fn = "traceAttention";
  if (typeof run !== "function") throw new TypeError(`${fn}: run must be a function`);
  const found = typeof model === "object" && model !== null && "children" in model
    ? attentionModules(model)
    : [];
  if (found.length === 0) {
    throw new TypeError(`${fn}: model must be a Module holding at least one MultiHeadAttention`);
  }
  const records: AttentionTraceRecord[] = [];
  const previous = found.map(({ mha }) => Object.getOwnPropertyDescriptor(mha, "forward"));
  for (const { path, mha } of found) {
    const original = mha.forward;
    const { role, layer } = _roleOfPath(path);
    const recording = function (
      this: MultiHeadAttention,
      query: Tensor,
      key: Tensor,
      value: Tensor,
      options: MultiHeadAttentionForwardOptions = {},
    ) {
      const r = original.call(this, query, key, value, { ...options, trace: true });
      records.push({
        path,
        role,
        layer,
        numHeads: mha.numHeads,
        numKvHeads: mha.numKvHeads,
        trace: r.trace!,
        mask: options.mask,
        bias: options.bias,
      });
      // The caller asked for no trace: give back exactly what it would have got.
      if (!options.trace) delete r.trace;
      return r;
    };
    Object.defineProperty(mha, "forward", { value: recording, configurable: true, writable: true });
  }
  try {
    const result = run();
    if (result instanceof Promise) {
      throw new TypeError(`${fn}: run must be synchronous (it returned a Promise)`);
    }
    return { result, records };
  } finally {
    found.forEach(({ mha }, i) => {
      const p = previous[i];
      if (p) Object.defineProperty(mha, "forward", p);
      else delete (mha as { forward?: unknown }).forward;
    });
  }
}
