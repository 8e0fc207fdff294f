/**
 * {@link heatmap}: any 2-D tensor as a heatmap (scores, Q, K, V, weights).
 *
 * @module
 */

import type { ColorScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { _resolveColor } from "./_color_options.ts";
import { _heatmapFigure } from "./_heatmap_figure.ts";
import { _toMatrix, type MatrixInput } from "./_matrix.ts";

export type { MaskLike, MatrixInput, TensorLike } from "./_matrix.ts";

/** Options of {@link heatmap}. */
export interface HeatmapOptions {
  /** Figure title. */
  title?: string;
  /** One label per column (x axis), e.g. key tokens or feature names. */
  xLabels?: readonly string[];
  /** One label per row (y axis), e.g. query tokens. */
  yLabels?: readonly string[];
  /** X axis title. Default: none. */
  xTitle?: string;
  /** Y axis title. Default: none. */
  yTitle?: string;
  /** Value at the bottom of the colour scale. Default: see `colorscale`. */
  zmin?: number;
  /** Value at the top of the colour scale. Default: see `colorscale`. */
  zmax?: number;
  /**
   * `"sequential"`, `"diverging"` or a plotly colour scale. Default: diverging
   * with a range symmetric about 0 when the values have both signs (so 0 is the
   * neutral colour), else sequential over the finite values.
   */
  colorscale?: "sequential" | "diverging" | ColorScale;
  /** Colour bar title, e.g. `"score"`. Default: none. */
  colorbarTitle?: string;
}

/**
 * A heatmap of any matrix: cell `[i, j]` is drawn at row i (from the top) and
 * column j. Accepts a `Tensor` of shape `[R, C]` (leading size-1 axes are
 * dropped, so `[1, 1, R, C]` works) or nested number arrays. NaN and
 * ±Infinity (e.g. masked scores) are drawn as gaps and ignored by the
 * automatic colour range. Values are stored rounded to 4 significant digits.
 *
 * @param matrix The values, `[R, C]`.
 * @param options Labels, titles and colour range.
 * @returns A {@link Figure} with one heatmap trace.
 * @throws {RangeError} When `matrix` is not 2-D after dropping leading size-1 axes,
 *   or a label list has the wrong length.
 *
 * @example Signed values get a diverging scale centred on 0
 * ```ts
 * import { heatmap } from "./heatmap.ts";
 * import assert from "node:assert/strict";
 * const fig = heatmap([[-2, 1], [0.5, 1]], { xLabels: ["a", "b"], colorbarTitle: "score" });
 * const trace = fig.data[0];
 * assert.equal(trace.type, "heatmap");
 * if (trace.type === "heatmap") {
 *   assert.deepEqual([trace.zmin, trace.zmax], [-2, 2]);
 *   assert.deepEqual(trace.z, [[-2, 1], [0.5, 1]]);
 * }
 * assert.deepEqual(fig.layout.xaxis?.ticktext, ["a", "b"]);
 * ```
 */
export function heatmap(matrix: MatrixInput, options: HeatmapOptions = {}): Figure {
  const fn = "heatmap";
  const m = _toMatrix(matrix, fn, "matrix");
  const { zmin, zmax, colorscale } = _resolveColor(fn, [m], options);
  return _heatmapFigure({
    fn,
    description: `${m.rows}×${m.cols} matrix`,
    title: options.title,
    panels: [{ matrix: m }],
    columns: 1,
    xLabels: options.xLabels,
    yLabels: options.yLabels,
    xLabelsArg: "options.xLabels",
    yLabelsArg: "options.yLabels",
    xTitle: options.xTitle,
    yTitle: options.yTitle,
    zmin,
    zmax,
    colorscale,
    colorbarTitle: options.colorbarTitle,
    hover: { x: "col", y: "row", z: "value", zFormat: ":.4g" },
  });
}
