/**
 * Private: the MIME bundle of a figure in Deno's Jupyter kernel, kept under
 * the kernel's message size limit.
 *
 * @module
 */

import type { Figure, FigureMimeBundle, HeatmapTrace, PlotlyTrace } from "./figure.ts";
import { _figureFragment, _PLOTLY_CONFIG } from "./html.ts";
import { _DISPLAY_BUDGET } from "./jupyter_display.ts";
import { _round } from "./_matrix.ts";
import { _markPlotlyIncluded, _plotlyLoaderHtml, _plotlyState } from "./plotly_js.ts";
import { figureToSvg } from "./svg.ts";
import { _titleLayout } from "./_text.ts";

// The SVG travels twice (image/svg+xml and inside text/html): keep each copy small.
const SVG_BUDGET = 400_000;
// Room for the HTML wrapper, the text and JSON escapes.
const SLACK = 30_000;

/** Block means of one heatmap: `b × b` cells become one, centred on the original indices. */
function reduceTrace(tr: HeatmapTrace, b: number): HeatmapTrace {
  const rows = tr.z.length;
  const cols = rows ? tr.z[0].length : 0;
  const z: (number | null)[][] = [];
  for (let i0 = 0; i0 < rows; i0 += b) {
    const row: (number | null)[] = [];
    for (let j0 = 0; j0 < cols; j0 += b) {
      let sum = 0;
      let n = 0;
      for (let i = i0; i < Math.min(rows, i0 + b); i++) {
        for (let j = j0; j < Math.min(cols, j0 + b); j++) {
          const v = tr.z[i][j];
          if (v !== null) {
            sum += v;
            n++;
          }
        }
      }
      row.push(n ? _round(sum / n) : null);
    }
    z.push(row);
  }
  const { text: _text, ...rest } = tr;
  return {
    ...rest,
    z,
    x0: (b - 1) / 2,
    dx: b,
    y0: (b - 1) / 2,
    dy: b,
    hovertemplate: `mean of a ${b}×${b} block<br>${tr.hovertemplate ?? ""}`,
  };
}

/** The figure with its heatmaps averaged over blocks so its JSON fits in `room` characters. */
export function _reduceFigure(fig: Figure, jsonLength: number, room: number): Figure {
  const cells = fig.data.reduce(
    (n, t) => n + (t.type === "heatmap" ? t.z.length * (t.z[0]?.length ?? 0) : 0),
    0,
  );
  if (cells === 0) return fig;
  // JSON length is about proportional to the cells; aim 10% below the room.
  const b = Math.max(2, Math.ceil(Math.sqrt(jsonLength / (0.9 * room))));
  const data: PlotlyTrace[] = fig.data.map((t) => (t.type === "heatmap" ? reduceTrace(t, b) : t));
  const note = `notebook view: means of ${b}×${b} blocks; toHtml() keeps every cell`;
  const title = fig.layout.title?.text ?? "";
  // One more (small) title line: the top margin and the figure grow by its height.
  const extra = title ? 16 : 32;
  const layout = {
    ...fig.layout,
    height: fig.layout.height + extra,
    margin: { ...fig.layout.margin, t: fig.layout.margin.t + extra },
    title: _titleLayout(
      { ...fig.layout.title, text: `${title}${title ? "<br>" : ""}<sup>${note}</sup>` },
      title.split("<br>").length + (title ? 1 : 0),
    ),
  };
  const meta = { ...fig.meta, description: `${fig.meta.description} (${note})` };
  return new (fig.constructor as typeof Figure)(data, layout, meta);
}

/** The four MIME types of a figure's notebook display, at most {@link _DISPLAY_BUDGET} characters. */
export function _figureBundle(fig: Figure): FigureMimeBundle {
  let svg = figureToSvg(fig);
  if (svg.length > SVG_BUDGET) svg = figureToSvg(fig, { maxCells: 100 });
  let shown = fig;
  let json = JSON.stringify(fig);
  // The JSON travels twice too: as the plotly MIME type and inside text/html.
  const room = Math.max(50_000, (_DISPLAY_BUDGET - 2 * svg.length - SLACK) / 2);
  if (json.length > room) {
    shown = _reduceFigure(fig, json.length, room);
    json = JSON.stringify(shown);
  }
  const plotly = _plotlyState();
  let html = _figureFragment(shown, plotly.available, svg);
  if (plotly.available && !plotly.included) {
    // plotly.js rides along with the first figure when nobody displayed usePlotly()'s result;
    // if it does not fit next to this figure, a later (smaller) figure carries it.
    const loader = _plotlyLoaderHtml();
    if (loader.length + html.length + json.length + svg.length + SLACK <= _DISPLAY_BUDGET) {
      html = `${loader}\n${html}`;
      _markPlotlyIncluded();
    }
  }
  return {
    // The config that the HTML passes to Plotly.newPlot, for JupyterLab's and VS Code's renderers.
    "application/vnd.plotly.v1+json": { ...shown.toJSON(), config: { ..._PLOTLY_CONFIG } },
    "text/html": html,
    "image/svg+xml": svg,
    "text/plain": shown.toString(),
  };
}
