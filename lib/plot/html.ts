/**
 * Offline HTML: {@link toHtml} writes a standalone page, and the notebook
 * display of a figure uses the same fragment (a static SVG that plotly.js
 * replaces with an interactive plot when it can run).
 *
 * @module
 */

import { _htmlPage } from "./_page.ts";
import { _scriptJson, _scriptSafe, escapeHtml } from "./escape.ts";
import type { Figure, PlotlyConfig } from "./figure.ts";
import { _registeredPlotlyJs } from "./plotly_js.ts";
import { figureToSvg } from "./svg.ts";

/** A figure with an optional heading and note, for {@link toHtml}. */
export interface HtmlSection {
  /** The figure. */
  figure: Figure;
  /** A heading above the figure. */
  heading?: string;
  /** A paragraph of plain text below the heading. */
  note?: string;
}

/** Options of {@link toHtml}. */
export interface ToHtmlOptions {
  /** Page title (also the top heading). Default `"Attention Lab figures"`. */
  title?: string;
  /**
   * The plotly.js source (`await loadPlotlyJs()`), inlined once in the page.
   * Default: the source registered with `usePlotly()`, if any; without one the
   * page shows the static SVG drawings only (still offline, no scripts).
   */
  plotlyJs?: string;
}

/**
 * The plotly config of every interactive figure, in `toHtml()` pages and in
 * the notebook display alike (the plotly MIME type carries it too): the mode
 * bar shows only while the pointer is over a figure, so it never sits on a
 * title of a small figure (titles also start below its height), and no logo.
 */
export const _PLOTLY_CONFIG: Readonly<PlotlyConfig> = Object.freeze({
  displaylogo: false,
  responsive: true,
  displayModeBar: "hover",
});

// Unique element ids across displays in one notebook page (outputs share one DOM).
const PAGE_PREFIX = `alf${Math.floor(Math.random() * 36 ** 6).toString(36)}`;
let counter = 0;

/** plotly.js, run only if the page does not have it yet. */
function plotlyScript(source: string): string {
  return `<script type="text/javascript">if (typeof window.Plotly === "undefined") {\n${
    _scriptSafe(source)
  }\n}</script>`;
}

/**
 * The figure as an HTML fragment: a div holding the static SVG and, when
 * `plotly` is true, a script that waits for `window.Plotly` (up to 60 s, it
 * may still be unpacking) and swaps in the interactive plot.
 */
export function _figureFragment(figure: Figure, plotly: boolean, svg?: string): string {
  const id = `${PAGE_PREFIX}-${++counter}`;
  const div =
    `<div id="${id}" class="attention-lab-figure" style="max-width:100%;overflow-x:auto">${
      svg ?? figureToSvg(figure)
    }</div>`;
  if (!plotly) return div;
  const spec = _scriptJson({
    data: figure.data,
    layout: figure.layout,
    config: _PLOTLY_CONFIG,
  });
  return `${div}
<script type="text/javascript">(function () {
  var spec = ${spec};
  var tries = 0;
  function draw() {
    var el = document.getElementById(${JSON.stringify(id)});
    if (!el) return;
    if (window.Plotly && window.Plotly.newPlot) {
      el.innerHTML = "";
      window.Plotly.newPlot(el, spec.data, spec.layout, spec.config);
    } else if (tries++ < 600) {
      setTimeout(draw, 100);
    }
  }
  draw();
})();</script>`;
}

/**
 * A standalone HTML page with the figures, that works offline: plotly.js is
 * inlined once in the head (never loaded from a CDN) and each figure gets its
 * own div, drawn first as a static SVG and then replaced by plotly. Without
 * plotly.js the page keeps the SVGs. Heatmap values are stored with 4
 * significant digits, so a 1000 × 1000 map adds about 9 MB of JSON (1 to 9
 * characters per cell) plus an SVG of at most 200 × 200 averaged cells.
 *
 * @param figures A figure, or a list of figures or `{ figure, heading, note }` sections.
 * @param options Page title and the plotly.js source.
 * @returns The page, starting with `<!doctype html>`.
 * @throws {TypeError} When an entry is not a Figure or a section holding one.
 *
 * @example A page with two figures and no network access
 * ```ts
 * import { toHtml } from "./html.ts";
 * import { attentionHeatmap } from "./attention_heatmap.ts";
 * import { maskHeatmap } from "./mask_heatmap.ts";
 * import assert from "node:assert/strict";
 * const page = toHtml([
 *   { figure: maskHeatmap([[true, false], [true, true]]), heading: "Causal mask" },
 *   attentionHeatmap([[1, 0], [0.5, 0.5]]),
 * ], { title: "Attention", plotlyJs: "window.Plotly = {};" });
 * assert.equal(page.split("window.Plotly = {};").length - 1, 1);
 * assert.ok(!/src="https?:/.test(page));
 * assert.ok(page.includes("<h2>Causal mask</h2>"));
 * ```
 */
export function toHtml(
  figures: Figure | readonly (Figure | HtmlSection)[],
  options: ToHtmlOptions = {},
): string {
  const list = Array.isArray(figures) ? figures : [figures];
  const sections: HtmlSection[] = list.map((f, i) => {
    const s = isFigure(f) ? { figure: f } : f as HtmlSection;
    if (!s || !isFigure(s.figure)) {
      throw new TypeError(
        `toHtml: figures[${i}] must be a Figure or { figure, heading?, note? }, got ${
          s === null ? "null" : typeof s
        }`,
      );
    }
    return s;
  });
  const title = options.title ?? "Attention Lab figures";
  const plotlyJs = options.plotlyJs ?? _registeredPlotlyJs();
  if (plotlyJs !== undefined && typeof plotlyJs !== "string") {
    throw new TypeError(`toHtml: options.plotlyJs must be the plotly.js source as a string`);
  }
  const body = sections.map((s) => {
    const parts = ["<section>"];
    if (s.heading) parts.push(`<h2>${escapeHtml(s.heading)}</h2>`);
    if (s.note) parts.push(`<p>${escapeHtml(s.note)}</p>`);
    parts.push(_figureFragment(s.figure, Boolean(plotlyJs)), "</section>");
    return parts.join("\n");
  });
  return _htmlPage(title, body, {
    css: "section{margin:2rem 0}",
    head: [plotlyJs ? plotlyScript(plotlyJs) : ""],
  });
}

function isFigure(v: unknown): v is Figure {
  return typeof v === "object" && v !== null && "data" in v && "layout" in v && "meta" in v &&
    typeof (v as Figure).toJSON === "function";
}
