/**
 * Plots of attention: masks, attention weights (or scores) per head and per
 * layer, positional encodings, any matrix or several side by side, and line
 * charts. Every builder returns a
 * {@link Figure}, a plotly figure (`{ data, layout }`) that displays itself in
 * Deno's Jupyter kernel with four MIME types at once:
 *
 * - `application/vnd.plotly.v1+json`, drawn natively by VS Code and JupyterLab's plotly extension;
 * - `text/html` that works offline: a static SVG, swapped for an interactive
 *   plot once plotly.js is registered with {@link usePlotly} (inlined once per
 *   session, never fetched from a CDN);
 * - `image/svg+xml`, a static drawing made by this module ({@link figureToSvg}).
 *   Untrusted, classic Notebook sanitises the HTML (dropping `<svg>` and
 *   scripts) and skips SVG outputs, so the executed copies that
 *   `deno task notebooks` writes also carry a PNG of this drawing, in the
 *   HTML and as `image/png`, which every viewer shows (GitHub too);
 * - `text/plain`, a one-line description.
 *
 * Conventions: keys run along x and queries down y with query 0 on top (the y
 * axis is reversed, as in a matrix); masks use this library's polarity
 * (`true` = may attend); tensors with leading size-1 axes (`[1, 1, T, T]`) are
 * squeezed. Heatmap values are stored with 4 significant digits and the SVG
 * averages large maps down to at most 200 × 200 cells, so a 1000 × 1000 map
 * stays usable. Token text is escaped everywhere (HTML, XML and plotly's
 * pseudo-HTML).
 *
 * Nothing is read at import time. In a notebook, one cell enables the
 * interactive plots; its output carries plotly.js (compressed, about 2 MB)
 * once for the session. {@link loadPlotlyJs} reads the bundle of the npm
 * package `plotly.js-dist-min` pinned in the import map through a text
 * import, which needs no permission (its fallback needs `--allow-read`; the
 * kernel has all permissions):
 *
 * ```ts ignore
 * import { loadPlotlyJs, usePlotly } from "@attention-lab/core/plot";
 * usePlotly(await loadPlotlyJs());
 * ```
 *
 * Deno's kernel drops outputs of about 3.5 MB and more, so a figure's display
 * stays under 2.5 MB: the notebook view of a very large map holds means of
 * square blocks of cells (its title says so), while {@link toHtml} writes
 * every cell to a standalone page.
 *
 * @example A causal mask and attention weights, saved as one offline page
 * ```ts
 * import { attentionHeatmap, maskHeatmap, toHtml } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const tokens = ["the", "cat", "<sat>"];
 * const causal = [[1, 0, 0], [1, 1, 0], [1, 1, 1]];
 * const weights = [[1, 0, 0], [0.4, 0.6, 0], [0.2, 0.3, 0.5]];
 * const mask = maskHeatmap(causal, { xLabels: tokens, yLabels: tokens, title: "Causal mask" });
 * const attn = attentionHeatmap(weights, { queryLabels: tokens, keyLabels: tokens });
 * assert.deepEqual(attn.layout.xaxis?.ticktext, ["the", "cat", "&lt;sat&gt;"]);
 * const page = toHtml([mask, attn], { title: "Self-attention" });
 * assert.ok(page.includes("&lt;sat&gt;") && !page.includes("<sat>"));
 * ```
 *
 * @module
 */

export { attentionHeatmap } from "./attention_heatmap.ts";
export type { AttentionHeatmapOptions } from "./attention_heatmap.ts";
export { colorAt, divergingScale, sequentialScale } from "./color_scale.ts";
export type { ColorScale } from "./color_scale.ts";
export { escapeHtml } from "./escape.ts";
export { Figure } from "./figure.ts";
export { jupyterDisplay } from "./jupyter_display.ts";
export type {
  FigureMeta,
  FigureMimeBundle,
  HeatmapTrace,
  PlotlyAnnotation,
  PlotlyAxis,
  PlotlyColorBar,
  PlotlyConfig,
  PlotlyFigureJson,
  PlotlyLayout,
  PlotlyText,
  PlotlyTitle,
  PlotlyTrace,
  ScatterTrace,
} from "./figure.ts";
export { headGrid } from "./head_grid.ts";
export type { HeadGridOptions, HeadsInput } from "./head_grid.ts";
export { heatmap } from "./heatmap.ts";
export type { HeatmapOptions, MaskLike, MatrixInput, TensorLike } from "./heatmap.ts";
export { heatmapGrid } from "./heatmap_grid.ts";
export type { HeatmapGridOptions } from "./heatmap_grid.ts";
export { toHtml } from "./html.ts";
export type { HtmlSection, ToHtmlOptions } from "./html.ts";
export { layerHeadGrid } from "./layer_head_grid.ts";
export type { LayerHeadGridOptions } from "./layer_head_grid.ts";
export { LINE_DASHES, linePlot, MARKER_SYMBOLS } from "./line_plot.ts";
export type {
  LineDash,
  LinePlotOptions,
  LineSeries,
  MarkerShape,
  MarkerSymbol,
} from "./line_plot.ts";
export { maskHeatmap } from "./mask_heatmap.ts";
export type { MaskHeatmapOptions } from "./mask_heatmap.ts";
export { loadPlotlyJs, PlotlyDisplay, usePlotly } from "./plotly_js.ts";
export type { PlotlyMimeBundle } from "./plotly_js.ts";
export { positionalEncodingHeatmap } from "./positional_encoding_heatmap.ts";
export type { PositionalEncodingHeatmapOptions } from "./positional_encoding_heatmap.ts";
export { figureToSvg } from "./svg.ts";
export type { FigureToSvgOptions } from "./svg.ts";
export { attentionRoles } from "./views/attention_roles.ts";
export type { AttentionRole, AttentionRolesOptions } from "./views/attention_roles.ts";
export { AttentionView } from "./views/attention_view.ts";
export type { ViewHtmlOptions, ViewMimeBundle } from "./views/attention_view.ts";
export { headView } from "./views/head_view.ts";
export type { HeadViewOptions } from "./views/head_view.ts";
export { modelView } from "./views/model_view.ts";
export { NeuronView, neuronView } from "./views/neuron_view.ts";
export type { NeuronColumns, NeuronSelection, NeuronViewOptions } from "./views/neuron_view.ts";
export { traceAttention } from "./views/trace_attention.ts";
export type { AttentionTraceRecord, TracedAttention } from "./views/trace_attention.ts";
export { trainingScrubber } from "./views/training_scrubber.ts";
export type { ScrubberSnapshot, TrainingScrubberOptions } from "./views/training_scrubber.ts";
export { VIEW_SPEC_VERSION } from "./views/view_spec.ts";
export { viewsRendererJs } from "./views/views_renderer.ts";
export type {
  Float32Json,
  HeadViewSpec,
  KeptSpec,
  NeuronHeadSpec,
  NeuronRoleSpec,
  NeuronViewSpec,
  RoleSpec,
  ScrubberSpec,
  SnapshotSpec,
  SparseMapSpec,
  ViewSpec,
} from "./views/view_spec.ts";
