/**
 * The playground page's HTML: markup, style, the bundled script and the
 * checkpoints, all in one file that needs no network.
 *
 * Stable hooks for tests (ids unless said otherwise):
 *
 * - `body[data-ready]`: `"true"` once the script has started, `"error"` if it
 *   failed (then `#status` says why).
 * - Tabs: `#tab-decode`, `#tab-attention` (`role="tab"`, `data-tab`,
 *   `aria-selected`); panels `#panel-decode`, `#panel-attention` (`hidden` when not shown).
 * - Tab 1, decoding: `#model-select` (the embedded models by task name:
 *   `dates`, `reverse`), `#input` (text box; decoding starts 200 ms after the
 *   last keystroke), `#input-error` (the message for an invalid input, naming
 *   the character and its position; `hidden` when the input is valid),
 *   `#output` (the output text so far; `data-state` is `pending`, `decoding`,
 *   `done`, `invalid` or `error`; `data-input` is the input decoded and
 *   `data-text` the whole output once `done`), `#steps` (one `li[data-step]`
 *   per revealed step; clicking one focuses it: `aria-current="step"`, an outline
 *   `rect[data-focus-row]` in the heatmap, its query's lines in the head view;
 *   clicking it again clears), `#timing`, `#vocab`, `#kernels`.
 * - Cross-attention heatmap: `#cross-heatmap` (an `svg` of `rect[data-row][data-col]`,
 *   revealed rows with `data-weight`; the container has `data-input`,
 *   `data-layer`, `data-head`, `data-steps`); `#layer-select`, `#head-select`
 *   (`mean` or a head index).
 * - The views of lib/plot/views (their renderer, `AttentionLabViews`, comes
 *   in the bundle, which installs it at start; inside each container its own `data-al` hooks, documented in
 *   lib/plot/views/_renderer.ts): `#head-view` (cross, decoder and encoder
 *   attention of the steps shown so far; role and layer selectors, heads toggled
 *   by click), `#model-view` (every layer × head), `#neuron-view` (q, k, q∘k,
 *   q·k, scaled, masked, softmax of a teacher-forced pass over the finished
 *   decode; `data-input` is the input it shows). Each gets `data-al-rendered="true"`.
 * - Tab 2, one attention computation: `#dk-slider` (1-16), `#temperature-slider`
 *   (0.1-4), `#mask-toggle` (checkbox: causal mask), their values in
 *   `#dk-value`, `#temperature-value`, `#scale-value`; `#walk` (`data-dk`,
 *   `data-temperature`, `data-mask`) holds the tables `#walk-q`, `#walk-k`,
 *   `#walk-v`, `#walk-scores`, `#walk-scaled`, `#walk-masked`, `#walk-weights`,
 *   `#walk-output` (cells `td[data-row][data-col][data-value]`); `#walk-check`
 *   compares the steps with the fused `scaledDotProductAttention`.
 *
 * @module
 */

import { _scriptSafe } from "../../lib/plot/escape.ts";

/** What the page is built from. */
export interface PageParts {
  /** The bundled script (an IIFE, `build.ts`). */
  script: string;
  /** Checkpoint bytes as base64, by task name. */
  checkpoints: Record<string, string>;
}

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1b1b1b; }
body { margin: 0 auto; max-width: 1100px; padding: 12px 20px 40px; }
h1 { font-size: 1.4rem; margin: 8px 0 2px; }
.sub { color: #555; margin: 0 0 12px; font-size: .9rem; }
[role=tablist] { display: flex; gap: 4px; border-bottom: 1px solid #ccc; margin-bottom: 12px; }
[role=tab] { border: 1px solid #ccc; border-bottom: none; background: #f4f4f4; padding: 6px 14px;
  cursor: pointer; border-radius: 6px 6px 0 0; font-size: .95rem; }
[role=tab][aria-selected=true] { background: #fff; font-weight: 600; position: relative; top: 1px; }
.row { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; margin: 6px 0; }
#input { font: 1.2rem ui-monospace, monospace; padding: 6px 8px; width: 26em; }
#input[aria-invalid=true] { border-color: #c00; outline-color: #c00; }
#input-error { color: #b00; font-weight: 600; }
#output { font: 1.5rem ui-monospace, monospace; min-height: 1.6em; padding: 4px 8px;
  background: #f7f7f2; border-radius: 4px; display: inline-block; min-width: 12em; }
#output[data-state=invalid] { opacity: .4; }
#steps { list-style: none; display: flex; flex-wrap: wrap; gap: 3px; padding: 0; margin: 6px 0; }
#steps li { font: .9rem ui-monospace, monospace; border: 1px solid #bbb; border-radius: 3px;
  padding: 1px 5px; background: #fff; cursor: pointer; }
#steps li[aria-current=step] { border-color: #e6550d; background: #fff1e6; }
.views { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.views section { min-width: 300px; }
h2 { font-size: 1rem; margin: 14px 0 4px; }
.tok { font: 12px ui-monospace, monospace; fill: #222; cursor: default; }
.legend { display: flex; gap: 4px; margin-bottom: 4px; }
.chip { border: 2px solid; border-radius: 10px; font-size: .75rem; padding: 1px 8px; cursor: pointer; }
.small, #timing, #vocab, #kernels { color: #555; font-size: .85rem; }
#walk { display: flex; flex-wrap: wrap; gap: 10px 18px; }
.matrix { margin: 0; }
.matrix figcaption { font-size: .85rem; font-weight: 600; margin-bottom: 2px; }
.matrix .note { font-weight: 400; color: #666; }
.matrix table { border-collapse: collapse; font: 11px ui-monospace, monospace; }
.matrix td { padding: 2px 4px; text-align: right; min-width: 2.6em; border: 1px solid #fff; }
.matrix th { font-weight: 400; color: #555; padding: 0 4px; }
label { font-size: .9rem; }
#status { color: #b00; font-weight: 600; }
`;

const BODY = `
<h1>Attention Lab playground</h1>
<p class="sub">The library itself, bundled into this page, runs the shipped models here in the
browser: no server, no network. <span id="kernels"></span></p>
<p id="status" hidden></p>
<div role="tablist">
  <button type="button" role="tab" id="tab-decode" data-tab="decode" aria-controls="panel-decode">Decode</button>
  <button type="button" role="tab" id="tab-attention" data-tab="attention" aria-controls="panel-attention">One attention, step by step</button>
</div>
<section id="panel-decode" role="tabpanel" aria-labelledby="tab-decode">
  <div class="row">
    <label>Model <select id="model-select"></select></label>
    <input id="input" type="text" spellcheck="false" autocomplete="off" aria-label="input" aria-describedby="input-error vocab">
  </div>
  <div class="row"><span id="input-error" role="alert" hidden></span></div>
  <div class="row small" id="vocab"></div>
  <div class="row"><span>Output</span> <output id="output" for="input" aria-live="polite"></output></div>
  <ol id="steps" aria-label="decoding steps"></ol>
  <div id="timing"></div>
  <div class="row">
    <label>Layer <select id="layer-select"></select></label>
    <label>Heatmap <select id="head-select"></select></label>
  </div>
  <div class="views">
    <section><h2>Cross-attention: each output step (row) over the input (columns)</h2>
      <div id="cross-heatmap"></div></section>
    <section><h2>Head view: hover a token; click a head to toggle it, double-click to keep it alone</h2>
      <div id="head-view"></div></section>
  </div>
  <section><h2>Model view: every layer and head (click one to enlarge it)</h2>
    <div id="model-view"></div></section>
  <section><h2>Neuron view: how one query's weights come about, once the decoding is done</h2>
    <div id="neuron-view"></div></section>
</section>
<section id="panel-attention" role="tabpanel" aria-labelledby="tab-attention" hidden>
  <p class="small">Scaled dot-product attention of six tokens with fixed random Q, K, V
  (d<sub>k</sub> takes their first columns), recomputed with the library on every move:
  weights = softmax(mask(Q·K<sup>T</sup> / (√d<sub>k</sub> · τ))), output = weights·V.</p>
  <div class="row">
    <label>d<sub>k</sub> <input id="dk-slider" type="range" min="1" max="16" step="1" value="4">
      <span id="dk-value"></span></label>
    <label>temperature τ <input id="temperature-slider" type="range" min="0.1" max="4" step="0.05" value="1">
      <span id="temperature-value"></span></label>
    <label><input id="mask-toggle" type="checkbox" checked> causal mask</label>
    <span class="small">scale: <span id="scale-value"></span></span>
  </div>
  <div id="walk"></div>
  <p id="walk-check" class="small"></p>
</section>
`;

/**
 * The whole page.
 *
 * @example The checkpoints and the script are inline
 * ```ts
 * import { playgroundHtml } from "./page.ts";
 * import assert from "node:assert/strict";
 * const html = playgroundHtml({ script: "void 0;", checkpoints: { reverse: "AAAA" } });
 * assert.match(html, /<script type="application\/octet-stream" data-checkpoint="reverse">AAAA</);
 * assert.doesNotMatch(html, /src=/);
 * ```
 */
export function playgroundHtml(parts: PageParts): string {
  const models = Object.entries(parts.checkpoints).map(([name, b64]) => {
    if (!/^[A-Za-z0-9+/=]*$/.test(b64)) {
      throw new RangeError(`playgroundHtml: checkpoint "${name}" must be base64`);
    }
    return `<script type="application/octet-stream" data-checkpoint="${name}">${b64}</script>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attention Lab playground</title>
<style>${STYLE}</style>
</head>
<body>
${BODY}
${models.join("\n")}
<script>${_scriptSafe(parts.script)}</script>
</body>
</html>
`;
}
