/**
 * {@link linePlot}: lines over a shared x axis (timings, losses, entropies).
 *
 * @module
 */

import { escapeHtml } from "./escape.ts";
import { Figure, type PlotlyAxis, type ScatterTrace } from "./figure.ts";
import { _round } from "./_matrix.ts";
import { _figureTitle, _fitText, _textWidth } from "./_text.ts";

/** One line of a {@link linePlot}. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** X coordinates. */
  x: ArrayLike<number>;
  /** Y coordinates, one per x. Non-finite values leave gaps. */
  y: ArrayLike<number>;
}

/** Options of {@link linePlot}. */
export interface LinePlotOptions {
  /** Figure title. */
  title?: string;
  /** X axis title. */
  xTitle?: string;
  /** Y axis title. */
  yTitle?: string;
  /** Logarithmic x axis (non-positive x are not drawn). Default false. */
  logX?: boolean;
  /** Logarithmic y axis (non-positive y are not drawn). Default false. */
  logY?: boolean;
  /** Width in pixels. Default 640. */
  width?: number;
  /** Height in pixels. Default 400. */
  height?: number;
}

// Narrowest legend column in pixels; names are measured at plotly's legend font size
// (the SVG draws them at 11 px, so they fit there too).
const MIN_LEGEND_PX = 90;
const LEGEND_PX = 12;

/** Line colours, in order; chosen to stay apart for colour-blind readers. */
export const _LINE_COLORS: readonly string[] = [
  "#2f6db5",
  "#e4572e",
  "#29a36a",
  "#8e5bd0",
  "#d9a21b",
  "#17a3b8",
  "#c7427a",
  "#6b7a8f",
];

/**
 * A line chart of one or more series, e.g. run time against sequence length
 * (`logX`, `logY`) or loss against step. Each series has its own x values.
 * Values are stored rounded to 4 significant digits.
 *
 * @param series The lines: `{ name, x, y }` with `x.length === y.length`.
 * @param options Titles and log axes.
 * @returns A {@link Figure} with one scatter (line) trace per series.
 * @throws {RangeError} When `series` is empty or a series' x and y lengths differ.
 * @throws {TypeError} When a series is malformed.
 *
 * @example Time against sequence length, log-log
 * ```ts
 * import { linePlot } from "./line_plot.ts";
 * import assert from "node:assert/strict";
 * const n = [128, 256, 512];
 * const fig = linePlot([
 *   { name: "naive", x: n, y: [1, 4, 16] },
 *   { name: "tiled", x: n, y: [0.5, 2, 8] },
 * ], { xTitle: "n", yTitle: "ms", logX: true, logY: true });
 * assert.equal(fig.data.length, 2);
 * assert.equal(fig.data[0].type, "scatter");
 * assert.equal(fig.layout.yaxis?.type, "log");
 * ```
 */
export function linePlot(series: readonly LineSeries[], options: LinePlotOptions = {}): Figure {
  const fn = "linePlot";
  if (!Array.isArray(series) || series.length === 0) {
    throw new RangeError(`${fn}: series must be a non-empty array of { name, x, y }`);
  }
  const data: ScatterTrace[] = series.map((s, k) => {
    if (!s || typeof s !== "object" || !s.x || !s.y || typeof s.x.length !== "number") {
      throw new TypeError(`${fn}: series[${k}] must be { name, x, y } with array x and y`);
    }
    if (s.x.length !== s.y.length) {
      throw new RangeError(
        `${fn}: series[${k}] (${
          JSON.stringify(String(s.name))
        }) has ${s.x.length} x values and ${s.y.length} y values; they must match`,
      );
    }
    const x: (number | null)[] = Array.from(s.x, (v) => _round(Number(v)));
    const y: (number | null)[] = Array.from(s.y, (v) => _round(Number(v)));
    return {
      type: "scatter",
      mode: s.x.length <= 20 ? "lines+markers" : "lines",
      name: escapeHtml(String(s.name ?? `series ${k}`)),
      x,
      y,
      line: { color: _LINE_COLORS[k % _LINE_COLORS.length], width: 2 },
    };
  });
  const axis = (title: string | undefined, log: boolean | undefined): PlotlyAxis => {
    const a: PlotlyAxis = { type: log ? "log" : "linear", showgrid: true, zeroline: false };
    if (title) a.title = { text: escapeHtml(title) };
    return a;
  };
  const legend = series.length > 1;
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  // The legend column fits the longest name (14 px gap, 20 px line, 6 px gap, name, 14 px),
  // within bounds; names longer than that wrap, and only beyond two lines are cut.
  const longest = Math.max(0, ...series.map((s) => _textWidth(String(s.name ?? ""), LEGEND_PX)));
  const legendW = Math.ceil(
    Math.min(Math.max(MIN_LEGEND_PX, 14 + 26 + longest + 14), Math.max(MIN_LEGEND_PX, width * 0.4)),
  );
  if (legend) {
    // plotly does not wrap legend text, and a wide legend squeezes the plot: wrap long
    // names here (the SVG draws these lines too) and keep the full name for hover.
    const room = legendW - 14 - 26 - 14;
    data.forEach((trace, k) => {
      const full = String(series[k].name ?? `series ${k}`);
      const fit = _fitText(full, { width: room, size: LEGEND_PX, minSize: LEGEND_PX, maxLines: 2 });
      if (fit.lines.length === 1 && !fit.truncated) return;
      trace.name = fit.lines.map(escapeHtml).join("<br>");
      trace.meta = { name: escapeHtml(full) };
      trace.hovertemplate = "(%{x}, %{y})<extra>%{meta.name}</extra>";
    });
  }
  const title = options.title ? _figureTitle(options.title, width - 20) : undefined;
  const fig = new Figure(data, {
    width,
    height,
    margin: { l: 70, r: legend ? legendW : 30, t: title ? title.height : 24, b: 55 },
    font: { family: "sans-serif", size: 12 },
    plot_bgcolor: "#ffffff",
    paper_bgcolor: "#ffffff",
    showlegend: legend,
    xaxis: axis(options.xTitle, options.logX),
    yaxis: axis(options.yTitle, options.logY),
  }, {
    kind: fn,
    title: options.title ?? "",
    description: `${series.length} series`,
  });
  if (title) fig.layout.title = title.title;
  return fig;
}
