/**
 * Private: static SVG drawings of the views, made in TypeScript without a
 * browser, with the renderer's layout (the renderer draws the interactive
 * version; these are what script-free viewers and `toSvg()` show).
 *
 * @module
 */

import { colorAt } from "../color_scale.ts";
import { escapeHtml } from "../escape.ts";
import { _neuronColumns } from "./_neuron_math.ts";
import type {
  HeadViewSpec,
  NeuronViewSpec,
  RoleSpec,
  ScrubberSpec,
  SparseMapSpec,
  ViewSpec,
} from "./view_spec.ts";

/** "encoder attention", but a role already called "attention" is not "attention attention". */
function roleTitle(name: string): string {
  return /attention$/i.test(name) ? name : `${name} attention`;
}

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";
const BUCKETS = 8;

type Attrs = Record<string, string | number | undefined>;

/** An element with escaped attributes and (escaped) text, or raw children. */
function el(tag: string, attrs: Attrs, inner?: { text?: string; raw?: string }): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeHtml(String(v))}"`)
    .join("");
  const body = inner?.text !== undefined ? escapeHtml(inner.text) : inner?.raw ?? "";
  return body === "" && inner === undefined ? `<${tag}${a}/>` : `<${tag}${a}>${body}</${tag}>`;
}

const clip = (s: string, n: number) => {
  const v = String(s);
  return v.length > n ? `${v.slice(0, n - 1)}…` : v;
};
/**
 * A token's text element, holding its exact text; a whitespace-only token would draw
 * nothing, so a small bracket (like U+2423) is drawn under it, as the renderer does.
 */
function label(attrs: Attrs, text: string): string {
  const t = el("text", attrs, { text });
  if (!/^\s+$/.test(text)) return t;
  const size = Number(attrs["font-size"] ?? 11), w = size * 0.6 * text.length;
  const x = Number(attrs.x), y = Number(attrs.y);
  const a = attrs["text-anchor"] ?? "start";
  const x0 = a === "end" ? x - w : a === "middle" ? x - w / 2 : x;
  return t + el("path", {
    "data-al-mark": "",
    d: `M${x0.toFixed(1)} ${(y + 1).toFixed(1)}v3h${w.toFixed(1)}v-3`,
    fill: "none",
    stroke: "#888",
    "stroke-width": 1,
    transform: attrs.transform,
  });
}
/** `width`, widened so that each `[text, font size]` placed at x = 8 fits. */
const fit = (width: number, ...texts: [string, number][]) =>
  Math.max(width, ...texts.map(([t, size]) => 16 + textWidth(t, size)));
const textWidth = (s: string, size: number) => s.length * size * 0.62;
const maxWidth = (labels: readonly string[], size: number, cap: number) =>
  Math.ceil(Math.max(0, ...labels.map((l) => textWidth(clip(l, cap), size))));
const bucketOf = (w: number) => Math.max(1, Math.min(BUCKETS, Math.ceil(w * BUCKETS)));
const f1 = (v: number) => v.toFixed(1);

function fmt(v: number, digits = 3): string {
  if (v === -Infinity) return "−∞";
  if (v === Infinity) return "∞";
  if (Number.isNaN(v)) return "NaN";
  const s = v.toFixed(digits);
  return s.startsWith("-") ? `−${s.slice(1)}` : s;
}

function svgDoc(width: number, height: number, body: string[]): string {
  const w = Math.ceil(width), h = Math.ceil(height);
  return `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${
    escapeHtml(FONT)
  }"><rect width="${w}" height="${h}" fill="#ffffff"/>${body.join("")}</svg>`;
}

/** Decoded sparse rows: per query, keys and weights in [0, 1]. */
function decode(map: SparseMapSpec): { k: number[]; w: number[] }[] {
  return map.rows.map((r) => {
    const k: number[] = [], w: number[] = [];
    for (let j = 0; j + 1 < r.length; j += 2) {
      k.push(r[j]);
      w.push(r[j + 1] / 1000);
    }
    return { k, w };
  });
}

/** One head-view panel (two token columns and the heads' lines), as the renderer's headPanel. */
function headPanel(
  role: RoleSpec,
  maps: SparseMapSpec[],
  heads: readonly number[],
  colors: readonly string[],
  gap = 180,
): { body: string; width: number; height: number } {
  const tq = role.queryLabels.length, tk = role.keyLabels.length;
  const n = Math.max(tq, tk);
  // Beyond 128 tokens the static image is squeezed to about 1536 px tall and labels every
  // `every`-th token (its PNG in a notebook stays small); the interactive view scrolls instead.
  const rowH = n > 128 ? Math.max(2, 1536 / n) : n > 64 ? 12 : 20;
  const size = n > 64 ? 10 : 12, cap = 18;
  const every = Math.ceil(11 / rowH);
  const lw = maxWidth(role.queryLabels, size, cap) + 8;
  const rw = maxWidth(role.keyLabels, size, cap) + 8;
  const x1 = lw, x2 = lw + gap;
  const y = (i: number) => 4 + (i + 0.5) * rowH;
  const out: string[] = [];
  // Beyond 64 tokens a static image keeps each query's 4 strongest lines of weight >= 0.02
  // (the interactive view draws all kept ones): a 512-token head stays near 100 KB of SVG.
  const long = n > 64;
  for (const h of heads) {
    const d: string[][] = Array.from({ length: BUCKETS + 1 }, () => []);
    decode(maps[h]).forEach((r, i) => {
      const order = r.w.map((_, m) => m);
      if (long) order.sort((a, b) => r.w[b] - r.w[a]).splice(4);
      for (const m of order) {
        if (long && r.w[m] < 0.02) continue;
        d[bucketOf(r.w[m])].push(`M${x1} ${f1(y(i))}L${x2} ${f1(y(r.k[m]))}`);
      }
    });
    for (let b = 1; b <= BUCKETS; b++) {
      if (!d[b].length) continue;
      out.push(el("path", {
        "data-al": "lines",
        "data-head": h,
        "data-bucket": b,
        d: d[b].join(""),
        fill: "none",
        stroke: colors[h],
        "stroke-width": 2,
        "stroke-opacity": (b / BUCKETS).toFixed(3),
        "stroke-linecap": "round",
      }));
    }
  }
  const column = (labels: readonly string[], x: number, anchor: "end" | "start") => {
    for (let i = 0; i < labels.length; i += every) {
      out.push(label({
        x: anchor === "end" ? x - 6 : x + 6,
        y: f1(y(i)),
        "text-anchor": anchor,
        "dominant-baseline": "central",
        "font-size": size,
        "font-family": MONO,
        fill: "#222",
      }, clip(labels[i], cap)));
    }
  };
  column(role.queryLabels, x1, "end");
  column(role.keyLabels, x2, "start");
  return { body: out.join(""), width: x2 + rw, height: n * rowH + 8 };
}

const title = (text: string) =>
  text
    ? el("text", { x: 8, y: 16, "font-size": 14, "font-weight": 600, fill: "#222" }, { text })
    : "";

function headSvg(spec: HeadViewSpec): string {
  const { role: ri, layer, heads } = spec.initial;
  const role = spec.roles[ri];
  const top = spec.title ? 24 : 4;
  const H = role.layers[layer].length;
  const subtitle = `${roleTitle(role.name)}, layer ${layer}${
    role.layers.length > 1 ? ` of ${role.layers.length}` : ""
  }`;
  const body = [
    title(spec.title),
    el("text", { x: 8, y: top + 12, "font-size": 12, fill: "#444" }, { text: subtitle }),
    el("text", { x: 8, y: top + 31, "font-size": 12, fill: "#444" }, { text: "heads" }),
  ];
  for (let h = 0; h < H; h++) {
    const on = heads.includes(h);
    body.push(el("rect", {
      "data-al": "head-toggle",
      "data-head": h,
      x: 50 + h * 22,
      y: top + 22,
      width: 16,
      height: 16,
      rx: 3,
      fill: on ? spec.headColors[h] : "#ffffff",
      stroke: spec.headColors[h],
      "stroke-width": 2,
    }));
  }
  const p = headPanel(role, role.layers[layer], heads, spec.headColors);
  body.push(el("g", { transform: `translate(8,${top + 48})` }, { raw: p.body }));
  const width = Math.max(p.width + 16, 50 + H * 22 + 8, 260);
  return svgDoc(fit(width, [spec.title, 14], [subtitle, 12]), p.height + top + 52, body);
}

function modelSvg(spec: HeadViewSpec): string {
  const role = spec.roles[spec.initial.role];
  const L = role.layers.length, H = role.layers[0].length;
  const tq = role.queryLabels.length, tk = role.keyLabels.length;
  const tw = 72, th = Math.max(60, Math.min(140, 4 * Math.max(tq, tk))), pad = 14;
  const top = spec.title ? 24 : 4, left = 60, head = 34;
  const body = [
    title(spec.title),
    el("text", { x: 8, y: top + 12, "font-size": 12, fill: "#444" }, {
      text: `${roleTitle(role.name)}: layers × heads`,
    }),
  ];
  for (let h = 0; h < H; h++) {
    body.push(el("text", {
      x: left + h * (tw + pad) + tw / 2,
      y: top + head - 6,
      "text-anchor": "middle",
      "font-size": 11,
      fill: spec.headColors[h],
    }, { text: `head ${h}` }));
  }
  for (let l = 0; l < L; l++) {
    const y = top + head + l * (th + pad);
    body.push(el("text", {
      x: left - 8,
      y: y + th / 2,
      "text-anchor": "end",
      "dominant-baseline": "central",
      "font-size": 11,
      fill: "#444",
    }, { text: `layer ${l}` }));
    for (let h = 0; h < H; h++) {
      const x = left + h * (tw + pad);
      const parts = [el("rect", {
        x: x - 3,
        y: y - 3,
        width: tw + 6,
        height: th + 6,
        fill: "#fff",
        stroke: "#ddd",
      })];
      const d: string[][] = Array.from({ length: BUCKETS + 1 }, () => []);
      const dq = th / Math.max(tq, 1), dk = th / Math.max(tk, 1);
      decode(role.layers[l][h]).forEach((r, i) => {
        // As the renderer: each query's 4 strongest lines of weight >= 0.05.
        const order = r.w.map((_, m) => m).sort((a, b) => r.w[b] - r.w[a]).slice(0, 4);
        for (const m of order) {
          if (r.w[m] < 0.05) continue;
          d[bucketOf(r.w[m])].push(
            `M${x} ${f1(y + (i + 0.5) * dq)}L${x + tw} ${f1(y + (r.k[m] + 0.5) * dk)}`,
          );
        }
      });
      for (let b = 1; b <= BUCKETS; b++) {
        if (!d[b].length) continue;
        parts.push(el("path", {
          "data-al": "lines",
          "data-bucket": b,
          d: d[b].join(""),
          fill: "none",
          stroke: spec.headColors[h],
          "stroke-width": 1.2,
          "stroke-opacity": (b / BUCKETS).toFixed(3),
        }));
      }
      body.push(el("g", { "data-al": "thumb", "data-layer": l, "data-head": h }, {
        raw: parts.join(""),
      }));
    }
  }
  return svgDoc(
    fit(left + H * (tw + pad) + 8, [spec.title, 14], [
      `${roleTitle(role.name)}: layers × heads`,
      12,
    ]),
    top + head + L * (th + pad) + 8,
    body,
  );
}

function neuronSvg(spec: NeuronViewSpec): string {
  const { role: ri, layer, head, query } = spec.initial;
  const role = spec.roles[ri];
  const hs = role.layers[layer]?.[head];
  if (!hs) {
    return svgDoc(360, 40, [
      el("text", { x: 8, y: 24, "font-size": 13, fill: "#a00" }, {
        text: "this layer or head was left out of the view",
      }),
    ]);
  }
  const c = _neuronColumns(hs, query);
  const dh = c.query.length, tk = c.keys.length;
  let order = Array.from({ length: tk }, (_, j) => j);
  let note = "";
  if (tk > spec.maxKeys) {
    order = order.sort((a, b) => c.softmax[b] - c.softmax[a] || a - b).slice(0, spec.maxKeys)
      .sort((a, b) => a - b);
    note = `the ${spec.maxKeys} keys of largest weight, of ${tk}`;
  }
  const cw = Math.max(3, Math.min(12, Math.floor(240 / Math.max(dh, 1))));
  const rowH = 16, size = 11, cap = 14;
  const top = spec.title ? 24 : 4;
  const lw = maxWidth(role.keyLabels, size, cap) + 10;
  const x = 8 + lw, y0 = top + 56, vecW = dh * cw;
  const X = { k: x, qk: x + vecW + 16, dot: 0, scaled: 0, masked: 0, softmax: 0 };
  X.dot = X.qk + vecW + 16;
  X.scaled = X.dot + 62;
  X.masked = X.scaled + 62;
  X.softmax = X.masked + 62;
  const subtitle = `${roleTitle(role.name)}, layer ${layer}, head ${head}, query ${query} “${
    clip(role.queryLabels[query], 24)
  }”${note ? ` — ${note}` : ""}`;
  const body = [
    title(spec.title),
    el("text", { x: 8, y: top + 12, "font-size": 12, fill: "#444" }, { text: subtitle }),
  ];
  const headings: [keyof typeof X, string][] = [
    ["k", "k"],
    ["qk", "q ∘ k"],
    ["dot", "q · k"],
    ["scaled", role.bias ? "/√d + bias" : "q·k/√d"],
    ["masked", "masked"],
    ["softmax", "softmax"],
  ];
  for (const [k, t] of headings) {
    body.push(
      el("text", { x: X[k], y: y0 - 22, "font-size": 11, "font-weight": 600, fill: "#333" }, {
        text: t,
      }),
    );
  }
  const maxAbs = (rows: number[][]) =>
    rows.reduce((m, r) => r.reduce((a, v) => Math.max(a, Math.abs(v)), m), 0) || 1;
  const kMax = Math.max(maxAbs(order.map((j) => c.keys[j])), maxAbs([c.query]));
  const pMax = maxAbs(order.map((j) => c.products[j]));
  const cell = (v: number, max: number) => colorAt(spec.colorscale, 0.5 + v / (2 * max));
  body.push(el("text", {
    x: x - 6,
    y: y0 - 8,
    "text-anchor": "end",
    "dominant-baseline": "central",
    "font-size": size,
    "font-family": MONO,
  }, { text: "q" }));
  for (let d = 0; d < dh; d++) {
    for (const x0 of [X.k, X.qk]) {
      body.push(el("rect", {
        x: x0 + d * cw,
        y: y0 - 14,
        width: cw,
        height: 12,
        fill: cell(c.query[d], kMax),
      }));
    }
  }
  order.forEach((j, r) => {
    const y = y0 + r * rowH;
    const parts = [label({
      x: x - 6,
      y: y + rowH / 2,
      "text-anchor": "end",
      "dominant-baseline": "central",
      "font-size": size,
      "font-family": MONO,
    }, clip(role.keyLabels[j], cap))];
    const vectors = [[X.k, c.keys[j], kMax], [X.qk, c.products[j], pMax]] as const;
    for (let d = 0; d < dh; d++) {
      for (const [x0, v, max] of vectors) {
        parts.push(el("rect", {
          x: x0 + d * cw,
          y: y + 2,
          width: cw,
          height: rowH - 4,
          fill: cell(v[d], max),
        }));
      }
    }
    for (
      const [k, v] of [["dot", c.dot[j]], ["scaled", c.scaled[j]], ["masked", c.masked[j]]] as const
    ) {
      parts.push(el("text", {
        "data-al": "cell",
        "data-col": k,
        x: X[k] + 52,
        y: y + rowH / 2,
        "text-anchor": "end",
        "dominant-baseline": "central",
        "font-size": size,
        "font-family": MONO,
        fill: k === "masked" && v === -Infinity ? "#999" : "#222",
      }, { text: fmt(v) }));
    }
    const p = c.softmax[j];
    parts.push(
      el("rect", { x: X.softmax, y: y + 3, width: 80, height: rowH - 6, fill: "#f0f0f0" }),
      el("rect", {
        "data-al": "cell",
        "data-col": "softmax",
        x: X.softmax,
        y: y + 3,
        width: (80 * (Number.isNaN(p) ? 0 : p)).toFixed(2),
        height: rowH - 6,
        fill: "#3b6fb6",
      }),
      el("text", {
        x: X.softmax + 86,
        y: y + rowH / 2,
        "dominant-baseline": "central",
        "font-size": size,
        "font-family": MONO,
      }, { text: fmt(p) }),
    );
    body.push(el("g", { "data-al": "neuron-row", "data-key": j }, { raw: parts.join("") }));
  });
  return svgDoc(
    fit(X.softmax + 130, [spec.title, 14], [subtitle, 12]),
    y0 + order.length * rowH + 10,
    body,
  );
}

/** Block means of thousandth cells down to at most `max` per axis. */
function shrink(cells: number[][], max: number): number[][] {
  const rows = cells.length, cols = rows ? cells[0].length : 0;
  const br = Math.ceil(rows / max), bc = Math.ceil(cols / max);
  if (br === 1 && bc === 1) return cells;
  const out: number[][] = [];
  for (let i0 = 0; i0 < rows; i0 += br) {
    const row: number[] = [];
    for (let j0 = 0; j0 < cols; j0 += bc) {
      let s = 0, n = 0;
      for (let i = i0; i < Math.min(rows, i0 + br); i++) {
        for (let j = j0; j < Math.min(cols, j0 + bc); j++) {
          s += cells[i][j];
          n++;
        }
      }
      row.push(s / n);
    }
    out.push(row);
  }
  return out;
}

function scrubberSvg(spec: ScrubberSpec): string {
  const n = spec.snapshots.length;
  const k = Math.min(6, n);
  // Evenly spaced snapshots, first and last included.
  const picks = [
    ...new Set(
      Array.from({ length: k }, (_, i) => Math.round(k === 1 ? n - 1 : (i * (n - 1)) / (k - 1))),
    ),
  ];
  const maps = picks.map((i) => shrink(spec.snapshots[i].cells, 32));
  const rows = maps[0].length, cols = rows ? maps[0][0].length : 0;
  const reduced = rows !== spec.snapshots[0].cells.length;
  const cell = Math.max(2, Math.min(16, Math.floor(200 / Math.max(rows, cols, 1))));
  const size = 11, cap = 12;
  const labels = cell >= 8 && !reduced;
  const lw = labels ? maxWidth(spec.queryLabels, size, cap) + 10 : 10;
  const lh = labels ? maxWidth(spec.keyLabels, size, cap) + 10 : 10;
  const top = (spec.title ? 24 : 4) + 22;
  const panelW = cols * cell + 16;
  const body = [
    title(spec.title),
    el("text", { x: 8, y: top - 8, "font-size": 12, fill: "#444" }, {
      text: `${n} training snapshots${picks.length < n ? `, ${picks.length} shown` : ""}${
        reduced ? " (block means)" : ""
      }`,
    }),
  ];
  const x00 = 8 + lw, y0 = top + lh + 16;
  if (labels) {
    spec.queryLabels.forEach((t, i) =>
      body.push(label({
        x: x00 - 4,
        y: y0 + (i + 0.5) * cell,
        "text-anchor": "end",
        "dominant-baseline": "central",
        "font-size": size,
        "font-family": MONO,
      }, clip(t, cap)))
    );
  }
  maps.forEach((m, p) => {
    const sn = spec.snapshots[picks[p]];
    const x0 = x00 + p * panelW;
    body.push(el("text", { x: x0, y: y0 - lh - 4, "font-size": 11, fill: "#444" }, {
      text: `step ${sn.step}${sn.loss === null ? "" : `, loss ${fmt(sn.loss, 3)}`}`,
    }));
    if (labels) {
      spec.keyLabels.forEach((t, j) => {
        const xx = x0 + (j + 0.5) * cell;
        body.push(label({
          x: f1(xx),
          y: y0 - 4,
          transform: `rotate(-90 ${f1(xx)} ${y0 - 4})`,
          "dominant-baseline": "central",
          "font-size": size,
          "font-family": MONO,
        }, clip(t, cap)));
      });
    }
    const cells: string[] = [];
    m.forEach((row, i) =>
      row.forEach((v, j) =>
        cells.push(
          `<rect x="${x0 + j * cell}" y="${y0 + i * cell}" width="${cell}" height="${cell}" fill="${
            colorAt(spec.colorscale, v / 1000)
          }"/>`,
        )
      )
    );
    body.push(el("g", { "data-al": "snapshot", "data-step": sn.step }, { raw: cells.join("") }));
  });
  return svgDoc(fit(x00 + maps.length * panelW + 8, [spec.title, 14]), y0 + rows * cell + 12, body);
}

/** The static SVG of a view spec. */
export function _viewSvg(spec: ViewSpec): string {
  switch (spec.view) {
    case "head":
      return headSvg(spec);
    case "model":
      return modelSvg(spec);
    case "neuron":
      return neuronSvg(spec);
    case "scrubber":
      return scrubberSvg(spec);
  }
}
