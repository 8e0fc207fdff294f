/**
 * {@link neuronView}: how one query's attention is computed, for any model of
 * this library: the query vector q, each key vector k, their product q∘k, the
 * sum q·k, the library's scaled score, the masked score and the softmax, for
 * a chosen role, layer, head and query, from the attention `trace`.
 *
 * @module
 */

import { divergingScale } from "../color_scale.ts";
import { formatShape } from "../../tensor/shape.ts";
import { _DISPLAY_BUDGET } from "../jupyter_display.ts";
import { AttentionView } from "./attention_view.ts";
import { _index, _indexLabels, _roleIndex, _viewLabels } from "./_encode.ts";
import { _float32Json, _neuronColumns, type NeuronColumns } from "./_neuron_math.ts";
import type { AttentionTraceRecord, TracedAttention } from "./trace_attention.ts";
import {
  type NeuronHeadSpec,
  type NeuronRoleSpec,
  type NeuronViewSpec,
  VIEW_SPEC_VERSION,
} from "./view_spec.ts";

export type { NeuronColumns } from "./_neuron_math.ts";

/** Options of {@link neuronView}. */
export interface NeuronViewOptions {
  /** Source tokens: queries and keys of `"encoder"`, keys of `"cross"`. */
  sourceTokens?: readonly string[];
  /** Target tokens: queries and keys of `"decoder"`, queries of `"cross"`. */
  targetTokens?: readonly string[];
  /** Tokens of a single sequence (`"self"`: GPT, a lone attention). */
  tokens?: readonly string[];
  /** Which sequence of a batch. Default 0. */
  batch?: number;
  /** The role shown first (name or index). Default the first recorded. */
  role?: string | number;
  /** The layer shown first. Default 0. */
  layer?: number;
  /** The head shown first. Default 0. */
  head?: number;
  /** The query shown first. Default 0. */
  query?: number;
  /** Only these layers go into the view (a smaller output). Default all. */
  layers?: readonly number[];
  /** Only these heads go into the view. Default all. */
  heads?: readonly number[];
  /** Keys listed at most (those of largest weight beyond). Default 64. */
  maxKeys?: number;
  /** Title above the view. */
  title?: string;
}

const LABELS: Record<string, ["source" | "target" | "tokens", "source" | "target" | "tokens"]> = {
  encoder: ["source", "source"],
  decoder: ["target", "target"],
  cross: ["target", "source"],
  self: ["tokens", "tokens"],
};

/**
 * The neuron view of a traced forward pass (`traceAttention(model, run)`):
 * every attention call becomes a role (`"encoder"`, `"decoder"`, `"cross"`,
 * `"self"`) and layer; the renderer lets you pick role, layer, head and query
 * and shows q, k, q∘k, q·k, the scaled score (`trace.scores`, bias included),
 * the masked score (−∞ where the mask blocks) and the softmax. Grouped-query
 * attention shows the key head each query head reads. {@link NeuronView.columns}
 * gives the same numbers in TypeScript.
 *
 * @param traced What `traceAttention` returned, or its `records`.
 * @param options Token labels, batch, what is shown first, which layers and heads go in.
 * @returns A {@link NeuronView}.
 * @throws {RangeError} When an attention module was called more than once (step-by-step
 *   decoding: trace one teacher-forced forward instead), labels do not match the
 *   queries or keys, an index is out of range, or the view would exceed the notebook's
 *   output limit (pass `layers` / `heads`).
 * @throws {TypeError} When `traced` holds no records.
 *
 * @example The neuron view of a GPT block's causal self-attention
 * ```ts
 * import { neuronView } from "./neuron_view.ts";
 * import { traceAttention } from "./trace_attention.ts";
 * import { gpt } from "../../models/gpt.ts";
 * import assert from "node:assert/strict";
 * const model = gpt({ vocabSize: 6, blockSize: 8, dModel: 8, numHeads: 2, numLayers: 1 });
 * const traced = traceAttention(model, () => model.forward([1, 2, 3]));
 * const view = neuronView(traced, { tokens: ["a", "b", "c"] });
 * const col = view.columns({ role: "self", layer: 0, head: 1, query: 0 });
 * assert.deepEqual(col.masked.slice(1), [-Infinity, -Infinity]); // causal: keys 1, 2 blocked
 * assert.deepEqual(col.softmax, [1, 0, 0]);
 * ```
 */
export function neuronView(
  traced: TracedAttention<unknown> | readonly AttentionTraceRecord[],
  options: NeuronViewOptions = {},
): NeuronView {
  const fn = "neuronView";
  const records = Array.isArray(traced)
    ? traced as readonly AttentionTraceRecord[]
    : (traced as TracedAttention<unknown>)?.records;
  if (!Array.isArray(records) || records.length === 0) {
    throw new TypeError(
      `${fn}: traced must be what traceAttention() returned (with at least one record)`,
    );
  }
  const batch = options.batch ?? 0;
  if (!Number.isSafeInteger(batch) || batch < 0) {
    throw new RangeError(
      `${fn}: options.batch must be a non-negative integer, got ${String(batch)}`,
    );
  }
  const maxKeys = options.maxKeys ?? 64;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(
      `${fn}: options.maxKeys must be a positive integer, got ${String(maxKeys)}`,
    );
  }
  // role -> layer -> record
  const byRole = new Map<string, Map<number, AttentionTraceRecord>>();
  for (const r of records) {
    const layers = byRole.get(r.role) ?? new Map<number, AttentionTraceRecord>();
    const seen = layers.get(r.layer);
    if (seen) {
      throw new RangeError(
        `${fn}: ${
          r.path || "the attention"
        } was called more than once (${r.role} layer ${r.layer}); trace one teacher-forced forward, not step-by-step decoding`,
      );
    }
    layers.set(r.layer, r);
    byRole.set(r.role, layers);
  }
  const tokens = {
    source: options.sourceTokens ?? options.tokens,
    target: options.targetTokens ?? options.tokens,
    tokens: options.tokens ?? options.targetTokens ?? options.sourceTokens,
  };
  const roles: NeuronRoleSpec[] = [];
  for (const [name, layers] of byRole) {
    const count = Math.max(...layers.keys()) + 1;
    const first = [...layers.values()][0];
    const { tq, tk } = dims(first, batch, fn);
    const [qs, ks] = LABELS[name] ?? ["tokens", "tokens"];
    roles.push({
      name,
      queryLabels: _viewLabels(tokens[qs], tq, fn, labelArg(qs), "query") ?? _indexLabels(tq),
      keyLabels: _viewLabels(tokens[ks], tk, fn, labelArg(ks), "key") ?? _indexLabels(tk),
      bias: [...layers.values()].some((r) => r.bias !== undefined),
      layers: Array.from({ length: count }, (_, l) => {
        const r = layers.get(l);
        if (!r || (options.layers && !options.layers.includes(l))) return [];
        return headSpecs(r, batch, tq, tk, options.heads, fn);
      }),
    });
  }
  const role = _roleIndex(options.role, roles, fn);
  const r0 = roles[role];
  const layer = _index(options.layer, r0.layers.length, fn, "options.layer", "a layer");
  const head = _index(
    options.head,
    Math.max(1, r0.layers[layer].length),
    fn,
    "options.head",
    "a head",
  );
  const query = _index(options.query, r0.queryLabels.length, fn, "options.query", "a query");
  const spec: NeuronViewSpec = {
    version: VIEW_SPEC_VERSION,
    view: "neuron",
    title: String(options.title ?? ""),
    roles,
    maxKeys,
    colorscale: divergingScale(),
    initial: { role, layer, head, query },
  };
  const size = JSON.stringify(spec).length;
  if (size > _DISPLAY_BUDGET / 2) {
    throw new RangeError(
      `${fn}: the view would hold ${size} characters of vectors and scores, over ${
        _DISPLAY_BUDGET / 2
      }; pass options.layers and/or options.heads to keep fewer`,
    );
  }
  const desc = roles.map((r) => `${r.name} ${r.layers.length} layers`).join(", ");
  return new NeuronView(spec, desc);
}

const labelArg = (s: string) =>
  s === "tokens"
    ? "options.tokens"
    : s === "source"
    ? "options.sourceTokens"
    : "options.targetTokens";

/** Tq and Tk of a record's scores (`[B, H, Tq, Tk]` or `[H, Tq, Tk]`), checking `batch`. */
function dims(r: AttentionTraceRecord, batch: number, fn: string): { tq: number; tk: number } {
  const s = r.trace.scores.shape;
  const batched = s.length === 4;
  if (batched ? batch >= s[0] : batch !== 0) {
    throw new RangeError(
      `${fn}: options.batch is ${batch} but ${r.path || "the attention"}'s scores have shape ${
        formatShape(s)
      }`,
    );
  }
  return { tq: s[s.length - 2], tk: s[s.length - 1] };
}

/** The spec of every head of one call (sequence `b`). */
function headSpecs(
  r: AttentionTraceRecord,
  b: number,
  tq: number,
  tk: number,
  only: readonly number[] | undefined,
  fn: string,
): (NeuronHeadSpec | null)[] {
  const { query, key, scores } = r.trace;
  const batched = scores.shape.length === 4;
  const H = r.numHeads, Hkv = r.numKvHeads;
  const [sTq, sTk] = scores.shape.slice(-2);
  if (sTq !== tq || sTk !== tk) {
    throw new RangeError(
      `${fn}: ${r.path}'s scores have shape ${
        formatShape(scores.shape)
      }, layer 0 of its role has Tq=${tq}, Tk=${tk}; every layer of a role must see the same tokens`,
    );
  }
  const dh = query.shape[query.shape.length - 1];
  const qBase = (h: number) => ((batched ? b * H : 0) + h) * tq * dh;
  const kBase = (h: number) => ((batched ? b * Hkv : 0) + Math.floor((h * Hkv) / H)) * tk * dh;
  const sBase = (h: number) => ((batched ? b * H : 0) + h) * tq * tk;
  const allowedAt = maskReader(r, b, tq, tk);
  const rows = (data: Float32Array, base: number, n: number, m: number) =>
    Array.from({ length: n }, (_, i) => {
      const row = new Array(m);
      for (let j = 0; j < m; j++) row[j] = _float32Json(data[base + i * m + j]);
      return row;
    });
  return Array.from({ length: H }, (_, h) => {
    if (only && !only.includes(h)) return null;
    const allowed: string[] = [];
    for (let i = 0; i < tq; i++) {
      let s = "";
      for (let j = 0; j < tk; j++) s += allowedAt(h, i, j) ? "1" : "0";
      allowed.push(s);
    }
    return {
      query: rows(query.data, qBase(h), tq, dh),
      key: rows(key.data, kBase(h), tk, dh),
      scores: rows(scores.data, sBase(h), tq, tk),
      allowed,
    };
  });
}

/** Reads the call's mask (broadcast against `[B, H, Tq, Tk]`) at (b, h, i, j); no mask allows all. */
function maskReader(r: AttentionTraceRecord, b: number, tq: number, tk: number) {
  const m = r.mask;
  if (!m) return () => true;
  const batched = r.trace.scores.shape.length === 4;
  const target = batched ? [r.trace.scores.shape[0], r.numHeads, tq, tk] : [r.numHeads, tq, tk];
  // Right-aligned strides, 0 on broadcast axes.
  const strides = new Array<number>(target.length).fill(0);
  let s = 1;
  for (let a = m.shape.length - 1; a >= 0; a--) {
    const t = target.length - m.shape.length + a;
    if (t >= 0) strides[t] = m.shape[a] === 1 ? 0 : s;
    s *= m.shape[a];
  }
  const [sb, sh, si, sj] = batched ? strides : [0, ...strides];
  return (h: number, i: number, j: number) => m.data[b * sb + h * sh + i * si + j * sj] === 1;
}

/** What {@link NeuronView.columns} selects. */
export interface NeuronSelection {
  /** Role name or index. Default the first. */
  role?: string | number;
  /** Layer. Default 0. */
  layer?: number;
  /** Head. Default 0. */
  head?: number;
  /** Query. Default 0. */
  query?: number;
}

/** The neuron view: an {@link AttentionView} that can also give its numbers. */
export class NeuronView extends AttentionView {
  /** The spec, typed. */
  declare readonly spec: NeuronViewSpec;

  /**
   * The numbers the view shows for one role, layer, head and query (the same
   * loops as the renderer): q, k, q∘k, q·k, scaled, masked and softmax.
   *
   * @param at Role, layer, head and query.
   * @returns The columns.
   * @throws {RangeError} When an index is out of range or the layer or head was left out.
   *
   * @example q·k of a lone attention
   * ```ts
   * import { neuronView } from "./neuron_view.ts";
   * import { traceAttention } from "./trace_attention.ts";
   * import { multiHeadAttention } from "../../models/multi_head_attention.ts";
   * import { randn } from "../../tensor/tensor.ts";
   * import { Rng } from "../../tensor/rng.ts";
   * import assert from "node:assert/strict";
   * const mha = multiHeadAttention({ dModel: 4, numHeads: 1 });
   * const x = randn([3, 4], new Rng(0));
   * const traced = traceAttention(mha, () => mha.forward(x, x, x));
   * const c = neuronView(traced).columns({ query: 2 });
   * assert.ok(Math.abs(c.dot[1] / 2 - c.scaled[1]) < 1e-5); // scaled = q·k/√4
   * ```
   */
  columns(at: NeuronSelection = {}): NeuronColumns {
    const fn = "NeuronView.columns";
    const roles = this.spec.roles;
    const r = typeof at.role === "string"
      ? roles.findIndex((x) => x.name === at.role)
      : _index(at.role, roles.length, fn, "at.role", "a role");
    if (r < 0) throw new RangeError(`${fn}: at.role "${at.role}" is not in this view`);
    const role = roles[r];
    const layer = _index(at.layer, role.layers.length, fn, "at.layer", "a layer");
    const head = _index(at.head, Math.max(1, role.layers[layer].length), fn, "at.head", "a head");
    const query = _index(at.query, role.queryLabels.length, fn, "at.query", "a query");
    const spec = role.layers[layer][head];
    if (!spec) {
      throw new RangeError(
        `${fn}: ${role.name} layer ${layer} head ${head} was left out of this view`,
      );
    }
    return _neuronColumns(spec, query);
  }
}
