/// <reference lib="dom" />
/**
 * The playground page's script (bundled for the browser by `build.ts`): two
 * tabs, decoding with a shipped model and the attention walk-through, drawn
 * with plain DOM and SVG from {@link ./engine.ts}'s arrays. The element ids it
 * uses are listed at the top of `page.ts`.
 *
 * @module
 */

import {
  attentionWalk,
  decodeText,
  type DecodeView,
  fromBase64,
  type HeadMaps,
  headViewSpec,
  inputProblem,
  kernelPlace,
  loadModel,
  modelViewSpec,
  neuronViewSpec,
  type PlaygroundModel,
  WALK_MAX_DK,
  type WalkView,
} from "./engine.ts";
import { viewsRendererJs } from "../../lib/plot/views/views_renderer.ts";

/** Milliseconds between two revealed decoding steps. */
const STEP_MS = 70;
/** Milliseconds of quiet typing before decoding starts. */
const DEBOUNCE_MS = 200;
const SVG_NS = "http://www.w3.org/2000/svg";

/** A view drawn by the renderer of lib/plot/views (`AttentionLabViews`). */
interface ViewHandle {
  update(spec: unknown): ViewHandle;
  destroy(): void;
  /** Head view: highlight the lines of one query (null clears). */
  focus(side: "query" | "key", index: number | null): void;
  /** Head view: the role (index into the spec's roles), layer and heads shown. */
  state: { role: number };
}

/**
 * `AttentionLabViews`, the views' renderer. Its source is in this bundle
 * already (lib/plot/views holds it for `toHtml()`), so it is installed from
 * there, as an inline script, rather than put into the page a second time.
 */
function viewsApi(): { render(element: Element, spec: unknown): ViewHandle } {
  if (!("AttentionLabViews" in globalThis)) {
    const script = document.createElement("script");
    script.textContent = viewsRendererJs();
    document.head.appendChild(script); // an inline script runs as it is inserted
  }
  const api = (globalThis as {
    AttentionLabViews?: { render(element: Element, spec: unknown): ViewHandle };
  }).AttentionLabViews;
  if (!api) {
    throw new Error("playground: the views renderer (AttentionLabViews) is not in the page");
  }
  return api;
}

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: no element #${id}`);
  return el;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  parent?.appendChild(el);
  return el;
}

/** How a token is shown: spaces and specials made visible. */
function label(token: string): string {
  return token === " " ? "␣" : token;
}

/** White to dark blue for a weight in [0, 1]. */
function weightColour(w: number): string {
  const t = Math.max(0, Math.min(1, w));
  const from = [247, 251, 255], to = [8, 48, 107];
  const c = from.map((f, i) => Math.round(f + (to[i] - f) * Math.sqrt(t)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Blue (negative) to white to red (positive) for a value against `bound`. */
function signedColour(x: number, bound: number): string {
  if (!Number.isFinite(x)) return "#d9d9d9";
  const t = Math.max(-1, Math.min(1, bound > 0 ? x / bound : 0));
  const to = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(t);
  const c = to.map((v) => Math.round(255 + (v - 255) * a));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function textColour(background: string): string {
  const [r, g, b] = background.match(/\d+/g)!.map(Number);
  return 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#fff" : "#111";
}

// ------------------------------------------------------------------ tab 1: decoding

const models = new Map<string, PlaygroundModel>();

function embeddedModels(): string[] {
  return [...document.querySelectorAll<HTMLScriptElement>("script[data-checkpoint]")]
    .map((s) => s.dataset.checkpoint!);
}

function model(name: string): PlaygroundModel {
  let m = models.get(name);
  if (!m) {
    const tag = document.querySelector<HTMLScriptElement>(`script[data-checkpoint="${name}"]`)!;
    m = loadModel(name, fromBase64(tag.textContent!.trim()));
    models.set(name, m);
  }
  return m;
}

/** Mean over heads of `[head][row][col]`. */
function meanOfHeads(maps: HeadMaps): number[][] {
  return maps[0].map((row, i) =>
    row.map((_, j) => maps.reduce((s, h) => s + h[i][j], 0) / maps.length)
  );
}

/**
 * The cross-attention heatmap: one row per decoding step shown so far (the
 * token it produced on the left), one column per source token.
 */
function drawHeatmap(
  container: HTMLElement,
  view: DecodeView,
  layer: number,
  head: number | "mean",
  steps: number,
): void {
  const maps = view.cross[layer];
  const grid = head === "mean" ? meanOfHeads(maps) : maps[head];
  const cols = view.sourceTokens.length, rows = view.outputTokens.length;
  const cell = 22, left = 54, top = 40;
  const root = svg("svg", {
    width: left + cols * cell + 8,
    height: top + rows * cell + 8,
    role: "img",
    "aria-label": "cross-attention heatmap",
  });
  for (let j = 0; j < cols; j++) {
    // long labels (<eos>) slanted, so neighbours do not overlap
    const x = left + j * cell + cell / 2, y = top - 6;
    const t = svg("text", { x, y, class: "tok" }, root);
    if (label(view.sourceTokens[j]).length > 1) {
      t.setAttribute("transform", `rotate(-45 ${x} ${y})`);
    } else t.setAttribute("text-anchor", "middle");
    t.textContent = label(view.sourceTokens[j]);
  }
  for (let i = 0; i < rows; i++) {
    const t = svg("text", {
      x: left - 6,
      y: top + i * cell + cell / 2 + 4,
      "text-anchor": "end",
      class: "tok",
    }, root);
    t.textContent = i < steps ? label(view.outputTokens[i]) : "";
    for (let j = 0; j < cols; j++) {
      const w = grid[i][j];
      const r = svg("rect", {
        x: left + j * cell,
        y: top + i * cell,
        width: cell - 1,
        height: cell - 1,
        fill: i < steps ? weightColour(w) : "#f3f3f3",
        "data-row": i,
        "data-col": j,
      }, root);
      if (i < steps) {
        r.setAttribute("data-weight", w.toFixed(4));
        const title = svg("title", {}, r);
        title.textContent = `step ${i + 1} (${label(view.outputTokens[i])}) → ` +
          `${label(view.sourceTokens[j])}: ${w.toFixed(3)}`;
      }
    }
  }
  if (focusStep !== null && focusStep < steps) {
    svg("rect", {
      x: left - 1,
      y: top + focusStep * cell - 1,
      width: cols * cell + 1,
      height: cell + 1,
      fill: "none",
      stroke: "#e6550d",
      "stroke-width": 2,
      "data-focus-row": focusStep,
    }, root);
  }
  container.replaceChildren(root);
  container.dataset.layer = String(layer);
  container.dataset.head = String(head);
  container.dataset.steps = String(steps);
}

/** The step clicked in `#steps` (0-based), outlined in the heatmap and focused in the head view. */
let focusStep: number | null = null;

/** Focuses the head view on `focusStep`'s query where its role has steps as queries. */
function applyFocus(): void {
  const head = handles.get("head-view");
  // roles 0 and 1 (cross, decoder) have one query per step; the encoder's are source tokens
  if (head && head.state.role <= 1) head.focus("query", focusStep);
}

let current: DecodeView | null = null;
let shownSteps = 0;
let generation = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

/** The views' handles, by element id (updated in place as steps appear). */
const handles = new Map<string, ViewHandle>();

function showView(id: string, spec: unknown): void {
  const handle = handles.get(id);
  if (handle) handle.update(spec);
  else handles.set(id, viewsApi().render($(id), spec));
}

function dropViews(): void {
  for (const h of handles.values()) h.destroy();
  handles.clear();
}

function redraw(): void {
  const view = current;
  if (!view) return;
  const layer = Number(($("layer-select") as HTMLSelectElement).value);
  const headValue = ($("head-select") as HTMLSelectElement).value;
  const head = headValue === "mean" ? "mean" : Number(headValue);
  drawHeatmap($("cross-heatmap"), view, Math.min(layer, view.cross.length - 1), head, shownSteps);
  showView("head-view", headViewSpec(view, shownSteps));
  applyFocus();
  showView("model-view", modelViewSpec(view, shownSteps));
  const out = $("output");
  const tokens = view.outputTokens.slice(0, shownSteps);
  out.textContent = tokens.filter((t) => t !== "<eos>").join("");
  const list = $("steps");
  list.replaceChildren(
    ...tokens.map((t, i) => {
      const li = document.createElement("li");
      li.dataset.step = String(i + 1);
      li.textContent = label(t);
      li.title = `step ${i + 1}: p = ${Math.exp(view.scores[i]).toFixed(3)}; click to focus it`;
      li.tabIndex = 0;
      if (i === focusStep) li.setAttribute("aria-current", "step");
      li.addEventListener("click", () => {
        focusStep = focusStep === i ? null : i;
        redraw();
      });
      return li;
    }),
  );
}

function fillSelects(m: PlaygroundModel): void {
  const layerSel = $("layer-select") as HTMLSelectElement;
  const headSel = $("head-select") as HTMLSelectElement;
  const layers = Math.max(
    m.checkpoint.config.numDecoderLayers ?? 1,
    m.checkpoint.config.numEncoderLayers ?? 1,
  );
  layerSel.replaceChildren(
    ...Array.from({ length: layers }, (_, l) => new Option(`layer ${l}`, String(l))),
  );
  layerSel.value = String(layers - 1);
  headSel.replaceChildren(
    new Option("mean of heads", "mean"),
    ...Array.from(
      { length: m.checkpoint.config.numHeads },
      (_, h) => new Option(`head ${h}`, String(h)),
    ),
  );
  dropViews(); // another model: other layer and head counts
}

function setState(state: string): void {
  $("output").dataset.state = state;
}

function decodeNow(): void {
  const gen = ++generation;
  const name = ($("model-select") as HTMLSelectElement).value;
  const m = model(name);
  const text = ($("input") as HTMLInputElement).value;
  const error = $("input-error");
  const problem = inputProblem(m, text);
  if (problem) {
    error.textContent = problem;
    error.hidden = false;
    $("input").setAttribute("aria-invalid", "true");
    setState("invalid");
    return;
  }
  error.textContent = "";
  error.hidden = true;
  $("input").removeAttribute("aria-invalid");
  const start = performance.now();
  let view: DecodeView;
  try {
    view = decodeText(m, text);
  } catch (e) {
    error.textContent = `Decoding failed: ${(e as Error).message}`;
    error.hidden = false;
    setState("error");
    return;
  }
  const ms = performance.now() - start;
  current = view;
  shownSteps = 0;
  focusStep = null;
  $("cross-heatmap").dataset.input = text;
  $("output").dataset.input = text;
  const kernels = Object.entries(view.kernels).map(([k, n]) => `${k} ×${n}`).join(", ");
  $("timing").textContent = `${view.outputTokens.length} greedy steps with the KV cache in ` +
    `${ms.toFixed(1)} ms (${kernelPlace()}; kernel calls: ${kernels}).`;
  setState("decoding");
  const tick = () => {
    if (gen !== generation) return;
    shownSteps++;
    redraw();
    if (shownSteps < view.outputTokens.length) timer = setTimeout(tick, STEP_MS);
    else {
      $("output").dataset.text = view.text;
      showView("neuron-view", neuronViewSpec(m, view));
      $("neuron-view").dataset.input = text;
      setState("done");
    }
  };
  tick();
}

function scheduleDecode(): void {
  clearTimeout(timer);
  generation++; // stop a reveal in progress
  setState("pending");
  timer = setTimeout(decodeNow, DEBOUNCE_MS);
}

function selectModel(name: string): void {
  const m = model(name);
  fillSelects(m);
  const input = $("input") as HTMLInputElement;
  input.maxLength = m.task.maxInputChars;
  input.value = m.name === "dates" ? "3 May 1998" : "a b c d e f";
  $("vocab").textContent = `Characters: ${JSON.stringify(m.checkpoint.charVocab.chars)}; at ` +
    `most ${m.task.maxInputChars}. Trained ${m.checkpoint.training.steps} steps; validation ` +
    `exact match ${(100 * m.checkpoint.training.validationAccuracy).toFixed(1)}%.`;
  clearTimeout(timer);
  decodeNow();
}

// ------------------------------------------------------------------ tab 2: the walk-through

function format(x: number): string {
  if (x === -Infinity) return "−∞";
  if (x === Infinity) return "∞";
  return x.toFixed(2);
}

/** A matrix as a table, coloured as weights (0-1) or signed values. */
function matrixTable(
  id: string,
  title: string,
  m: number[][],
  opts: { rowLabels?: string[]; colLabels?: string[]; weights?: boolean; note?: string },
): HTMLElement {
  const box = document.createElement("figure");
  box.id = id;
  box.className = "matrix";
  const cap = document.createElement("figcaption");
  cap.innerHTML = title;
  if (opts.note) {
    const n = document.createElement("span");
    n.className = "note";
    n.textContent = opts.note;
    cap.append(" ", n);
  }
  const table = document.createElement("table");
  let bound = 0;
  for (const row of m) {
    for (const x of row) if (Number.isFinite(x)) bound = Math.max(bound, Math.abs(x));
  }
  if (opts.colLabels) {
    const tr = table.insertRow();
    tr.insertCell().textContent = "";
    for (const c of opts.colLabels) {
      const th = document.createElement("th");
      th.textContent = c;
      tr.appendChild(th);
    }
  }
  m.forEach((row, i) => {
    const tr = table.insertRow();
    const th = document.createElement("th");
    th.textContent = opts.rowLabels?.[i] ?? "";
    tr.appendChild(th);
    row.forEach((x, j) => {
      const td = tr.insertCell();
      const bg = opts.weights ? weightColour(x) : signedColour(x, bound);
      td.style.background = bg;
      td.style.color = textColour(bg);
      td.textContent = format(x);
      td.dataset.row = String(i);
      td.dataset.col = String(j);
      td.dataset.value = String(x);
    });
  });
  box.append(cap, table);
  return box;
}

function walkNow(): void {
  const dK = Number(($("dk-slider") as HTMLInputElement).value);
  const temperature = Number(($("temperature-slider") as HTMLInputElement).value);
  const mask = ($("mask-toggle") as HTMLInputElement).checked;
  const w: WalkView = attentionWalk({ dK, temperature, mask });
  $("dk-value").textContent = String(dK);
  $("temperature-value").textContent = temperature.toFixed(2);
  $("scale-value").textContent = `1/(√${dK} · ${temperature.toFixed(2)}) = ${w.scale.toFixed(4)}`;
  const t = w.tokens;
  const dims = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i + 1}`);
  const walk = $("walk");
  walk.replaceChildren(
    matrixTable("walk-q", "Q <small>[T, d<sub>k</sub>]</small>", w.q, {
      rowLabels: t,
      colLabels: dims(dK, ""),
    }),
    matrixTable("walk-k", "K <small>[T, d<sub>k</sub>]</small>", w.k, {
      rowLabels: t,
      colLabels: dims(dK, ""),
    }),
    matrixTable("walk-v", "V <small>[T, d<sub>v</sub>]</small>", w.v, {
      rowLabels: t,
      colLabels: dims(w.v[0].length, ""),
    }),
    matrixTable("walk-scores", "scores = Q·K<sup>T</sup> <small>[T, T]</small>", w.scores, {
      rowLabels: t,
      colLabels: t,
    }),
    matrixTable("walk-scaled", "scaled = scores · scale", w.scaled, {
      rowLabels: t,
      colLabels: t,
      note: `scale ${w.scale.toFixed(4)}`,
    }),
    matrixTable("walk-masked", "masked: −∞ where the mask blocks", w.masked, {
      rowLabels: t,
      colLabels: t,
      note: mask ? "causal: token i sees tokens 1..i" : "mask off",
    }),
    matrixTable("walk-weights", "weights = softmax(masked) over keys", w.weights, {
      rowLabels: t,
      colLabels: t,
      weights: true,
      note: "each row sums to 1",
    }),
    matrixTable("walk-output", "output = weights·V <small>[T, d<sub>v</sub>]</small>", w.output, {
      rowLabels: t,
      colLabels: dims(w.v[0].length, ""),
    }),
  );
  walk.dataset.dk = String(dK);
  walk.dataset.temperature = String(temperature);
  walk.dataset.mask = String(mask);
  $("walk-check").textContent = "The same operands through the fused " +
    "scaledDotProductAttention: weights and output differ from the steps above by at most " +
    (w.fusedDifference === 0 ? "0: the same bits." : `${w.fusedDifference.toExponential(1)}.`);
}

// ------------------------------------------------------------------ wiring

function showTab(name: string): void {
  for (const tab of document.querySelectorAll<HTMLElement>("[role=tab]")) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(on));
    $(`panel-${tab.dataset.tab}`).hidden = !on;
  }
}

function main(): void {
  const names = embeddedModels();
  const select = $("model-select") as HTMLSelectElement;
  select.replaceChildren(...names.map((n) => new Option(n, n)));
  select.value = names.includes("dates") ? "dates" : names[0];
  select.addEventListener("change", () => selectModel(select.value));
  $("input").addEventListener("input", scheduleDecode);
  for (const id of ["layer-select", "head-select"]) $(id).addEventListener("change", redraw);
  for (const tab of document.querySelectorAll<HTMLElement>("[role=tab]")) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab!));
  }
  ($("dk-slider") as HTMLInputElement).max = String(WALK_MAX_DK);
  for (const id of ["dk-slider", "temperature-slider", "mask-toggle"]) {
    $(id).addEventListener("input", walkNow);
  }
  $("kernels").textContent = kernelPlace();
  showTab("decode");
  selectModel(select.value);
  walkNow();
  document.body.dataset.ready = "true";
}

/**
 * The engine, for scripts and for the Deno test that runs this bundle
 * outside a page (and compares it with the library run by Deno).
 */
(globalThis as { AttentionLabPlayground?: unknown }).AttentionLabPlayground = {
  attentionWalk,
  decodeText,
  fromBase64,
  headViewSpec,
  inputProblem,
  kernelPlace,
  loadModel,
  modelViewSpec,
  neuronViewSpec,
};

if (typeof document !== "undefined") {
  try {
    main();
  } catch (e) {
    const status = document.getElementById("status");
    if (status) {
      status.textContent = `The playground failed to start: ${(e as Error).message}`;
      status.hidden = false;
    }
    document.body.dataset.ready = "error";
    throw e;
  }
}
