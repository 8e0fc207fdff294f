/**
 * {@link headGrid}: the attention weights of every head, side by side.
 *
 * @module
 */

import { sequentialScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { _heatmapFigure } from "./_heatmap_figure.ts";
import { _finite, type _Matrix, _toHeads, type HeadsInput } from "./_matrix.ts";

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
  /** Value at the bottom of the shared colour scale. Default 0. */
  zmin?: number;
  /** Value at the top of the shared colour scale. Default 1. */
  zmax?: number;
}

/** Checks the shared options of the grids; returns `[zmin, zmax]`. */
export function _gridRange(fn: string, o: { zmin?: number; zmax?: number }): [number, number] {
  const zmin = _finite(o.zmin, fn, "options.zmin") ?? 0;
  const zmax = _finite(o.zmax, fn, "options.zmax") ?? 1;
  if (!(zmin < zmax)) {
    throw new RangeError(
      `${fn}: options.zmin must be below options.zmax, got zmin=${zmin}, zmax=${zmax}`,
    );
  }
  return [zmin, zmax];
}

/** Checks optional per-head (or per-layer) titles. */
export function _titles(
  titles: readonly string[] | undefined,
  n: number,
  fn: string,
  arg: string,
  what: string,
): string[] {
  if (titles === undefined) return Array.from({ length: n }, (_, i) => `${what} ${i}`);
  if (!Array.isArray(titles) || titles.length !== n) {
    throw new RangeError(
      `${fn}: ${arg} must have one entry per ${what}: got ${
        Array.isArray(titles) ? titles.length : String(titles)
      } for ${n} ${what}s`,
    );
  }
  return titles.map(String);
}

/**
 * One attention map per head in a grid of subplots, all on the same colour
 * scale (one colour bar), query 0 on top in each. Takes the per-head weights a
 * multi-head attention returns, `[H, Tq, Tk]` or `[1, H, Tq, Tk]`.
 *
 * @param weights Per-head attention weights, `[H, Tq, Tk]` (leading size-1 axes dropped).
 * @param options Token labels, head titles, columns and colour range.
 * @returns A {@link Figure} with one heatmap trace per head.
 * @throws {RangeError} When `weights` is not `[H, Tq, Tk]` after dropping leading
 *   size-1 axes (e.g. a batch of 2), or a label list does not match its axis.
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
 */
export function headGrid(weights: HeadsInput, options: HeadGridOptions = {}): Figure {
  const fn = "headGrid";
  const heads = _toHeads(weights, fn, "weights");
  const [zmin, zmax] = _gridRange(fn, options);
  const titles = _titles(options.headLabels, heads.length, fn, "options.headLabels", "head");
  return _grid(fn, heads.map((matrix, h) => ({ matrix, title: titles[h] })), {
    ...options,
    zmin,
    zmax,
    columns: options.columns ?? Math.min(4, heads.length),
    description: `${heads.length} heads of ${heads[0]?.rows ?? 0}×${
      heads[0]?.cols ?? 0
    } attention weights`,
  });
}

/** Shared by {@link headGrid} and `layerHeadGrid`. */
export function _grid(
  fn: string,
  panels: { matrix: _Matrix; title: string; row?: number; col?: number }[],
  o: {
    labels?: readonly string[];
    queryLabels?: readonly string[];
    keyLabels?: readonly string[];
    title?: string;
    zmin: number;
    zmax: number;
    columns: number;
    description: string;
  },
): Figure {
  if (panels.length === 0) throw new RangeError(`${fn}: weights hold no heads (H = 0)`);
  if (!Number.isSafeInteger(o.columns) || o.columns < 1) {
    throw new RangeError(`${fn}: options.columns must be a positive integer, got ${o.columns}`);
  }
  return _heatmapFigure({
    fn,
    description: o.description,
    title: o.title,
    panels,
    columns: o.columns,
    xLabels: o.keyLabels ?? o.labels,
    yLabels: o.queryLabels ?? o.labels,
    xLabelsArg: o.keyLabels ? "options.keyLabels" : "options.labels",
    yLabelsArg: o.queryLabels ? "options.queryLabels" : "options.labels",
    xTitle: "key",
    yTitle: "query",
    zmin: o.zmin,
    zmax: o.zmax,
    colorscale: sequentialScale(),
    colorbar: { title: { text: "weight" } },
    hover: { x: "key", y: "query", z: "weight", zFormat: ":.4f" },
  });
}
