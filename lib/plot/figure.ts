/**
 * The {@link Figure}: a plotly figure (`data` + `layout`) that displays itself
 * in Deno's Jupyter kernel as plotly JSON, offline HTML, a static SVG and text.
 *
 * @module
 */

import type { ColorScale } from "./color_scale.ts";
import type { LineDash, MarkerSymbol } from "./line_plot.ts";
import { jupyterDisplay } from "./jupyter_display.ts";
import { _figureBundle } from "./_notebook_display.ts";

export { jupyterDisplay } from "./jupyter_display.ts";

/** Text as plotly stores it: `{ text }`. Figures store it HTML-escaped (plotly reads pseudo-HTML). */
export interface PlotlyText {
  /** The escaped text; `<br>` breaks lines. */
  text: string;
  /** Font size in pixels. Default: the figure's font. */
  font?: { size: number };
}

/**
 * The figure title. The builders place it a fixed distance below the top edge
 * (`yref: "container"`, `yanchor: "top"`, `pad.t`), clear of plotly's mode bar,
 * and wrap long titles onto up to three lines (`<br>`).
 */
export interface PlotlyTitle extends PlotlyText {
  /** Horizontal position, 0.5 = centred. */
  x?: number;
  /** Vertical position; with `yref: "container"` 1 is the top edge of the figure. */
  y?: number;
  /** What `y` is a fraction of: the whole figure (`"container"`) or the plotting area. */
  yref?: "container" | "paper";
  /** Which edge of the title `y` places. */
  yanchor?: "top" | "middle" | "bottom";
  /** Padding in pixels; `t` applies with `yanchor: "top"`. */
  pad?: { t?: number; b?: number };
}

/** One plotly cartesian axis (the subset the figures in this module write). */
export interface PlotlyAxis {
  /** Axis title. */
  title?: PlotlyText;
  /** Fraction of the plotting area the axis spans, `[start, end]` in [0, 1]. */
  domain?: [number, number];
  /** The axis this one is drawn against (`"x2"`, `"y3"`). */
  anchor?: string;
  /** `"reversed"` puts index 0 at the top of a y axis, as in a matrix. */
  autorange?: boolean | "reversed";
  /** Linear or logarithmic scale. */
  type?: "linear" | "log";
  /**
   * A fixed `[lo, hi]` shown whatever the data (plotly then does not autorange).
   * In axis units, as in plotly: data units on a linear axis, log10 of them on a
   * log axis (`[0, 3]` spans 1 to 1000). `figureToSvg()` draws the same window.
   */
  range?: [number, number];
  /** `"array"` when `tickvals`/`ticktext` are given. */
  tickmode?: "array" | "auto";
  /** Positions of the ticks (data coordinates; cell indices for heatmaps). */
  tickvals?: number[];
  /** Escaped labels for `tickvals`. */
  ticktext?: string[];
  /** Tick label rotation in degrees (negative turns counter-clockwise). */
  tickangle?: number;
  /** Whether tick labels are drawn. */
  showticklabels?: boolean;
  /** Whether grid lines are drawn. */
  showgrid?: boolean;
  /** Whether the zero line is drawn. */
  zeroline?: boolean;
  /** Whether plotly may grow the margins to fit labels. */
  automargin?: boolean;
  /** Tick font. */
  tickfont?: { size: number };
  /** How plotly writes large and small tick values: `"power"` = 1×10⁻⁶ (not the SI "1µ"). */
  exponentformat?: "power" | "e" | "none";
}

/** The colour bar beside a heatmap. */
export interface PlotlyColorBar {
  /** Colour bar title: above the bar (`side: "top"`, the default) or beside it, turned. */
  title?: PlotlyText & { side?: "top" | "right" };
  /** Positions of the ticks, in data units. */
  tickvals?: number[];
  /** Escaped labels for `tickvals`. */
  ticktext?: string[];
  /** Width in pixels. */
  thickness?: number;
  /** Left edge as a fraction of the plotting area's width (a bar per subplot). Default: right of the plot. */
  x?: number;
  /** Which edge `x` places. */
  xanchor?: "left" | "center" | "right";
  /** Padding in pixels left and right of the bar. */
  xpad?: number;
  /** Centre as a fraction of the plotting area's height, 0 = bottom. */
  y?: number;
  /** Which edge `y` places. */
  yanchor?: "top" | "middle" | "bottom";
  /** Padding in pixels above and below the bar. */
  ypad?: number;
  /** Length as a fraction of the plotting area's height (with `lenmode: "fraction"`). */
  len?: number;
  /** `len` is a fraction of the plotting area. */
  lenmode?: "fraction";
}

/** A plotly heatmap trace. Cell `z[i][j]` sits at x = j, y = i; `null` is a gap (NaN, ±Infinity). */
export interface HeatmapTrace {
  /** Trace type. */
  type: "heatmap";
  /** Trace name (shown on hover). */
  name?: string;
  /** Values, one row per y index, rounded to 4 significant digits. */
  z: (number | null)[][];
  /** Value at the bottom of the colour scale. */
  zmin: number;
  /** Value at the top of the colour scale. */
  zmax: number;
  /** The colour scale. */
  colorscale: ColorScale;
  /** Whether this trace draws its colour bar. */
  showscale?: boolean;
  /** The colour bar. */
  colorbar?: PlotlyColorBar;
  /** Escaped hover text per cell (small maps only). */
  text?: string[][];
  /** Plotly hover template. */
  hovertemplate?: string;
  /** Gap in pixels between columns. */
  xgap?: number;
  /** Gap in pixels between rows. */
  ygap?: number;
  /** The x axis id (`"x"`, `"x2"`). */
  xaxis?: string;
  /** The y axis id (`"y"`, `"y2"`). */
  yaxis?: string;
  /**
   * Set only in the notebook display of a map too large for one output: the
   * cells are then means of `dx` × `dy` blocks centred at `x0 + j * dx`,
   * `y0 + i * dy` in the original indices. `figureToSvg()` ignores them.
   */
  x0?: number;
  /** Column step of a block-averaged map (see `x0`). */
  dx?: number;
  /** Row offset of a block-averaged map (see `x0`). */
  y0?: number;
  /** Row step of a block-averaged map (see `x0`). */
  dy?: number;
}

/** A plotly line trace. */
export interface ScatterTrace {
  /** Trace type. */
  type: "scatter";
  /** Drawing mode. */
  mode: "lines" | "lines+markers";
  /** Escaped series name, shown in the legend; a long one is wrapped (`<br>`) or cut, see `meta`. */
  name: string;
  /** The full escaped name, set when `name` had to be wrapped or cut for the legend. */
  meta?: { name: string };
  /** Plotly hover template; set with `meta`, to show the full name on hover. */
  hovertemplate?: string;
  /** X coordinates. */
  x: (number | null)[];
  /** Y coordinates (`null` for non-finite values). */
  y: (number | null)[];
  /** Line style: colour, width in pixels and dash pattern (plotly's names; default solid). */
  line: { color: string; width: number; dash?: LineDash };
  /**
   * Markers, drawn when `mode` is `"lines+markers"`: shape, diameter in pixels, colour, and
   * for the `"-open"` shapes the outline's colour and width.
   */
  marker?: {
    symbol: MarkerSymbol;
    size: number;
    color: string;
    line?: { color: string; width: number };
  };
  /** The x axis id. */
  xaxis?: string;
  /** The y axis id. */
  yaxis?: string;
}

/** Any trace a {@link Figure} holds. */
export type PlotlyTrace = HeatmapTrace | ScatterTrace;

/** A text annotation placed in paper coordinates (subplot titles). */
export interface PlotlyAnnotation {
  /** Escaped text; `<br>` breaks lines. */
  text: string;
  /** Escaped full text shown on hover, set when `text` had to be cut short. */
  hovertext?: string;
  /** Horizontal position, 0 = left edge of the plotting area, 1 = right edge. */
  x: number;
  /** Vertical position, 0 = bottom of the plotting area, 1 = top. */
  y: number;
  /** Coordinates are fractions of the plotting area. */
  xref: "paper";
  /** Coordinates are fractions of the plotting area. */
  yref: "paper";
  /** Horizontal anchor. */
  xanchor: "left" | "center" | "right";
  /** Vertical anchor. */
  yanchor: "top" | "middle" | "bottom";
  /** Annotations here never draw arrows. */
  showarrow: false;
  /** Font. */
  font?: { size: number };
}

/** A plotly layout: the figure-wide keys plus `xaxis`, `xaxis2`, …, `yaxis`, `yaxis2`, …. */
export interface PlotlyLayout {
  /** Figure title. */
  title?: PlotlyTitle;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Margins in pixels around the plotting area. */
  margin: { l: number; r: number; t: number; b: number };
  /** Subplot titles and other text. */
  annotations?: PlotlyAnnotation[];
  /** Whether the legend is drawn. */
  showlegend?: boolean;
  /** Background of the plotting area. */
  plot_bgcolor?: string;
  /** Background of the whole figure. */
  paper_bgcolor?: string;
  /** Base font. */
  font?: { family: string; size: number };
  /** Axes: `xaxis`, `xaxis2`, …, `yaxis`, `yaxis2`, …. */
  [axis: `${"x" | "y"}axis${string}`]: PlotlyAxis | undefined;
}

/** What a figure shows, for `text/plain` and for readers of `meta`. */
export interface FigureMeta {
  /** The builder that made the figure, e.g. `"attentionHeatmap"`. */
  kind: string;
  /** The plain (unescaped) title, or `""`. */
  title: string;
  /** A one-line description, e.g. `"5×5 attention weights"`. */
  description: string;
}

/** plotly's config, the fourth argument of `Plotly.newPlot(div, data, layout, config)`. */
export interface PlotlyConfig {
  /** Whether the plotly logo shows in the mode bar. */
  displaylogo: boolean;
  /** Whether the plot follows the size of its container. */
  responsive: boolean;
  /** When the mode bar (zoom, pan, save) shows: `"hover"` = only while the pointer is over the figure. */
  displayModeBar: boolean | "hover";
}

/** The plotly JSON of a figure, as `application/vnd.plotly.v1+json` carries it. */
export interface PlotlyFigureJson {
  /** The traces. */
  data: PlotlyTrace[];
  /** The layout. */
  layout: PlotlyLayout;
  /** The config, in the notebook display (the same one the HTML passes to `Plotly.newPlot`). */
  config?: PlotlyConfig;
}

/** The MIME bundle a {@link Figure} gives Deno's Jupyter kernel. */
export interface FigureMimeBundle {
  /** Rendered natively by VS Code and by JupyterLab's plotly extension. */
  "application/vnd.plotly.v1+json": PlotlyFigureJson;
  /** A static SVG fallback plus, once plotly.js is registered, an interactive plot (offline). */
  "text/html": string;
  /**
   * The static drawing (`figureToSvg()`), also inside `text/html`. Untrusted, classic
   * Notebook sanitises the HTML (no `<svg>` survives) and skips this type; the executed copies
   * `deno task notebooks` writes add an `image/png` of it and put that PNG in the HTML instead.
   */
  "image/svg+xml": string;
  /** A one-line description. */
  "text/plain": string;
}

/**
 * A plot: plotly's `{ data, layout }` plus {@link FigureMeta}. The builders in
 * this module return one; as the last expression of a notebook cell it
 * displays itself through its `[Symbol.for("Jupyter.display")]()` method.
 *
 * @example Build, inspect and serialise a figure
 * ```ts
 * import { heatmap } from "./heatmap.ts";
 * import assert from "node:assert/strict";
 * const fig = heatmap([[1, 2], [3, 4]], { title: "x" });
 * assert.equal(fig.data[0].type, "heatmap");
 * assert.deepEqual(Object.keys(fig.toJSON()), ["data", "layout"]);
 * assert.match(String(fig), /^Figure\(heatmap/);
 * ```
 */
export class Figure {
  /** The plotly traces. */
  readonly data: PlotlyTrace[];
  /** The plotly layout. */
  readonly layout: PlotlyLayout;
  /** What the figure shows. */
  readonly meta: FigureMeta;

  /**
   * Wraps plotly `data` and `layout` (not copied). The builders call this;
   * build your own only if you keep to the subset of plotly that
   * `figureToSvg()` draws (heatmaps and line traces).
   */
  constructor(data: PlotlyTrace[], layout: PlotlyLayout, meta: FigureMeta) {
    this.data = data;
    this.layout = layout;
    this.meta = meta;
  }

  /**
   * The plotly JSON (`{ data, layout }`), also what `JSON.stringify` writes.
   *
   * @returns The figure's data and layout.
   *
   * @example Round-trip through JSON
   * ```ts
   * import { linePlot } from "./line_plot.ts";
   * import assert from "node:assert/strict";
   * const fig = linePlot([{ name: "loss", x: [0, 1], y: [2, 1] }]);
   * assert.deepEqual(JSON.parse(JSON.stringify(fig)).data[0].y, [2, 1]);
   * ```
   */
  toJSON(): PlotlyFigureJson {
    return { data: this.data, layout: this.layout };
  }

  /**
   * The MIME bundle for Deno's Jupyter kernel: plotly JSON, offline HTML,
   * static SVG and a text description. The HTML shows the SVG at once and, if
   * plotly.js was registered with `usePlotly()`, replaces it with an
   * interactive plot; plotly.js itself travels once per session (in the
   * output of `usePlotly()`, or else with the first figure), later figures
   * wait for `window.Plotly`. The whole bundle stays under 2.5 MB, a limit of
   * Deno's kernel: the plotly JSON of a larger map holds means of square
   * blocks of cells (said in its title); `toHtml()` keeps every cell.
   *
   * @returns One bundle with four MIME types.
   *
   * @example The four MIME types
   * ```ts
   * import { heatmap } from "./heatmap.ts";
   * import { jupyterDisplay } from "./figure.ts";
   * import assert from "node:assert/strict";
   * assert.equal(jupyterDisplay, Symbol.for("Jupyter.display"));
   * const bundle = heatmap([[0, 1]])[jupyterDisplay]();
   * assert.deepEqual(Object.keys(bundle).sort(), [
   *   "application/vnd.plotly.v1+json", "image/svg+xml", "text/html", "text/plain",
   * ]);
   * ```
   */
  [jupyterDisplay](): FigureMimeBundle {
    return _figureBundle(this);
  }

  /**
   * A one-line description, e.g. `Figure(attentionHeatmap "head 0": 4×4 attention weights)`.
   *
   * @returns The description.
   *
   * @example Describe a figure
   * ```ts
   * import { attentionHeatmap } from "./attention_heatmap.ts";
   * import assert from "node:assert/strict";
   * const fig = attentionHeatmap([[1, 0], [0.5, 0.5]], { title: "head 0" });
   * assert.equal(fig.toString(), 'Figure(attentionHeatmap "head 0": 2×2 attention weights)');
   * ```
   */
  toString(): string {
    const { kind, title, description } = this.meta;
    return `Figure(${kind}${title ? ` ${JSON.stringify(title)}` : ""}: ${description})`;
  }
}
