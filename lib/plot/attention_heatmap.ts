/**
 * {@link attentionHeatmap}: one attention matrix with its tokens on both axes.
 *
 * @module
 */

import { sequentialScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { _heatmapFigure } from "./_heatmap_figure.ts";
import { _finite, _toMatrix, type MatrixInput } from "./_matrix.ts";

/** Options of {@link attentionHeatmap}. */
export interface AttentionHeatmapOptions {
  /** One token per query (row, y axis). Default: indices. */
  queryLabels?: readonly string[];
  /** One token per key (column, x axis). Default: indices. */
  keyLabels?: readonly string[];
  /** Figure title. */
  title?: string;
  /** Value at the bottom of the colour scale. Default 0. */
  zmin?: number;
  /** Value at the top of the colour scale. Default 1 (weights are probabilities). */
  zmax?: number;
}

/**
 * A heatmap of attention weights `[Tq, Tk]`: keys along x, queries along y
 * with query 0 on top (the y axis is reversed, as in a matrix), so row i shows
 * where query i looks. The colour range is fixed to [0, 1] by default, so maps
 * of different heads compare directly. Leading size-1 axes are dropped
 * (`[1, 1, Tq, Tk]` works).
 *
 * @param weights Attention weights, `[Tq, Tk]`.
 * @param options Token labels, title and colour range.
 * @returns A {@link Figure} with one heatmap trace.
 * @throws {RangeError} When `weights` is not `[Tq, Tk]` after dropping leading
 *   size-1 axes, or a label list does not match its axis.
 *
 * @example Tokens on both axes, query 0 on top
 * ```ts
 * import { attentionHeatmap } from "./attention_heatmap.ts";
 * import assert from "node:assert/strict";
 * const fig = attentionHeatmap([[1, 0], [0.25, 0.75]], {
 *   queryLabels: ["I", "am"],
 *   keyLabels: ["I", "am"],
 * });
 * assert.deepEqual(fig.layout.xaxis?.ticktext, ["I", "am"]);
 * assert.equal(fig.layout.yaxis?.autorange, "reversed");
 * const trace = fig.data[0];
 * assert.ok(trace.type === "heatmap" && trace.zmin === 0 && trace.zmax === 1);
 * ```
 */
export function attentionHeatmap(
  weights: MatrixInput,
  options: AttentionHeatmapOptions = {},
): Figure {
  const fn = "attentionHeatmap";
  const m = _toMatrix(weights, fn, "weights");
  const zmin = _finite(options.zmin, fn, "options.zmin") ?? 0;
  const zmax = _finite(options.zmax, fn, "options.zmax") ?? 1;
  if (!(zmin < zmax)) {
    throw new RangeError(
      `${fn}: options.zmin must be below options.zmax, got zmin=${zmin}, zmax=${zmax}`,
    );
  }
  return _heatmapFigure({
    fn,
    description: `${m.rows}×${m.cols} attention weights`,
    title: options.title,
    panels: [{ matrix: m }],
    columns: 1,
    xLabels: options.keyLabels,
    yLabels: options.queryLabels,
    xLabelsArg: "options.keyLabels",
    yLabelsArg: "options.queryLabels",
    xTitle: "key",
    yTitle: "query",
    zmin,
    zmax,
    colorscale: sequentialScale(),
    colorbarTitle: "weight",
    hover: { x: "key", y: "query", z: "weight", zFormat: ":.4f" },
  });
}
