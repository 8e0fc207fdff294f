/**
 * Private: lays out one heatmap or a grid of heatmaps (heads, layers × heads)
 * as a plotly figure with explicit axis domains, so that the SVG renderer can
 * draw exactly what plotly draws.
 *
 * @module
 */

import type { ColorScale } from "./color_scale.ts";
import { escapeHtml } from "./escape.ts";
import {
  Figure,
  type HeatmapTrace,
  type PlotlyAnnotation,
  type PlotlyAxis,
  type PlotlyColorBar,
  type PlotlyLayout,
} from "./figure.ts";
import { _formatTick, _niceTicks } from "./svg.ts";
import { _labels, type _Matrix, _rows } from "./_matrix.ts";
import { _figureTitle, type _Fitted, _fitText, _lineHeight, _markup, _textWidth } from "./_text.ts";

/** One heatmap of a grid. */
export interface _Panel {
  matrix: _Matrix;
  /** Plain subplot title. */
  title?: string;
  /** Grid position; defaults to filling rows left to right. */
  row?: number;
  col?: number;
  /**
   * The panel's own colour range and scale (a grid without a shared scale);
   * such a panel gets its own colour bar beside it. Default: the spec's.
   */
  color?: { zmin: number; zmax: number; colorscale: ColorScale };
}

/** Everything a heatmap figure needs. Labels and titles are plain text (escaped here). */
export interface _HeatmapSpec {
  fn: string;
  description: string;
  title?: string;
  panels: _Panel[];
  /** Grid columns (1 for a single heatmap). */
  columns: number;
  xLabels?: readonly string[];
  yLabels?: readonly string[];
  /** Names of the label options, for error messages. */
  xLabelsArg: string;
  yLabelsArg: string;
  xTitle?: string;
  yTitle?: string;
  zmin: number;
  zmax: number;
  colorscale: ColorScale;
  colorbar?: PlotlyColorBar;
  /** Plain colour bar title, fitted (and escaped) here. */
  colorbarTitle?: string;
  /** Plain hover names of the x index, y index and value, e.g. key / query / weight. */
  hover: { x: string; y: string; z: string; zFormat: string };
  /** Draw 1px gaps between cells of small maps (masks). */
  gaps?: boolean;
}

// Pixel sizes: about 26 px per token, within bounds that keep a single map readable
// and a grid of 12 × 12 heads on one screen.
const CELL_PX = 26;
const FONT_PX = 12;
const TICK_FONT_PX = 11;
// Hover text per cell costs a string per cell: only for small figures.
const MAX_HOVER_TEXT_CELLS = 4096;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const textWidth = (s: string, px = TICK_FONT_PX) => _textWidth(s, px);
// Colour bars: width of the shared bar and of a bar per subplot, in pixels.
const BAR_PX = 14;
const PANEL_BAR_PX = 10;

/** Widest tick label of a colour bar over [zmin, zmax] (or of its explicit tick texts). */
function colorbarTickWidth(zmin: number, zmax: number, ticktext?: readonly string[]): number {
  const texts = ticktext ?? _niceTicks(zmin, zmax, 6).map(_formatTick);
  return Math.max(0, ...texts.map((t) => textWidth(t)));
}

/**
 * A colour bar's ticks, written out: plotly's own labels use SI prefixes
 * ("100µ" for 1e-4), and `figureToSvg()` then draws the very same ticks.
 */
function colorbarTicks(zmin: number, zmax: number): { tickvals: number[]; ticktext: string[] } {
  const tickvals = _niceTicks(zmin, zmax, 6);
  return { tickvals, ticktext: tickvals.map(_formatTick) };
}

/** Plotly's text for fitted lines: escaped, joined with `<br>`. */
const joinLines = (f: _Fitted) => f.lines.map(_markup).join("<br>");

/** Evenly strided tick indices, at most `maxTicks`, with a 1-2-5 stride. */
function tickIndices(n: number, maxTicks: number): number[] {
  let stride = 1;
  for (let p = 1;; p *= 10) {
    const s = [1, 2, 5].map((m) => m * p).find((s) => Math.ceil(n / s) <= maxTicks);
    if (s !== undefined) {
      stride = s;
      break;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) out.push(i);
  return out;
}

interface _AxisTicks {
  tickvals: number[];
  ticktext?: string[];
  width: number; // pixels the labels need across the axis
  angle: number;
}

function axisTicks(
  n: number,
  labels: readonly string[] | undefined,
  panelPx: number,
  isX: boolean,
): _AxisTicks {
  const maxTicks = Math.max(2, Math.floor(panelPx / (TICK_FONT_PX + 3)));
  const tickvals = tickIndices(n, labels ? maxTicks : Math.max(2, Math.floor(panelPx / 40)));
  const texts = tickvals.map((i) => (labels ? labels[i] : String(i)));
  const longest = Math.max(...texts.map((t) => textWidth(t)), 0);
  let angle = 0;
  if (isX && labels && longest > panelPx / tickvals.length - 4) angle = -45;
  const width = isX ? (angle ? Math.min(140, longest * 0.71 + 8) : TICK_FONT_PX + 4) : Math.min(
    170,
    longest + 8,
  );
  return {
    tickvals,
    ticktext: labels ? texts.map(escapeHtml) : undefined,
    width,
    angle,
  };
}

/** Builds the figure. Callers have validated the matrices and options. */
export function _heatmapFigure(spec: _HeatmapSpec): Figure {
  const { panels, fn } = spec;
  const columns = Math.max(1, Math.min(spec.columns, panels.length));
  const placed = panels.map((p, k) => ({
    ...p,
    row: p.row ?? Math.floor(k / columns),
    col: p.col ?? k % columns,
  }));
  const gridRows = Math.max(...placed.map((p) => p.row)) + 1;
  const gridCols = Math.max(...placed.map((p) => p.col)) + 1;
  const single = panels.length === 1;
  const maxRows = Math.max(...panels.map((p) => p.matrix.rows));
  const maxCols = Math.max(...panels.map((p) => p.matrix.cols));
  const uniform = panels.every((p) => p.matrix.rows === maxRows && p.matrix.cols === maxCols);

  // 1) panel size in pixels
  const [minPx, maxPx] = single ? [220, 560] : [110, 240];
  const panelW = clamp(maxCols * CELL_PX, minPx, maxPx);
  const panelH = clamp(maxRows * CELL_PX, minPx, maxPx);

  // 2) ticks (labels are checked per panel against its own size)
  const xLabels = (m: _Matrix) => _labels(spec.xLabels, m.cols, fn, spec.xLabelsArg, "column");
  const yLabels = (m: _Matrix) => _labels(spec.yLabels, m.rows, fn, spec.yLabelsArg, "row");
  const xt = placed.map((p) => axisTicks(p.matrix.cols, xLabels(p.matrix), panelW, true));
  const yt = placed.map((p) => axisTicks(p.matrix.rows, yLabels(p.matrix), panelH, false));
  const xTickH = Math.max(...xt.map((t) => t.width));
  const yTickW = Math.max(...yt.map((t) => t.width));
  // Inner panels of a uniform grid share the outer tick labels.
  const innerTicks = !uniform;

  // 3) colour bars: one shared bar right of the grid, or one beside each panel
  const perPanel = placed.some((p) => p.color);
  const cbTitle = spec.colorbarTitle?.trim() || undefined;
  let colorbarW: number;
  let cbTitleFit: _Fitted | undefined;
  let panelBarW = 0;
  if (perPanel) {
    // bar, ticks, tick labels, and the title turned along the bar
    const tickW = Math.max(
      ...placed.map((p) =>
        colorbarTickWidth(p.color?.zmin ?? spec.zmin, p.color?.zmax ?? spec.zmax)
      ),
    );
    panelBarW = 6 + PANEL_BAR_PX + 6 + tickW + (cbTitle ? 22 : 6);
    colorbarW = panelBarW + 8;
    if (cbTitle) {
      cbTitleFit = _fitText(cbTitle, { width: panelH - 4, size: TICK_FONT_PX, minSize: 9 });
    }
  } else {
    // Bar, ticks and tick labels, then the title turned to run along the bar: a title on top
    // of the bar collides with the label of a tick at its top end (plotly puts it there).
    const tickW = colorbarTickWidth(spec.zmin, spec.zmax, spec.colorbar?.ticktext);
    if (cbTitle) {
      // Along the bar (at least the panels' height): one line, else two, else cut.
      cbTitleFit = _fitText(cbTitle, {
        width: gridRows * panelH - 8,
        size: FONT_PX,
        minSize: 10,
        maxLines: 2,
      });
    }
    const titleW = cbTitleFit ? 8 + cbTitleFit.lines.length * _lineHeight(cbTitleFit.size) : 0;
    colorbarW = 24 + BAR_PX + 6 + Math.max(20, tickW) + titleW + 10;
  }

  // 4) margins and gaps
  const axisTitle = 22;
  const gapX = (innerTicks ? yTickW + 16 : 16) + panelBarW;
  const innerW = gridCols * panelW + (gridCols - 1) * gapX;
  const margin = {
    l: Math.round(12 + yTickW + (spec.yTitle ? axisTitle : 0)),
    r: Math.round(colorbarW),
    t: 0,
    b: Math.round(10 + xTickH + (spec.xTitle ? axisTitle : 0)),
  };
  const width = Math.round(innerW + margin.l + margin.r);
  // Titles wrap to the figure (up to 3 lines) and subplot titles to their panel (up to 2).
  const title = spec.title ? _figureTitle(spec.title, width - 20) : undefined;
  const panelTitles = placed.map((p) =>
    p.title === undefined
      ? undefined
      : _fitText(p.title, { width: panelW + 12, size: FONT_PX, minSize: 10, maxLines: 2 })
  );
  const panelTitleH = single ? 0 : 8 + Math.max(
    _lineHeight(FONT_PX),
    ...panelTitles.map((f) => (f ? f.lines.length * _lineHeight(f.size) : 0)),
  );
  margin.t = Math.round((title ? title.height : 16) + panelTitleH);
  const gapY = panelTitleH + (innerTicks ? xTickH + 8 : 8);
  const innerH = gridRows * panelH + (gridRows - 1) * gapY;
  const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

  // 5) one trace + one pair of axes per panel
  const layout: PlotlyLayout = {
    width,
    height: Math.round(innerH + margin.t + margin.b),
    margin,
    font: { family: "sans-serif", size: FONT_PX },
    plot_bgcolor: "#ffffff",
    paper_bgcolor: "#ffffff",
  };
  if (title) layout.title = title.title;
  const annotations: PlotlyAnnotation[] = [];
  const totalCells = panels.reduce((n, p) => n + p.matrix.rows * p.matrix.cols, 0);
  const data: HeatmapTrace[] = placed.map((p, k) => {
    const id = k === 0 ? "" : String(k + 1);
    const x0 = (p.col * (panelW + gapX)) / innerW;
    const x1 = (p.col * (panelW + gapX) + panelW) / innerW;
    const y1 = 1 - (p.row * (panelH + gapY)) / innerH;
    const y0 = y1 - panelH / innerH;
    const left = p.col === 0 || innerTicks;
    const bottom = p.row === gridRows - 1 || innerTicks ||
      !placed.some((q) => q.col === p.col && q.row > p.row);
    const xa: PlotlyAxis = {
      domain: [r4(x0), r4(x1)],
      anchor: `y${id}`,
      tickmode: "array",
      tickvals: xt[k].tickvals,
      showticklabels: bottom,
      showgrid: false,
      zeroline: false,
      tickfont: { size: TICK_FONT_PX },
    };
    if (xt[k].ticktext) xa.ticktext = xt[k].ticktext;
    if (xt[k].angle) xa.tickangle = xt[k].angle;
    if (spec.xTitle && bottom) xa.title = { text: _markup(spec.xTitle) };
    const ya: PlotlyAxis = {
      domain: [r4(y0), r4(y1)],
      anchor: `x${id}`,
      autorange: "reversed", // row 0 on top, as in a matrix
      tickmode: "array",
      tickvals: yt[k].tickvals,
      showticklabels: left,
      showgrid: false,
      zeroline: false,
      tickfont: { size: TICK_FONT_PX },
    };
    if (yt[k].ticktext) ya.ticktext = yt[k].ticktext;
    if (spec.yTitle && left) ya.title = { text: _markup(spec.yTitle) };
    layout[`xaxis${id}`] = xa;
    layout[`yaxis${id}`] = ya;
    const fitted = panelTitles[k];
    if (p.title !== undefined && fitted) {
      annotations.push({
        text: joinLines(fitted),
        ...(fitted.truncated ? { hovertext: escapeHtml(p.title) } : {}),
        x: r4((x0 + x1) / 2),
        y: r4(y1),
        xref: "paper",
        yref: "paper",
        xanchor: "center",
        yanchor: "bottom",
        showarrow: false,
        font: { size: fitted.size },
      });
    }
    const hover = {
      ...spec.hover,
      x: escapeHtml(spec.hover.x),
      y: escapeHtml(spec.hover.y),
      z: escapeHtml(spec.hover.z),
    };
    const trace: HeatmapTrace = {
      type: "heatmap",
      z: _rows(p.matrix),
      zmin: p.color?.zmin ?? spec.zmin,
      zmax: p.color?.zmax ?? spec.zmax,
      colorscale: p.color?.colorscale ?? spec.colorscale,
      // One colour bar when every panel shares zmin, zmax and the scale; else one per panel.
      showscale: perPanel || k === 0,
      hovertemplate: `${hover.y} %{y}<br>${hover.x} %{x}<br>${hover.z} %{z${hover.zFormat}}` +
        "<extra></extra>",
    };
    if (p.title !== undefined) trace.name = escapeHtml(p.title);
    if (k > 0) {
      trace.xaxis = `x${id}`;
      trace.yaxis = `y${id}`;
    }
    if (perPanel) {
      trace.colorbar = {
        thickness: PANEL_BAR_PX,
        x: r4((p.col * (panelW + gapX) + panelW + 6) / innerW),
        xanchor: "left",
        xpad: 0,
        y: r4((y0 + y1) / 2),
        yanchor: "middle",
        ypad: 0,
        len: r4(y1 - y0),
        lenmode: "fraction",
        ...colorbarTicks(trace.zmin, trace.zmax),
        ...spec.colorbar,
      };
      if (cbTitleFit) {
        trace.colorbar.title = {
          text: joinLines(cbTitleFit),
          font: { size: cbTitleFit.size },
          side: "right",
        };
      }
    } else if (k === 0) {
      trace.colorbar = {
        thickness: BAR_PX,
        ...colorbarTicks(trace.zmin, trace.zmax),
        ...spec.colorbar,
      };
      if (cbTitleFit) {
        trace.colorbar.title = {
          text: joinLines(cbTitleFit),
          font: { size: cbTitleFit.size },
          side: "right",
        };
      }
    }
    const xl = xLabels(p.matrix);
    const yl = yLabels(p.matrix);
    if ((xl || yl) && totalCells <= MAX_HOVER_TEXT_CELLS) {
      trace.text = Array.from(
        { length: p.matrix.rows },
        (_, i) =>
          Array.from(
            { length: p.matrix.cols },
            (_, j) =>
              `${hover.y} ${i} ${escapeHtml(yl?.[i] ?? "")} → ${hover.x} ${j} ${
                escapeHtml(xl?.[j] ?? "")
              }`,
          ),
      );
      trace.hovertemplate = `%{text}<br>${hover.z} %{z${hover.zFormat}}<extra></extra>`;
    }
    if (spec.gaps && p.matrix.rows <= 48 && p.matrix.cols <= 48) {
      trace.xgap = 1;
      trace.ygap = 1;
    }
    return trace;
  });
  if (annotations.length) layout.annotations = annotations;
  return new Figure(data, layout, {
    kind: fn,
    title: spec.title ?? "",
    description: spec.description,
  });
}
