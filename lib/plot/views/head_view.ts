/**
 * {@link headView}: BertViz's head view, offline. Queries in the left column,
 * keys in the right, joined by lines as strong as the attention weight, one
 * colour per head; a layer selector, an encoder / decoder / cross selector,
 * heads toggled by click (double-click keeps one), a token's lines focused on
 * hover, and "save as SVG / PNG".
 *
 * @module
 */

import type { HeadsInput } from "../_matrix.ts";
import { AttentionView } from "./attention_view.ts";
import {
  _checkRole,
  _headColors,
  _index,
  _kept,
  type _Role,
  _roleIndex,
  _roleSpec,
  type AttentionRole,
} from "./_encode.ts";
import { VIEW_SPEC_VERSION } from "./view_spec.ts";
import type { HeadViewSpec } from "./view_spec.ts";

/** Options of {@link headView} and `modelView`. */
export interface HeadViewOptions {
  /** Tokens of both columns when `attention` is a plain list of layers (self-attention). */
  labels?: readonly string[];
  /** Query tokens (left column) when `attention` is a plain list of layers. */
  queryLabels?: readonly string[];
  /** Key tokens (right column) when `attention` is a plain list of layers. */
  keyLabels?: readonly string[];
  /** Title above the view. */
  title?: string;
  /** The role shown first (its index or name). Default the first. */
  role?: number | string;
  /** The layer shown first. Default 0. */
  layer?: number;
  /** The heads shown first. Default all. */
  heads?: readonly number[];
  /**
   * Keys kept per query, the largest weights first. Default: every key up to
   * 64 keys, else 16 (what keeps 512 tokens light; see the renderer's notes).
   */
  topK?: number;
  /** Weights below this are dropped (they would draw invisible lines). Default 0.001. */
  minWeight?: number;
}

/** Turns the input of the head and model views into checked roles. */
export function _roles(
  attention: readonly HeadsInput[] | readonly AttentionRole[],
  options: HeadViewOptions,
  fn: string,
): _Role[] {
  if (!Array.isArray(attention) || attention.length === 0) {
    throw new TypeError(
      `${fn}: attention must be a non-empty list of layers ([H, Tq, Tk] each) or of roles { name, layers }`,
    );
  }
  const isRole = (v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v) && "layers" in v;
  if (attention.every(isRole)) {
    return (attention as readonly AttentionRole[]).map((r, i) =>
      _checkRole(r, fn, `attention[${i}]`)
    );
  }
  if (attention.some(isRole)) {
    throw new TypeError(`${fn}: attention mixes roles { name, layers } and plain layers`);
  }
  return [
    _checkRole(
      {
        name: "attention",
        layers: attention as readonly HeadsInput[],
        queryLabels: options.queryLabels ?? options.labels,
        keyLabels: options.keyLabels ?? options.labels,
      },
      fn,
      "attention",
    ),
  ];
}

/** The spec shared by the head and model views. */
export function _headSpec(
  view: "head" | "model",
  roles: _Role[],
  options: HeadViewOptions,
  fn: string,
): HeadViewSpec {
  const kept = _kept(options, Math.max(...roles.map((r) => r.tk)), fn);
  const role = _roleIndex(options.role, roles, fn);
  const layer = _index(options.layer, roles[role].maps.length, fn, "options.layer", "a layer");
  const H = roles[role].heads;
  const heads = options.heads === undefined
    ? Array.from({ length: H }, (_, h) => h)
    : [...options.heads].map((h, i) => _index(h, H, fn, `options.heads[${i}]`, "a head"));
  return {
    version: VIEW_SPEC_VERSION,
    view,
    title: String(options.title ?? ""),
    roles: roles.map((r) => _roleSpec(r, kept)),
    headColors: _headColors(Math.max(...roles.map((r) => r.heads))),
    kept,
    initial: { role, layer, heads: [...new Set(heads)].sort((a, b) => a - b) },
  };
}

/** `3 roles, 2 layers, 4 heads, 9×10 tokens` */
export function _describeRoles(roles: _Role[]): string {
  const r = roles[0];
  return `${
    roles.length === 1 ? r.name : `${roles.length} roles (${roles.map((x) => x.name).join(", ")})`
  }, ${r.maps.length} layers, ${r.heads} heads, ${r.tq}×${r.tk} tokens`;
}

/**
 * The head view of attention maps: one `[H, Tq, Tk]` per layer (a plain list,
 * with `labels`), or several roles (`attentionRoles(result, …)` of a model's
 * result: encoder, decoder and cross-attention of an encoder-decoder).
 *
 * @param attention Per-layer maps `[H, Tq, Tk]`, or {@link AttentionRole}s.
 * @param options Token labels (plain lists), title, what is shown first, and what is kept.
 * @returns An {@link AttentionView}; display it, or call `toHtml()` / `toSvg()`.
 * @throws {RangeError} When layers of a role differ in shape, a weight is not a finite number
 *   in [0, 1] (the message names layer, head, query and key), labels do not match their axis,
 *   or an option is out of range.
 * @throws {TypeError} When `attention` is neither a list of layers nor of roles.
 *
 * @example Two layers of one head over three tokens
 * ```ts
 * import { headView } from "./head_view.ts";
 * import assert from "node:assert/strict";
 * const layer0 = [[[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]]; // [H=1, Tq=3, Tk=3]
 * const layer1 = [[[1, 0, 0], [1, 0, 0], [1, 0, 0]]];
 * const view = headView([layer0, layer1], { labels: ["the", "cat", "sat"] });
 * assert.equal(view.spec.view, "head");
 * assert.deepEqual(view.spec.roles[0].layers[0][0].rows[1], [0, 500, 1, 500]); // key, weight in 1/1000
 * ```
 */
export function headView(
  attention: readonly HeadsInput[] | readonly AttentionRole[],
  options: HeadViewOptions = {},
): AttentionView {
  const fn = "headView";
  const roles = _roles(attention, options, fn);
  return new AttentionView(_headSpec("head", roles, options, fn), _describeRoles(roles));
}
