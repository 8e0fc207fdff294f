/**
 * {@link heatmapGrid}: any matrices side by side (LayerNorm vs BatchNorm
 * outputs, scores vs weights, Q vs K).
 *
 * @module
 */

import type { ColorScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { _grid, _titles } from "./head_grid.ts";
import { _toMatrix, type MatrixInput } from "./_matrix.ts";

/** Options of {@link heatmapGrid}. */
export interface HeatmapGridOptions {
  /** Figure title. */
  title?: string;
  /** One subplot title per matrix. Default `"matrix 0"`, `"matrix 1"`, …. */
  titles?: readonly string[];
  /** X axis title, under the bottom row. Default: none. */
  xTitle?: string;
  /** Y axis title, left of the first column. Default: none. */
  yTitle?: string;
  /** One label per column, for every matrix (all must then have that many columns). */
  xLabels?: readonly string[];
  /** One label per row, for every matrix (all must then have that many rows). */
  yLabels?: readonly string[];
  /** Subplots per row. Default: all in one row, up to 4. */
  columns?: number;
  /** Value at the bottom of the colour scale. Default: see `colorscale`. */
  zmin?: number;
  /** Value at the top of the colour scale. Default: see `colorscale`. */
  zmax?: number;
  /**
   * `"sequential"`, `"diverging"` or a plotly colour scale. Default: diverging
   * with a range symmetric about 0 when the values have both signs, else
   * sequential over the finite values (as in `heatmap()`).
   */
  colorscale?: "sequential" | "diverging" | ColorScale;
  /**
   * One colour range and colour bar for all matrices, so equal colours mean
   * equal values (default `true`). With `false` each matrix gets the range of
   * its own values and its own colour bar (unless `zmin` and `zmax` are both given).
   */
  sharedScale?: boolean;
  /** Colour bar title, e.g. `"activation"`. Default: none. */
  colorbarTitle?: string;
}

/**
 * Matrices side by side as a grid of heatmaps, row 0 of each on top, on one
 * shared colour scale by default: the way to compare LayerNorm with BatchNorm
 * outputs, a layer's scores with its weights, or Q with K. The matrices may
 * differ in shape (then each grid cell gets its own tick labels). Values are
 * stored rounded to 4 significant digits; NaN and ±Infinity are gaps.
 *
 * @param matrices The matrices, each `[R, C]` (leading size-1 axes dropped) or nested arrays.
 * @param options Titles, labels, columns, colour range and scale.
 * @returns A {@link Figure} with one heatmap trace per matrix.
 * @throws {RangeError} When `matrices` is empty, a matrix is not 2-D after
 *   dropping leading size-1 axes, `titles` or a label list has the wrong length,
 *   `columns` is not a positive integer, or `zmin` is not below `zmax`.
 * @throws {TypeError} When a matrix is not a tensor or nested arrays, or
 *   `colorscale` is not a scale name or `[position, colour]` pairs.
 *
 * @example LayerNorm and BatchNorm outputs on one scale
 * ```ts
 * import { heatmapGrid } from "./heatmap_grid.ts";
 * import assert from "node:assert/strict";
 * const ln = [[-1, 1], [1, -1]];
 * const bn = [[-2, 0.5], [0.5, 1]];
 * const fig = heatmapGrid([ln, bn], {
 *   titles: ["LayerNorm", "BatchNorm"],
 *   xTitle: "feature",
 *   colorbarTitle: "activation",
 * });
 * assert.equal(fig.data.length, 2);
 * assert.deepEqual(fig.layout.annotations?.map((a) => a.text), ["LayerNorm", "BatchNorm"]);
 * const [a, b] = fig.data;
 * assert.ok(a.type === "heatmap" && b.type === "heatmap");
 * assert.deepEqual([a.zmin, a.zmax], [-2, 2]); // diverging, symmetric about 0
 * assert.deepEqual([b.zmin, b.zmax], [-2, 2]);
 * ```
 *
 * @example Scores and weights, each on its own scale
 * ```ts
 * import { heatmapGrid } from "./heatmap_grid.ts";
 * import assert from "node:assert/strict";
 * const scores = [[4, -2], [1, 3]];
 * const weights = [[0.9, 0.1], [0.2, 0.8]];
 * const fig = heatmapGrid([scores, weights], { titles: ["scores", "weights"], sharedScale: false });
 * const [s, w] = fig.data;
 * assert.ok(s.type === "heatmap" && w.type === "heatmap");
 * assert.deepEqual([s.zmin, s.zmax], [-4, 4]);
 * assert.deepEqual([w.zmin, w.zmax], [0.1, 0.9]);
 * assert.ok(s.showscale && w.showscale, "a colour bar per matrix");
 * ```
 */
export function heatmapGrid(
  matrices: readonly MatrixInput[],
  options: HeatmapGridOptions = {},
): Figure {
  const fn = "heatmapGrid";
  if (!Array.isArray(matrices) || matrices.length === 0) {
    throw new RangeError(`${fn}: matrices must be a non-empty array of [rows, cols] matrices`);
  }
  const ms = matrices.map((m, k) => _toMatrix(m, fn, `matrices[${k}]`));
  const titles = _titles(options.titles, ms.length, fn, "options.titles", "matrix", "matrices");
  const sharedScale = options.sharedScale ?? true;
  if (typeof sharedScale !== "boolean") {
    throw new TypeError(`${fn}: options.sharedScale must be a boolean, got ${typeof sharedScale}`);
  }
  const shapes = [...new Set(ms.map((m) => `${m.rows}×${m.cols}`))];
  return _grid(fn, ms.map((matrix, k) => ({ matrix, title: titles[k] })), {
    xLabels: options.xLabels,
    yLabels: options.yLabels,
    xLabelsArg: "options.xLabels",
    yLabelsArg: "options.yLabels",
    xTitle: options.xTitle,
    yTitle: options.yTitle,
    title: options.title,
    columns: options.columns ?? Math.min(4, ms.length),
    color: options,
    weights: false,
    sharedScale,
    colorbarTitle: options.colorbarTitle,
    description: () =>
      `${ms.length} matrices (${shapes.length === 1 ? shapes[0] : shapes.join(", ")})`,
  });
}
