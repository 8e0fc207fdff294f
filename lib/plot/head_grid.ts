/**
 * {@link headGrid}: the attention weights of every head, side by side.
 *
 * @module
 */

import type { ColorScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { type _ColorOptions, _resolveColor } from "./_color_options.ts";
import { _heatmapFigure, type _Panel } from "./_heatmap_figure.ts";
import { _toHeads, type HeadsInput } from "./_matrix.ts";

export type { HeadsInput } from "./_matrix.ts";

/** Options of {@link headGrid}. */
export interface HeadGridOptions {
  /** Tokens for both axes (self-attention, Tq = Tk). `queryLabels`/`keyLabels` override it. */
  labels?: readonly string[];
  /** One token per query (rows). */
  queryLabels?: readonly string[];
  /** One token per key (columns). */
  keyLabels?: readonly string[];
  /** One subplot title per head. Default `"head 0"`, `"head 1"`, …. */
  headLabels?: readonly string[];
  /** Figure title. */
  title?: string;
  /** Subplots per row. Default: up to 4. */
  columns?: number;
  /**
   * Value at the bottom of the shared colour scale. Default 0 for attention
   * weights (every value in [0, 1]); else the smallest value, or `-max|v|`
   * on the diverging scale.
   */
  zmin?: number;
  /**
   * Value at the top of the shared colour scale. Default 1 for attention
   * weights; else the largest value, or `max|v|` on the diverging scale.
   */
  zmax?: number;
  /**
   * `"sequential"`, `"diverging"` or a plotly colour scale. Default: sequential
   * for attention weights; for other values (scores, biases) diverging and
   * symmetric about 0 when they have both signs, else sequential.
   */
  colorscale?: "sequential" | "diverging" | ColorScale;
  /**
   * One colour range and colour bar for all heads (default `true`), so equal
   * colours mean equal values across heads. With `false` each head gets the
   * range of its own values and its own colour bar (unless `zmin` and `zmax`
   * are both given): for per-head quantities on very different scales, such
   * as ALiBi's bias, whose slope differs by a factor of 2 from head to head.
   */
  sharedScale?: boolean;
  /** Colour bar title. Default `"weight"` for attention weights, else `"value"`. */
  colorbarTitle?: string;
  /** X axis title. Default `"key"`. */
  xTitle?: string;
  /** Y axis title. Default `"query"`. */
  yTitle?: string;
}

/** Checks optional per-head (or per-layer) titles. */
export function _titles(
  titles: readonly string[] | undefined,
  n: number,
  fn: string,
  arg: string,
  what: string,
  plural = `${what}s`,
): string[] {
  if (titles === undefined) return Array.from({ length: n }, (_, i) => `${what} ${i}`);
  if (!Array.isArray(titles) || titles.length !== n) {
    throw new RangeError(
      `${fn}: ${arg} must have one entry per ${what}: got ${
        Array.isArray(titles) ? titles.length : String(titles)
      } for ${n} ${plural}`,
    );
  }
  return titles.map(String);
}

/**
 * One attention map per head in a grid of subplots, all on the same colour
 * scale (one colour bar), query 0 on top in each. Takes the per-head weights a
 * multi-head attention returns, `[H, Tq, Tk]` or `[1, H, Tq, Tk]`; attention
 * weights get the fixed range [0, 1]. Any other per-head matrices (the raw
 * scores `trace.scores`, a position bias) get the range of their values, on a
 * diverging scale centred on 0 when they have both signs; name them with
 * `colorbarTitle`.
 *
 * @param weights Per-head matrices, `[H, Tq, Tk]` (leading size-1 axes dropped).
 * @param options Token labels, head titles, columns, colour range and scale, titles.
 * @returns A {@link Figure} with one heatmap trace per head.
 * @throws {RangeError} When `weights` is not `[H, Tq, Tk]` after dropping leading
 *   size-1 axes (e.g. a batch of 2), a label list does not match its axis, or
 *   `zmin` is not below `zmax`.
 * @throws {TypeError} When `colorscale` is not a scale name or `[position, colour]` pairs.
 *
 * @example Two heads, one subplot each
 * ```ts
 * import { headGrid } from "./head_grid.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([[[1, 0], [0.5, 0.5]], [[0, 1], [1, 0]]]); // [H=2, Tq=2, Tk=2]
 * const fig = headGrid(w, { labels: ["a", "b"], title: "layer 0" });
 * assert.equal(fig.data.length, 2);
 * assert.equal(fig.data[1].xaxis, "x2");
 * assert.deepEqual(fig.layout.annotations?.map((a) => a.text), ["head 0", "head 1"]);
 * ```
 *
 * @example Per-head scores: signed, so a diverging scale about 0
 * ```ts
 * import { headGrid } from "./head_grid.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const scores = tensor([[[2, -1], [0.5, 3]], [[-4, 1], [0, 2]]]); // [H=2, Tq=2, Tk=2]
 * const fig = headGrid(scores, { colorbarTitle: "score" });
 * const trace = fig.data[0];
 * assert.ok(trace.type === "heatmap");
 * assert.deepEqual([trace.zmin, trace.zmax], [-4, 4]);
 * assert.equal(trace.colorbar?.title?.text, "score");
 * ```
 *
 * @example ALiBi's bias, each head on its own scale
 * ```ts
 * import { headGrid } from "./head_grid.ts";
 * import assert from "node:assert/strict";
 * // -m_h·|i - j| for two heads with slopes 1/2 and 1/16, three positions
 * const bias = [1 / 2, 1 / 16].map((m) => [0, 1, 2].map((i) => [0, 1, 2].map((j) => -m * Math.abs(i - j))));
 * const fig = headGrid(bias, { sharedScale: false, colorbarTitle: "bias" });
 * const [h0, h1] = fig.data;
 * assert.ok(h0.type === "heatmap" && h1.type === "heatmap");
 * assert.deepEqual([h0.zmin, h0.zmax, h1.zmin, h1.zmax], [-1, 0, -0.125, 0]);
 * assert.ok(h0.showscale && h1.showscale, "a colour bar per head");
 * ```
 */
export function headGrid(weights: HeadsInput, options: HeadGridOptions = {}): Figure {
  const fn = "headGrid";
  const heads = _toHeads(weights, fn, "weights");
  const titles = _titles(options.headLabels, heads.length, fn, "options.headLabels", "head");
  const sharedScale = options.sharedScale ?? true;
  if (typeof sharedScale !== "boolean") {
    throw new TypeError(`${fn}: options.sharedScale must be a boolean, got ${typeof sharedScale}`);
  }
  return _grid(fn, heads.map((matrix, h) => ({ matrix, title: titles[h] })), {
    ..._attentionAxes(options),
    title: options.title,
    columns: options.columns ?? Math.min(4, heads.length),
    color: options,
    weights: true,
    sharedScale,
    colorbarTitle: options.colorbarTitle,
    description: (what) =>
      `${heads.length} heads of ${heads[0]?.rows ?? 0}×${heads[0]?.cols ?? 0} ${what}`,
  });
}

/** The axes of an attention grid: keys along x, queries along y, with their labels. */
export function _attentionAxes(o: {
  labels?: readonly string[];
  queryLabels?: readonly string[];
  keyLabels?: readonly string[];
  xTitle?: string;
  yTitle?: string;
}): Pick<_GridOptions, "xLabels" | "yLabels" | "xLabelsArg" | "yLabelsArg" | "xTitle" | "yTitle"> {
  return {
    xLabels: o.keyLabels ?? o.labels,
    yLabels: o.queryLabels ?? o.labels,
    xLabelsArg: o.keyLabels ? "options.keyLabels" : "options.labels",
    yLabelsArg: o.queryLabels ? "options.queryLabels" : "options.labels",
    xTitle: o.xTitle ?? "key",
    yTitle: o.yTitle ?? "query",
  };
}

/** What {@link _grid} needs besides the panels. */
export interface _GridOptions {
  xLabels?: readonly string[];
  yLabels?: readonly string[];
  /** Names of the label options, for error messages. */
  xLabelsArg: string;
  yLabelsArg: string;
  /** Axis titles (plain); also the hover names of the indices. */
  xTitle?: string;
  yTitle?: string;
  title?: string;
  columns: number;
  /** The user's `zmin`, `zmax`, `colorscale`. */
  color: _ColorOptions;
  /** Read values in [0, 1] as attention weights (fixed range [0, 1], "weight"). */
  weights: boolean;
  /** One colour range and bar for all panels (default), or one per panel. */
  sharedScale?: boolean;
  colorbarTitle?: string;
  /** The `text/plain` description, given what the values are ("attention weights" or "values"). */
  description: (what: string) => string;
}

/** Shared by {@link headGrid}, `layerHeadGrid` and `heatmapGrid`. */
export function _grid(fn: string, panels: _Panel[], o: _GridOptions): Figure {
  if (panels.length === 0) throw new RangeError(`${fn}: weights hold no heads (H = 0)`);
  if (!Number.isSafeInteger(o.columns) || o.columns < 1) {
    throw new RangeError(`${fn}: options.columns must be a positive integer, got ${o.columns}`);
  }
  const color = _resolveColor(fn, panels.map((p) => p.matrix), o.color, o.weights);
  // Separate scales, unless both ends were given (then every panel has the same range anyway).
  const separate = o.sharedScale === false &&
    (o.color.zmin === undefined || o.color.zmax === undefined) && panels.length > 1;
  const own = separate
    ? panels.map((p) => _resolveColor(fn, [p.matrix], o.color, o.weights))
    : undefined;
  const placed = own ? panels.map((p, k) => ({ ...p, color: own[k] })) : panels;
  const probabilities = own ? own.every((c) => c.probabilities) : color.probabilities;
  const value = o.colorbarTitle ?? (probabilities ? "weight" : "value");
  // Head grids always name their bar; a general grid only when asked (as `heatmap()`).
  const barTitle = o.weights ? value : o.colorbarTitle;
  return _heatmapFigure({
    fn,
    description: o.description(probabilities ? "attention weights" : "values"),
    title: o.title,
    panels: placed,
    columns: o.columns,
    xLabels: o.xLabels,
    yLabels: o.yLabels,
    xLabelsArg: o.xLabelsArg,
    yLabelsArg: o.yLabelsArg,
    xTitle: o.xTitle,
    yTitle: o.yTitle,
    zmin: color.zmin,
    zmax: color.zmax,
    colorscale: color.colorscale,
    colorbarTitle: barTitle,
    hover: {
      x: o.xTitle || "col",
      y: o.yTitle || "row",
      z: value,
      zFormat: probabilities ? ":.4f" : ":.4g",
    },
  });
}
