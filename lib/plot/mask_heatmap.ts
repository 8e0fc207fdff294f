/**
 * {@link maskHeatmap}: which key each query may attend to, in two colours.
 *
 * @module
 */

import type { ColorScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { _heatmapFigure } from "./_heatmap_figure.ts";
import { _toMaskMatrix, type MaskLike } from "./_matrix.ts";

/** Options of {@link maskHeatmap}. */
export interface MaskHeatmapOptions {
  /** One label per key (column, x axis). Default: indices. */
  xLabels?: readonly string[];
  /** One label per query (row, y axis). Default: indices. */
  yLabels?: readonly string[];
  /** Figure title. */
  title?: string;
}

/** Colour of a position that may attend (1). */
const ALLOWED_COLOR = "#2a6f97";
/** Colour of a blocked position (0). */
const BLOCKED_COLOR = "#e6e6e6";

/**
 * A two-colour map of an attention mask `[Tq, Tk]` (this library's polarity:
 * 1 / `true` = may attend): dark cells may be attended to, light cells are
 * blocked; the colour bar is labelled "may attend" / "blocked". Keys run along
 * x, queries down y with query 0 on top. Leading size-1 axes are dropped, so a
 * `[1, 1, Tq, Tk]` mask works.
 *
 * @param mask A `Mask`, or nested booleans / 0-1 numbers.
 * @param options Axis labels and title.
 * @returns A {@link Figure} with one heatmap trace whose `z` holds 0 and 1.
 * @throws {RangeError} When `mask` is not `[Tq, Tk]` after dropping leading size-1 axes.
 * @throws {TypeError} When `mask` holds something other than booleans or 0/1.
 *
 * @example A causal mask
 * ```ts
 * import { maskHeatmap } from "./mask_heatmap.ts";
 * import assert from "node:assert/strict";
 * const fig = maskHeatmap([[true, false], [true, true]], { xLabels: ["a", "b"] });
 * const trace = fig.data[0];
 * assert.ok(trace.type === "heatmap");
 * assert.deepEqual(trace.z, [[1, 0], [1, 1]]);
 * assert.deepEqual(trace.colorbar?.ticktext, ["blocked", "may attend"]);
 * ```
 */
export function maskHeatmap(
  mask: MaskLike | readonly (readonly (boolean | number)[])[],
  options: MaskHeatmapOptions = {},
): Figure {
  const fn = "maskHeatmap";
  const m = _toMaskMatrix(mask, fn, "mask");
  let allowed = 0;
  for (let i = 0; i < m.rows * m.cols; i++) allowed += m.data[i];
  // Two flat bands: [0, 0.5] blocked, [0.5, 1] allowed.
  const colorscale: ColorScale = [
    [0, BLOCKED_COLOR],
    [0.5, BLOCKED_COLOR],
    [0.5, ALLOWED_COLOR],
    [1, ALLOWED_COLOR],
  ];
  return _heatmapFigure({
    fn,
    description: `${m.rows}×${m.cols} mask, ${allowed} of ${m.rows * m.cols} positions may attend`,
    title: options.title,
    panels: [{ matrix: m }],
    columns: 1,
    xLabels: options.xLabels,
    yLabels: options.yLabels,
    xLabelsArg: "options.xLabels",
    yLabelsArg: "options.yLabels",
    xTitle: "key",
    yTitle: "query",
    zmin: 0,
    zmax: 1,
    colorscale,
    colorbar: { tickvals: [0.25, 0.75], ticktext: ["blocked", "may attend"] },
    hover: { x: "key", y: "query", z: "may attend (1) / blocked (0):", zFormat: "" },
    gaps: true,
  });
}
