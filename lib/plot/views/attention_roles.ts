/**
 * {@link attentionRoles}: the attention maps of a model's result, grouped by
 * role (encoder self-attention, decoder self-attention, cross-attention) with
 * their token labels, ready for {@link headView} and {@link modelView}.
 *
 * @module
 */

import { formatShape } from "../../tensor/shape.ts";
import type { HeadsInput, TensorLike } from "../_matrix.ts";
import type { AttentionRole } from "./_encode.ts";

export type { AttentionRole } from "./_encode.ts";

/** Options of {@link attentionRoles}. */
export interface AttentionRolesOptions {
  /** Tokens of the source (encoder input): the labels of encoder self-attention and of cross-attention's keys. */
  sourceTokens?: readonly string[];
  /** Tokens of the target (decoder input): decoder self-attention and cross-attention's queries. */
  targetTokens?: readonly string[];
  /** Tokens of a single sequence (GPT, an encoder, a lone attention): both columns of `self` maps. */
  tokens?: readonly string[];
  /** Which sequence of a batched result to show. Default 0. */
  batch?: number;
}

// Known result keys, in display order, with the role they become.
const KNOWN: Record<
  string,
  { name: string; q: "source" | "target" | "tokens"; k: "source" | "target" | "tokens" }
> = {
  encoderSelfWeights: { name: "encoder", q: "source", k: "source" },
  decoderSelfWeights: { name: "decoder", q: "target", k: "target" },
  decoderCrossWeights: { name: "cross", q: "target", k: "source" },
  selfWeights: { name: "self", q: "tokens", k: "tokens" },
  crossWeights: { name: "cross", q: "target", k: "source" },
  weights: { name: "attention", q: "tokens", k: "tokens" },
};

const isTensorLike = (v: unknown): v is TensorLike =>
  typeof v === "object" && v !== null && (v as TensorLike).data instanceof Float32Array &&
  Array.isArray((v as TensorLike).shape);

/**
 * The attention maps of a model result (`{ output, ...<role>Weights }`, see
 * lib/models/README.md) as {@link AttentionRole}s: `encoderSelfWeights` →
 * `"encoder"`, `decoderSelfWeights` → `"decoder"`, `decoderCrossWeights` (or
 * `crossWeights`) → `"cross"`, `selfWeights` → `"self"` (`"decoder"` next to
 * `crossWeights`), a lone `weights` → `"attention"`; any other `<name>Weights`
 * key → `"<name>"`. Batched maps `[B, H, Tq, Tk]` give sequence `batch`.
 *
 * @param result A model's result (Seq2Seq, Transformer, Encoder, Decoder, GPT, a layer or MultiHeadAttention).
 * @param options Token labels and the sequence of a batch.
 * @returns One role per attention map key, in the model's order.
 * @throws {RangeError} When the result holds no attention maps (`needWeights: false`), a map is
 *   not `[H, Tq, Tk]` or `[B, H, Tq, Tk]`, or `batch` is out of range.
 *
 * @example The three roles of an encoder-decoder
 * ```ts
 * import { attentionRoles } from "./attention_roles.ts";
 * import { seq2seq } from "../../models/seq2seq.ts";
 * import assert from "node:assert/strict";
 * const model = seq2seq({ srcVocab: 5, tgtVocab: 5, dModel: 8, numHeads: 2, numEncoderLayers: 1,
 *   numDecoderLayers: 1, dFF: 16, maxLen: 8 });
 * const result = model.forward([1, 2, 3], [0, 4]);
 * const roles = attentionRoles(result, { sourceTokens: ["a", "b", "c"], targetTokens: ["<s>", "x"] });
 * assert.deepEqual(roles.map((r) => r.name), ["encoder", "decoder", "cross"]);
 * assert.deepEqual(roles[2].keyLabels, ["a", "b", "c"]);
 * ```
 */
export function attentionRoles(
  result: object,
  options: AttentionRolesOptions = {},
): AttentionRole[] {
  const fn = "attentionRoles";
  if (typeof result !== "object" || result === null) {
    throw new TypeError(`${fn}: result must be a model's result { output, ...<role>Weights }`);
  }
  const maps = result as Readonly<Record<string, unknown>>;
  const batch = options.batch ?? 0;
  if (!Number.isSafeInteger(batch) || batch < 0) {
    throw new RangeError(
      `${fn}: options.batch must be a non-negative integer, got ${String(batch)}`,
    );
  }
  const hasCross = maps.crossWeights !== undefined;
  const labels = {
    source: options.sourceTokens ?? options.tokens,
    target: options.targetTokens ?? options.tokens,
    tokens: options.tokens ?? options.targetTokens ?? options.sourceTokens,
  };
  const roles: AttentionRole[] = [];
  for (const [key, value] of Object.entries(maps)) {
    if (!/^(.*W|w)eights$/.test(key) || value === undefined || value === null) continue;
    const known = KNOWN[key] ??
      { name: key.slice(0, -"Weights".length), q: "tokens", k: "tokens" } as const;
    const self = key === "selfWeights" && hasCross;
    const list = Array.isArray(value) ? value : [value];
    const layers: HeadsInput[] = list.map((t, l) =>
      selectBatch(t, batch, fn, `result.${key}${Array.isArray(value) ? `[${l}]` : ""}`)
    );
    roles.push({
      name: self ? "decoder" : known.name,
      layers,
      queryLabels: self ? labels.target : labels[known.q],
      keyLabels: self ? labels.target : labels[known.k],
    });
  }
  if (roles.length === 0) {
    throw new RangeError(
      `${fn}: result holds no attention maps (keys: ${
        Object.keys(maps).join(", ")
      }); call the model without needWeights: false`,
    );
  }
  return roles;
}

/** `[H, Tq, Tk]` as is; sequence `b` of `[B, H, Tq, Tk]` as a view. */
function selectBatch(t: unknown, b: number, fn: string, arg: string): HeadsInput {
  if (!isTensorLike(t)) {
    throw new TypeError(`${fn}: ${arg} must be a Tensor of attention weights`);
  }
  if (t.shape.length === 3) {
    if (b !== 0) {
      throw new RangeError(
        `${fn}: options.batch is ${b} but ${arg} is unbatched, shape ${formatShape(t.shape)}`,
      );
    }
    return t;
  }
  if (t.shape.length !== 4) {
    throw new RangeError(
      `${fn}: ${arg} must have shape [H, Tq, Tk] or [B, H, Tq, Tk], got ${formatShape(t.shape)}`,
    );
  }
  const [B, H, Tq, Tk] = t.shape;
  if (b >= B) {
    throw new RangeError(
      `${fn}: options.batch must be in [0, ${B}) for ${arg} of shape ${
        formatShape(t.shape)
      }, got ${b}`,
    );
  }
  const size = H * Tq * Tk;
  return { data: t.data.subarray(b * size, (b + 1) * size), shape: [H, Tq, Tk] };
}
