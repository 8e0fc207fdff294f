/**
 * {@link linePlot}: lines over a shared x axis (timings, losses, entropies).
 *
 * @module
 */

import { Figure, type PlotlyAxis, type ScatterTrace } from "./figure.ts";
import { _round } from "./_matrix.ts";
import { _figureTitle, _fitText, _markup, _textWidth } from "./_text.ts";
import { _logTicks } from "./_ticks.ts";

/** A line's dash pattern, by plotly's names. */
export type LineDash = "solid" | "dash" | "dot" | "dashdot" | "longdash" | "longdashdot";

/** A marker shape, by plotly's names. */
export type MarkerShape =
  | "circle"
  | "square"
  | "diamond"
  | "triangle-up"
  | "triangle-down"
  | "x"
  | "cross";

/** A marker: a shape, filled, or only its outline (`"-open"`), by plotly's names. */
export type MarkerSymbol = MarkerShape | `${MarkerShape}-open`;

/** One line of a {@link linePlot}. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** X coordinates. */
  x: ArrayLike<number>;
  /** Y coordinates, one per x. Non-finite values leave gaps. */
  y: ArrayLike<number>;
  /** Dash pattern. Default: the k-th series gets the k-th of {@link LINE_DASHES}, cyclically. */
  dash?: LineDash;
  /**
   * Marker at each point, or `"none"`. Default: the k-th of {@link MARKER_SYMBOLS}
   * on series of at most 30 points, filled for even k and open (outline only) for
   * odd k, so that a marker drawn over another one leaves it visible; none on
   * longer series (the dash tells them apart).
   */
  marker?: MarkerSymbol | "none";
  /** Line (and marker) colour, a CSS colour such as `"#2f6db5"`. Default: the k-th of a colour-blind-safe cycle. */
  color?: string;
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
  /**
   * Fixed x axis range `[lo, hi]` (finite, lo < hi), e.g. `[0, steps]` for a curve
   * redrawn while it grows. On a log axis (`logX`) in log10 units, as in plotly:
   * `[0, 3]` spans x = 1 to 1000. Points outside are clipped. Default: fit the data.
   */
  xRange?: readonly [number, number];
  /** Fixed y axis range `[lo, hi]`, as {@link LinePlotOptions.xRange} (log10 units with `logY`). */
  yRange?: readonly [number, number];
  /** Width in pixels. Default 640. */
  width?: number;
  /** Height in pixels. Default 400. */
  height?: number;
}

// Narrowest legend column in pixels; names are measured at plotly's legend font size
// (the SVG draws them at 11 px, so they fit there too).
const MIN_LEGEND_PX = 90;
const LEGEND_PX = 12;

/**
 * The default dash patterns, in series order: lines that overlap, or readers
 * who cannot tell the colours apart, still see which line is which.
 *
 * @example The first two series differ in dash as well as colour
 * ```ts
 * import { LINE_DASHES, linePlot } from "./line_plot.ts";
 * import assert from "node:assert/strict";
 * const fig = linePlot([{ name: "a", x: [0, 1], y: [0, 1] }, { name: "b", x: [0, 1], y: [0, 1] }]);
 * assert.deepEqual(fig.data.map((t) => t.type === "scatter" && t.line.dash), LINE_DASHES.slice(0, 2));
 * ```
 */
export const LINE_DASHES: readonly LineDash[] = Object.freeze([
  "solid",
  "dash",
  "dot",
  "dashdot",
  "longdash",
  "longdashdot",
]);

/**
 * The default marker shapes, in series order (on series of at most 30 points;
 * every second series gets the `"-open"` variant).
 *
 * @example Markers on a short series, none on a long one
 * ```ts
 * import { linePlot, MARKER_SYMBOLS } from "./line_plot.ts";
 * import assert from "node:assert/strict";
 * const short = { name: "short", x: [0, 1, 2], y: [1, 0, 1] };
 * const long = { name: "long", x: [...Array(100).keys()], y: Array(100).fill(1) };
 * const [a, b, c] = linePlot([short, long, { ...short, name: "again" }]).data;
 * assert.ok(a.type === "scatter" && a.mode === "lines+markers");
 * assert.equal(a.type === "scatter" && a.marker?.symbol, MARKER_SYMBOLS[0]);
 * assert.ok(b.type === "scatter" && b.mode === "lines" && b.marker === undefined);
 * assert.equal(c.type === "scatter" && c.marker?.symbol, MARKER_SYMBOLS[2]);
 * ```
 */
export const MARKER_SYMBOLS: readonly MarkerShape[] = Object.freeze([
  "circle",
  "square",
  "diamond",
  "triangle-up",
  "x",
  "triangle-down",
  "cross",
]);

/** Series longer than this get no markers by default. */
const MARKER_MAX_POINTS = 30;
const MARKER_PX = 7;
const OPEN_MARKER_LINE_PX = 1.5;
const CSS_COLOR = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\))$/;

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
 * Values are stored rounded to 4 significant digits. Series differ in colour,
 * dash pattern ({@link LINE_DASHES}) and, on short series, marker shape
 * ({@link MARKER_SYMBOLS}), so lines that overlap stay apart; each series may
 * set its own `dash`, `marker` and `color`. Log axes get plain tick labels
 * (`1000`, `0.001`, `10⁻⁶`), never plotly's SI prefixes (`1k`, `1µ`).
 *
 * @param series The lines: `{ name, x, y }` with `x.length === y.length`, and optional style.
 * @param options Titles and log axes.
 * @returns A {@link Figure} with one scatter (line) trace per series.
 * @throws {RangeError} When `series` is empty, a series' x and y lengths differ, or
 *   `xRange`/`yRange` is not two finite numbers with lo < hi.
 * @throws {TypeError} When a series is malformed or names an unknown dash, marker or colour.
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
 * assert.deepEqual(fig.layout.xaxis?.ticktext, ["200", "500"]);
 * ```
 *
 * @example Two curves that coincide, told apart by dash and marker
 * ```ts
 * import { linePlot } from "./line_plot.ts";
 * import assert from "node:assert/strict";
 * const x = [0, 1, 2, 3];
 * const fig = linePlot([
 *   { name: "JS", x, y: [3, 2, 1, 0] },
 *   { name: "WASM", x, y: [3, 2, 1, 0], dash: "dot", marker: "x", color: "#000000" },
 * ]);
 * const [js, wasm] = fig.data;
 * assert.ok(js.type === "scatter" && wasm.type === "scatter");
 * assert.deepEqual([js.line.dash, wasm.line.dash], ["solid", "dot"]);
 * assert.deepEqual([js.marker?.symbol, wasm.marker?.symbol], ["circle", "x"]);
 * assert.equal(wasm.line.color, "#000000");
 * ```
 *
 * @example A fixed x axis for a curve drawn while training runs
 * ```ts
 * import { linePlot } from "./line_plot.ts";
 * import { figureToSvg } from "./svg.ts";
 * import assert from "node:assert/strict";
 * const steps = 500;
 * // After 50 of 500 steps the axis already spans 0..500.
 * const fig = linePlot([{ name: "loss", x: [10, 20, 30, 40, 50], y: [3, 2.5, 2, 1.8, 1.7] }], {
 *   xRange: [0, steps],
 * });
 * assert.deepEqual(fig.layout.xaxis?.range, [0, 500]);
 * assert.match(figureToSvg(fig), />500<\/text>/);
 * // On a log axis the range is in log10 units, as in plotly: [0, 3] is 1..1000.
 * assert.deepEqual(linePlot([{ name: "t", x: [1, 10], y: [1, 2] }], {
 *   logX: true,
 *   xRange: [0, 3],
 * }).layout.xaxis?.range, [0, 3]);
 * assert.throws(() => linePlot([{ name: "t", x: [1], y: [1] }], { xRange: [5, 5] }), RangeError);
 * ```
 */
export function linePlot(series: readonly LineSeries[], options: LinePlotOptions = {}): Figure {
  const fn = "linePlot";
  if (!Array.isArray(series) || series.length === 0) {
    throw new RangeError(`${fn}: series must be a non-empty array of { name, x, y }`);
  }
  const xRange = checkRange(fn, "xRange", options.xRange, options.logX);
  const yRange = checkRange(fn, "yRange", options.yRange, options.logY);
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
    const where = `${fn}: series[${k}] (${JSON.stringify(String(s.name))})`;
    if (s.dash !== undefined && !LINE_DASHES.includes(s.dash)) {
      throw new TypeError(
        `${where}.dash must be one of ${LINE_DASHES.join(", ")}, got ${JSON.stringify(s.dash)}`,
      );
    }
    if (
      s.marker !== undefined && s.marker !== "none" &&
      !MARKER_SYMBOLS.includes(String(s.marker).replace(/-open$/, "") as MarkerShape)
    ) {
      throw new TypeError(
        `${where}.marker must be "none" or one of ${
          MARKER_SYMBOLS.join(", ")
        } (each also with "-open"), got ${JSON.stringify(s.marker)}`,
      );
    }
    if (s.color !== undefined && (typeof s.color !== "string" || !CSS_COLOR.test(s.color))) {
      throw new TypeError(
        `${where}.color must be a CSS colour such as "#2f6db5" or "rgb(47,109,181)", got ${
          JSON.stringify(s.color)
        }`,
      );
    }
    const x: (number | null)[] = Array.from(s.x, (v) => _round(Number(v)));
    const y: (number | null)[] = Array.from(s.y, (v) => _round(Number(v)));
    const color = s.color ?? _LINE_COLORS[k % _LINE_COLORS.length];
    const shape = MARKER_SYMBOLS[k % MARKER_SYMBOLS.length];
    const symbol: MarkerSymbol | "none" = s.marker ??
      (s.x.length <= MARKER_MAX_POINTS ? (k % 2 ? `${shape}-open` : shape) : "none");
    const trace: ScatterTrace = {
      type: "scatter",
      mode: symbol === "none" ? "lines" : "lines+markers",
      name: _markup(String(s.name ?? `series ${k}`)),
      x,
      y,
      line: { color, width: 2, dash: s.dash ?? LINE_DASHES[k % LINE_DASHES.length] },
    };
    if (symbol !== "none") {
      trace.marker = symbol.endsWith("-open")
        ? { symbol, size: MARKER_PX + 1, color, line: { color, width: OPEN_MARKER_LINE_PX } }
        : { symbol, size: MARKER_PX, color };
    }
    return trace;
  });
  const axis = (
    title: string | undefined,
    log: boolean | undefined,
    values: (number | null)[],
    range: [number, number] | undefined,
  ): PlotlyAxis => {
    const a: PlotlyAxis = { type: log ? "log" : "linear", showgrid: true, zeroline: false };
    if (title) a.title = { text: _markup(title) };
    if (range) a.range = range;
    if (log) {
      // plotly labels log ticks with SI prefixes (1T, 100µ): give it plain labels instead,
      // over the fixed range when there is one (it is in log10 units), else over the data.
      const pos = values.filter((v): v is number => v !== null && v > 0);
      const ticks = range
        ? _logTicks(10 ** range[0], 10 ** range[1])
        : _logTicks(Math.min(...pos), Math.max(...pos));
      if (ticks.tickvals.length) Object.assign(a, { tickmode: "array", ...ticks });
    } else a.exponentformat = "power";
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
      trace.name = fit.lines.map(_markup).join("<br>");
      trace.meta = { name: _markup(full) };
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
    xaxis: axis(options.xTitle, options.logX, data.flatMap((t) => t.x), xRange),
    yaxis: axis(options.yTitle, options.logY, data.flatMap((t) => t.y), yRange),
  }, {
    kind: fn,
    title: options.title ?? "",
    description: `${series.length} series`,
  });
  if (title) fig.layout.title = title.title;
  return fig;
}

/** A copy of a fixed axis range, checked: two finite numbers, lo < hi (log10 units on a log axis). */
function checkRange(
  fn: string,
  name: string,
  range: readonly [number, number] | undefined,
  log: boolean | undefined,
): [number, number] | undefined {
  if (range === undefined) return undefined;
  const units = log ? " (log10 units on a log axis, e.g. [0, 3] for 1 to 1000)" : "";
  if (!Array.isArray(range) || range.length !== 2) {
    throw new RangeError(
      `${fn}: options.${name} must be [lo, hi]${units}, got ${JSON.stringify(range)}`,
    );
  }
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new RangeError(
      `${fn}: options.${name} must be two finite numbers with lo < hi${units}, got [${
        range.map(String).join(", ")
      }]`,
    );
  }
  return [lo, hi];
}
