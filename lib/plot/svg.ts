/**
 * {@link figureToSvg}: a static SVG drawing of a {@link Figure}, made without
 * plotly.js, for viewers that run no scripts (GitHub, untrusted notebooks) and
 * as the offline fallback inside the HTML.
 *
 * @module
 */

import { colorAt, type ColorScale } from "./color_scale.ts";
import { _unescapeHtml, escapeHtml } from "./escape.ts";
import type { Figure, HeatmapTrace, PlotlyAxis, PlotlyLayout, ScatterTrace } from "./figure.ts";
import type { LineDash, MarkerSymbol } from "./line_plot.ts";
import { _niceTicks, _plainNumber } from "./_ticks.ts";
import { _ellipsize, _fitText, _lineHeight, _multiLineShift, _textWidth } from "./_text.ts";

/** Options of {@link figureToSvg}. */
export interface FigureToSvgOptions {
  /**
   * At most this many cells are drawn along each axis of a heatmap; larger
   * maps are averaged over blocks of cells. Default 200. Grids of several
   * heatmaps share a budget of `maxCells²` cells in total.
   */
  maxCells?: number;
}

const FONT = 12;
const TICK_FONT = 11;
const MAX_LABEL_CHARS = 24;

const r2 = (v: number) => Math.round(v * 100) / 100;
/** Plain text from a figure (stored HTML-escaped for plotly) as escaped XML text. */
const xmlText = (s: string, max = Infinity) => {
  const plain = _unescapeHtml(s);
  return escapeHtml(plain.length > max ? `${plain.slice(0, max - 1)}…` : plain);
};
/** One line of a figure's text: as stored (`raw`), and plain. */
interface TextLine {
  /** The line's pseudo-HTML, escaped, maybe with `<sup>`/`<sub>`. */
  raw: string;
  /** The plain text: tags dropped, unescaped. */
  text: string;
  /** The whole line is a `<sup>` note (drawn smaller). */
  sup: boolean;
}

/** The lines of a figure's text: split at `<br>`, other pseudo-HTML tags dropped, unescaped. */
const plainLines = (s: string): TextLine[] =>
  s.split(/<br\s*\/?>/i).map((raw) => ({
    raw,
    text: _unescapeHtml(raw.replace(/<[^>]*>/g, "")),
    sup: /^\s*<sup>/i.test(raw),
  }));

/** Several lines as one (an axis title runs on one line). */
const joinTextLines = (lines: TextLine[]): TextLine => ({
  raw: lines.map((l) => l.raw).join(" "),
  text: lines.map((l) => l.text).join(" "),
  sup: false,
});

/**
 * XML for a line drawn as `shown` (plain, as fitted) at `size`: when nothing
 * was cut, with its `<sup>`/`<sub>` as raised or lowered `<tspan>`s (the
 * builders typeset `W^Q` and `d_k` that way), else the plain text.
 */
function rich(line: TextLine | undefined, shown: string, size: number): string {
  if (!line || line.sup || line.text !== shown || !/<su[pb]>/i.test(line.raw)) {
    return escapeHtml(shown);
  }
  const parts = line.raw.split(/(<\/?su[pb]>)/i);
  let depth = 0;
  let out = "";
  for (const part of parts) {
    const tag = /^<(\/?)(su[pb])>$/i.exec(part);
    if (!tag) {
      out += escapeHtml(_unescapeHtml(part.replace(/<[^>]*>/g, "")));
    } else if (tag[1]) {
      if (depth === 0) return escapeHtml(shown); // unbalanced: a hand-made text
      depth--;
      out += "</tspan>";
    } else {
      depth++;
      const shift = tag[2].toLowerCase() === "sup" ? "super" : "sub";
      out += `<tspan baseline-shift="${shift}" font-size="${Math.round(size * 0.7)}">`;
    }
  }
  return depth === 0 ? out : escapeHtml(shown);
}

/**
 * One line of plain text that must fit `width` pixels: at `size`, else smaller
 * down to `minSize`, else cut with "…" (`cut` says so, for a tooltip).
 */
function fitLine(text: string, width: number, size: number, minSize: number) {
  const f = _fitText(text, { width, size, minSize });
  return { text: f.lines[0] ?? "", size: f.size, cut: f.truncated };
}

/** A short label for a tick value: up to 4 significant digits, no float noise, no SI prefix. */
export const _formatTick: (v: number) => string = _plainNumber;
export { _niceTicks };

interface Box {
  x0: number;
  x1: number;
  y0: number; // top, pixels
  y1: number; // bottom, pixels
}

function axisKey(id: string | undefined, letter: "x" | "y"): `${"x" | "y"}axis${string}` {
  const n = id ? id.slice(1) : "";
  return `${letter}axis${n}`;
}

function panelBox(layout: PlotlyLayout, xa: PlotlyAxis, ya: PlotlyAxis): Box {
  const { l, r, t, b } = layout.margin;
  const w = layout.width - l - r;
  const h = layout.height - t - b;
  const [dx0, dx1] = xa.domain ?? [0, 1];
  const [dy0, dy1] = ya.domain ?? [0, 1];
  return { x0: l + dx0 * w, x1: l + dx1 * w, y0: t + (1 - dy1) * h, y1: t + (1 - dy0) * h };
}

/**
 * A `<text>` element. `text` is escaped XML, or several lines (drawn as
 * `<tspan>`s, each `lineHeight` below the last); `tooltip` (escaped) becomes a
 * `<title>` child, which browsers show on hover: the full text of a cut label.
 */
function label(
  parts: string[],
  text: string | string[],
  x: number,
  y: number,
  o: {
    anchor?: string;
    size?: number;
    rotate?: number;
    bold?: boolean;
    lineHeight?: number;
    tooltip?: string;
  } = {},
) {
  const attrs = [`x="${r2(x)}"`, `y="${r2(y)}"`];
  if (o.anchor && o.anchor !== "start") attrs.push(`text-anchor="${o.anchor}"`);
  if (o.size && o.size !== FONT) attrs.push(`font-size="${o.size}"`);
  if (o.bold) attrs.push(`font-weight="bold"`);
  if (o.rotate) attrs.push(`transform="rotate(${o.rotate} ${r2(x)} ${r2(y)})"`);
  const tip = o.tooltip ? `<title>${o.tooltip}</title>` : "";
  const body = typeof text === "string"
    ? text
    : text.length === 1
    ? text[0]
    : text.map((t, i) =>
      `<tspan x="${r2(x)}"${
        i ? ` dy="${r2(o.lineHeight ?? _lineHeight(o.size ?? FONT))}"` : ""
      }>${t}</tspan>`
    ).join("");
  parts.push(`<text ${attrs.join(" ")}>${tip}${body}</text>`);
}

/** Tick labels and title of a heatmap axis. `pos(v)` maps a tick value to pixels. */
function heatmapAxis(
  parts: string[],
  axis: PlotlyAxis,
  n: number,
  box: Box,
  letter: "x" | "y",
  pos: (v: number) => number,
) {
  const vals = axis.tickvals ?? _niceTicks(0, n - 1, 6).filter(Number.isInteger);
  const texts = vals.map((v, i) =>
    axis.ticktext?.[i] !== undefined ? xmlText(axis.ticktext[i], MAX_LABEL_CHARS) : _formatTick(v)
  );
  const plainWidth = (i: number) =>
    _textWidth(
      axis.ticktext?.[i] !== undefined
        ? _unescapeHtml(axis.ticktext[i]).slice(0, MAX_LABEL_CHARS)
        : texts[i],
      TICK_FONT,
    );
  let extent = 0;
  if (axis.showticklabels !== false) {
    vals.forEach((v, i) => {
      if (v < -0.5 || v > n - 0.5) return;
      const p = pos(v);
      if (letter === "x") {
        if (axis.tickangle) {
          label(parts, texts[i], p, box.y1 + 8, {
            anchor: "end",
            size: TICK_FONT,
            rotate: axis.tickangle,
          });
        } else label(parts, texts[i], p, box.y1 + 14, { anchor: "middle", size: TICK_FONT });
      } else label(parts, texts[i], box.x0 - 5, p + 4, { anchor: "end", size: TICK_FONT });
    });
    const longest = Math.max(0, ...vals.map((_, i) => plainWidth(i)));
    extent = letter === "x" ? (axis.tickangle ? longest * 0.71 + 8 : 16) : longest + 8;
  }
  if (axis.title?.text) {
    // An axis title spans its panel (and a little of the gap), shrinking or cut beyond.
    const line = joinTextLines(plainLines(axis.title.text));
    const plain = line.text;
    const span = letter === "x" ? box.x1 - box.x0 + 12 : box.y1 - box.y0 + 12;
    const f = fitLine(plain, span, axis.title.font?.size ?? FONT, 9);
    const o = { anchor: "middle", size: f.size, tooltip: f.cut ? escapeHtml(plain) : undefined };
    const text = rich(line, f.text, f.size);
    if (letter === "x") {
      label(parts, text, (box.x0 + box.x1) / 2, box.y1 + extent + 16, o);
    } else {
      const x = box.x0 - extent - 8;
      label(parts, text, x, (box.y0 + box.y1) / 2, { ...o, rotate: -90 });
    }
  }
}

/** Draws the cells of one heatmap, averaging blocks so at most `cap` cells per axis. */
function heatmapCells(parts: string[], tr: HeatmapTrace, box: Box, reversed: boolean, cap: number) {
  const rows = tr.z.length;
  const cols = rows ? tr.z[0].length : 0;
  if (!rows || !cols) return;
  const by = Math.ceil(rows / cap);
  const bx = Math.ceil(cols / cap);
  const sx = (box.x1 - box.x0) / cols;
  const sy = (box.y1 - box.y0) / rows;
  // Cell (i, j) of the index grid is the unit square at (j, i) after this transform.
  const transform = reversed
    ? `translate(${r2(box.x0)} ${r2(box.y0)}) scale(${sx} ${sy})`
    : `translate(${r2(box.x0)} ${r2(box.y1)}) scale(${sx} ${-sy})`;
  parts.push(`<g transform="${transform}" shape-rendering="crispEdges">`);
  const span = tr.zmax - tr.zmin;
  for (let i0 = 0; i0 < rows; i0 += by) {
    const h = Math.min(by, rows - i0);
    let runStart = -1;
    let runColor = "";
    const flush = (end: number) => {
      if (runStart >= 0) {
        parts.push(
          `<rect x="${runStart}" y="${i0}" width="${
            end - runStart
          }" height="${h}" fill="${runColor}"/>`,
        );
      }
      runStart = -1;
    };
    for (let j0 = 0; j0 < cols; j0 += bx) {
      const w = Math.min(bx, cols - j0);
      let sum = 0;
      let count = 0;
      for (let i = i0; i < i0 + h; i++) {
        const row = tr.z[i];
        for (let j = j0; j < j0 + w; j++) {
          const v = row[j];
          if (v !== null && Number.isFinite(v)) {
            sum += v;
            count++;
          }
        }
      }
      const color = count ? colorAt(tr.colorscale, (sum / count - tr.zmin) / span) : "";
      // Neighbouring cells of one colour merge into one rect.
      if (color !== runColor) flush(j0);
      if (color && runStart < 0) {
        runStart = j0;
        runColor = color;
      } else if (!color) runColor = "";
    }
    flush(cols);
  }
  parts.push("</g>");
  // xgap/ygap: white lines between the cells of small maps, as plotly draws them.
  if ((tr.xgap || tr.ygap) && rows <= 200 && cols <= 200) {
    const lines: string[] = [];
    for (let j = 1; j < cols; j++) {
      const x = r2(box.x0 + j * sx);
      lines.push(`M${x} ${r2(box.y0)}V${r2(box.y1)}`);
    }
    for (let i = 1; i < rows; i++) {
      const y = r2(box.y0 + i * sy);
      lines.push(`M${r2(box.x0)} ${y}H${r2(box.x1)}`);
    }
    parts.push(`<path d="${lines.join("")}" stroke="#ffffff" stroke-width="1" fill="none"/>`);
  }
}

/**
 * The colour bar of a heatmap: right of the plotting area over its full
 * height, or, when `colorbar.x` is set (a bar per subplot), at `x`, centred on
 * `y`, `len` of the plotting area's height. A title on top takes room from the
 * bar, as in plotly; one at the side runs along it.
 */
function colorbar(parts: string[], tr: HeatmapTrace, layout: PlotlyLayout) {
  const { l, r, t, b } = layout.margin;
  const cb = tr.colorbar ?? {};
  const plotW = layout.width - l - r;
  const plotH = layout.height - t - b;
  let x = layout.width - r + 16;
  let top = t;
  let h = plotH;
  if (cb.x !== undefined) {
    const len = (cb.len ?? 1) * plotH - 2 * (cb.ypad ?? 0);
    x = l + cb.x * plotW + (cb.xpad ?? 0);
    top = t + (1 - (cb.y ?? 0.5)) * plotH - len / 2;
    h = len;
  }
  const w = cb.thickness ?? 14;
  const span = tr.zmax - tr.zmin;
  const vals = cb.tickvals ?? _niceTicks(tr.zmin, tr.zmax, 5);
  const tickText = (v: number, i: number) =>
    cb.ticktext?.[i] !== undefined ? xmlText(cb.ticktext[i]) : _formatTick(v);
  const tickW = Math.max(
    0,
    ...vals.map((v, i) =>
      _textWidth(
        cb.ticktext?.[i] !== undefined ? _unescapeHtml(cb.ticktext[i]) : _formatTick(v),
        TICK_FONT,
      )
    ),
  );
  const titleLines = cb.title?.text ? plainLines(cb.title.text) : [];
  const title = titleLines.map((line) => line.text);
  const titleSize = cb.title?.font?.size ?? TICK_FONT;
  if (title.length && cb.title?.side !== "right") {
    // Lines above the bar, left-aligned with it; each cut to the column if it must be.
    const room = Math.max(20, layout.width - x - 4);
    const lines = title.map((line) => fitLine(line, room, titleSize, 9));
    const lh = _lineHeight(titleSize);
    const cut = lines.some((f) => f.cut);
    const size = Math.min(...lines.map((f) => f.size));
    label(parts, lines.map((f, i) => rich(titleLines[i], f.text, size)), x, top + titleSize, {
      size,
      lineHeight: lh,
      tooltip: cut ? escapeHtml(title.join(" ")) : undefined,
    });
    const taken = lines.length * lh + 6;
    top += taken;
    h -= taken;
  }
  const bands = 64;
  const scale: ColorScale = tr.colorscale;
  for (let k = 0; k < bands; k++) {
    const f = (k + 0.5) / bands; // from the top (zmax) down
    const y = top + (k * h) / bands;
    parts.push(
      `<rect x="${r2(x)}" y="${r2(y)}" width="${w}" height="${r2(h / bands + 0.5)}" fill="${
        colorAt(scale, 1 - f)
      }" shape-rendering="crispEdges"/>`,
    );
  }
  parts.push(
    `<rect x="${r2(x)}" y="${r2(top)}" width="${w}" height="${
      r2(h)
    }" fill="none" stroke="#888888" stroke-width="0.5"/>`,
  );
  vals.forEach((v, i) => {
    if (v < tr.zmin - 1e-9 * span || v > tr.zmax + 1e-9 * span) return;
    const y = top + (1 - (v - tr.zmin) / span) * h;
    parts.push(
      `<line x1="${r2(x + w)}" x2="${r2(x + w + 4)}" y1="${r2(y)}" y2="${
        r2(y)
      }" stroke="#444444"/>`,
    );
    label(parts, tickText(v, i), x + w + 6, y + 4, { size: TICK_FONT });
  });
  if (title.length && cb.title?.side === "right") {
    // Turned to run down the bar, right of its tick labels. Turned by 90°, each next line
    // sits one line height further left, and the glyphs hang 0.25 em left of the baseline:
    // the first baseline goes where the last line's glyphs clear the labels by 6 px.
    const lines = title.map((line) => fitLine(line, h, titleSize, 9));
    const size = Math.min(...lines.map((f) => f.size));
    const lh = _lineHeight(size);
    const x0 = x + w + 6 + tickW + 6 + 0.25 * size + (lines.length - 1) * lh;
    const cut = lines.some((f) => f.cut);
    label(parts, lines.map((f, i) => rich(titleLines[i], f.text, size)), x0, top + h / 2, {
      anchor: "middle",
      size,
      rotate: 90,
      lineHeight: lh,
      tooltip: cut ? escapeHtml(title.join(" ")) : undefined,
    });
  }
}

/**
 * The range of a line-plot axis (log10 of the data on log axes; the axis's
 * `range` when it has one) and its ticks inside it: the axis's own
 * `tickvals`/`ticktext` when it has them (as linePlot() writes for log axes),
 * else round values.
 */
function lineScale(
  values: number[],
  axis: PlotlyAxis,
): { lo: number; hi: number; ticks: { at: number; text: string }[] } {
  const log = axis.type === "log";
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0)).map((v) =>
    log ? Math.log10(v) : v
  );
  let lo = vs.length ? Math.min(...vs) : 0;
  let hi = vs.length ? Math.max(...vs) : 1;
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  // A fixed range is already in axis units (log10 on a log axis), as plotly reads it.
  const fixed = axis.range;
  if (fixed && Number.isFinite(fixed[0]) && Number.isFinite(fixed[1]) && fixed[0] < fixed[1]) {
    [lo, hi] = fixed;
  }
  const toAxis = (v: number) => (log ? Math.log10(v) : v);
  const inside = (at: number) => at >= lo - 1e-9 * (hi - lo) && at <= hi + 1e-9 * (hi - lo);
  if (axis.tickvals?.length) {
    const ticks = axis.tickvals.map((v, i) => ({
      at: toAxis(v),
      text: axis.ticktext?.[i] !== undefined ? xmlText(axis.ticktext[i]) : _formatTick(v),
    })).filter((t) => Number.isFinite(t.at) && inside(t.at));
    return { lo, hi, ticks };
  }
  let at: number[];
  if (log) {
    at = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const m of hi - lo < 1.5 ? [1, 2, 5] : [1]) {
        const v = Math.log10(m) + e;
        if (inside(v)) at.push(v);
      }
    }
    if (at.length < 2) at = [lo, hi];
  } else at = _niceTicks(lo, hi, 6);
  return { lo, hi, ticks: at.map((v) => ({ at: v, text: _formatTick(log ? 10 ** v : v) })) };
}

/** plotly's dash patterns as `stroke-dasharray`, scaled by the line width (at least 3 px). */
export function _dashArray(dash: LineDash | undefined, width: number): string | undefined {
  const w = Math.max(width, 3);
  const pattern: Record<LineDash, number[]> = {
    solid: [],
    dot: [1, 1],
    dash: [3, 3],
    longdash: [5, 5],
    dashdot: [3, 1, 1, 1],
    longdashdot: [5, 2, 1, 2],
  };
  const p = pattern[dash ?? "solid"] ?? [];
  return p.length ? p.map((m) => m * w).join(",") : undefined;
}

/**
 * A marker of `size` pixels (its diameter, as in plotly) centred at (x, y):
 * filled, or for the `"-open"` symbols only its outline, `lineWidth` wide.
 */
export function _markerSvg(
  symbol: MarkerSymbol,
  x: number,
  y: number,
  size: number,
  color: string,
  lineWidth = 1.5,
): string {
  const open = symbol.endsWith("-open");
  const shape = symbol.replace(/-open$/, "");
  const paint = open
    ? `fill="none" stroke="${color}" stroke-width="${lineWidth}"`
    : `fill="${color}"`;
  const r = size / 2;
  const pts = (p: [number, number][]) =>
    `<path d="M${p.map(([dx, dy]) => `${r2(x + dx)} ${r2(y + dy)}`).join("L")}Z" ${paint}/>`;
  switch (shape) {
    case "square":
      return pts([[-r, -r], [r, -r], [r, r], [-r, r]]);
    case "diamond": {
      const d = r * 1.3;
      return pts([[0, -d], [d, 0], [0, d], [-d, 0]]);
    }
    case "triangle-up":
    case "triangle-down": {
      const s = shape === "triangle-up" ? 1 : -1;
      const d = r * 1.2;
      return pts([[0, -s * d], [d * 0.87, s * d * 0.5], [-d * 0.87, s * d * 0.5]]);
    }
    case "x":
    case "cross": {
      const d = r * 1.1;
      const arms = shape === "x"
        ? `M${r2(x - d)} ${r2(y - d)}L${r2(x + d)} ${r2(y + d)}M${r2(x - d)} ${r2(y + d)}L${
          r2(x + d)
        } ${r2(y - d)}`
        : `M${r2(x - d)} ${r2(y)}L${r2(x + d)} ${r2(y)}M${r2(x)} ${r2(y - d)}L${r2(x)} ${
          r2(y + d)
        }`;
      const w = open ? lineWidth : r2(r * 0.7);
      return `<path d="${arms}" stroke="${color}" stroke-width="${w}" fill="none"/>`;
    }
    default:
      return `<circle cx="${r2(x)}" cy="${r2(y)}" r="${r2(r)}" ${paint}/>`;
  }
}

/** The stroke attributes of a line trace: colour, width and dash. */
function strokeAttrs(tr: ScatterTrace): string {
  const dash = _dashArray(tr.line.dash, tr.line.width);
  return `stroke="${escapeHtml(tr.line.color)}" stroke-width="${tr.line.width}"${
    dash ? ` stroke-dasharray="${dash}"` : ""
  }`;
}

function linePanel(parts: string[], traces: ScatterTrace[], layout: PlotlyLayout) {
  const xa = layout.xaxis ?? {};
  const ya = layout.yaxis ?? {};
  const box = panelBox(layout, xa, ya);
  const logX = xa.type === "log";
  const logY = ya.type === "log";
  const nums = (vs: (number | null)[]) => vs.filter((v): v is number => v !== null);
  const sx = lineScale(traces.flatMap((t) => nums(t.x)), xa);
  const sy = lineScale(traces.flatMap((t) => nums(t.y)), ya);
  const px = (v: number) => box.x0 + ((v - sx.lo) / (sx.hi - sx.lo)) * (box.x1 - box.x0);
  const py = (v: number) => box.y1 - ((v - sy.lo) / (sy.hi - sy.lo)) * (box.y1 - box.y0);
  for (const t of sx.ticks) {
    const x = r2(px(t.at));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${r2(box.y0)}" y2="${r2(box.y1)}" stroke="#e6e6e6"/>`,
    );
    label(parts, t.text, x, box.y1 + 15, { anchor: "middle", size: TICK_FONT });
  }
  for (const t of sy.ticks) {
    const y = r2(py(t.at));
    parts.push(
      `<line x1="${r2(box.x0)}" x2="${r2(box.x1)}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`,
    );
    label(parts, t.text, box.x0 - 6, y + 4, { anchor: "end", size: TICK_FONT });
  }
  parts.push(
    `<rect x="${r2(box.x0)}" y="${r2(box.y0)}" width="${r2(box.x1 - box.x0)}" height="${
      r2(box.y1 - box.y0)
    }" fill="none" stroke="#888888"/>`,
  );
  const axisTitle = (a: PlotlyAxis) => {
    const line = joinTextLines(plainLines(a.title!.text));
    return rich(line, line.text, FONT);
  };
  if (xa.title?.text) {
    label(parts, axisTitle(xa), (box.x0 + box.x1) / 2, box.y1 + 36, { anchor: "middle" });
  }
  if (ya.title?.text) {
    label(parts, axisTitle(ya), box.x0 - 52, (box.y0 + box.y1) / 2, {
      anchor: "middle",
      rotate: -90,
    });
  }
  const legend = legendLayout(traces, layout, box);
  // With a fixed range, points may lie outside the panel: draw the traces in a nested <svg>
  // (it clips to its viewport, and its viewBox keeps the coordinates), as plotly clips them.
  const clip = xa.range !== undefined || ya.range !== undefined;
  const traceParts: string[] = clip ? [] : parts;
  const legendParts: string[] = clip ? [] : parts;
  traces.forEach((tr, k) => {
    let d = "";
    let pen = false;
    const dots: string[] = [];
    const marker = tr.mode === "lines+markers"
      ? tr.marker ?? { symbol: "circle" as const, size: 6, color: tr.line.color }
      : undefined;
    const markerColor = marker ? escapeHtml(marker.color) : "";
    const markerLine = marker?.line?.width ?? 1.5;
    for (let i = 0; i < tr.x.length; i++) {
      const x = tr.x[i];
      const y = tr.y[i];
      const ok = x !== null && y !== null && (!logX || x > 0) && (!logY || y > 0);
      if (!ok) {
        pen = false;
        continue;
      }
      const X = r2(px(logX ? Math.log10(x) : x));
      const Y = r2(py(logY ? Math.log10(y) : y));
      d += `${pen ? "L" : "M"}${X} ${Y}`;
      pen = true;
      if (marker) dots.push(_markerSvg(marker.symbol, X, Y, marker.size, markerColor, markerLine));
    }
    if (d) traceParts.push(`<path d="${d}" fill="none" ${strokeAttrs(tr)}/>`);
    traceParts.push(...dots);
    if (layout.showlegend) {
      const { x: lx, y: ly, fit, given } = legend[k];
      legendParts.push(
        `<line x1="${r2(lx)}" x2="${r2(lx + 20)}" y1="${r2(ly)}" y2="${r2(ly)}" ${
          strokeAttrs(tr)
        }/>`,
      );
      if (marker) {
        legendParts.push(
          _markerSvg(marker.symbol, lx + 10, ly, marker.size, markerColor, markerLine),
        );
      }
      label(
        legendParts,
        fit.lines.map((line, i) => rich(given[i], line, fit.size)),
        lx + 26,
        ly + 4,
        {
          size: fit.size,
          lineHeight: _lineHeight(fit.size),
          tooltip: fit.truncated
            ? escapeHtml(_unescapeHtml(tr.meta?.name ?? tr.name).replace(/<br>/g, " "))
            : undefined,
        },
      );
    }
  });
  if (clip) {
    const [x, y, w, h] = [box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0].map(r2);
    parts.push(
      `<svg x="${x}" y="${y}" width="${w}" height="${h}" viewBox="${x} ${y} ${w} ${h}" overflow="hidden">`,
      ...traceParts,
      "</svg>",
      ...legendParts,
    );
  }
}

/**
 * Legend entries right of the plot: names wrap onto two lines in the room the
 * right margin leaves (the builder sized it from the longest name), shrink a
 * little, and are cut with "…" only beyond that (the full name is the tooltip).
 */
function legendLayout(traces: ScatterTrace[], layout: PlotlyLayout, box: Box) {
  const lx = box.x1 + 14;
  const room = layout.width - (lx + 26) - 6;
  let y = box.y0 + 10;
  return traces.map((tr) => {
    const givenLines = plainLines(tr.name);
    const given = givenLines.map((line) => line.text);
    // linePlot() wraps long names itself; a name on one line (or a hand-made figure's) is fitted here.
    const shown = given.slice(0, 2).map((line) => _ellipsize(line, room, TICK_FONT));
    const fit = given.length > 1
      ? {
        lines: shown,
        size: TICK_FONT,
        // cut by the builder ("…" at the end), or here
        truncated: given.length > 2 || shown.some((line, i) => line !== given[i]) ||
          shown[shown.length - 1].endsWith("…"),
      }
      : _fitText(given[0] ?? "", { width: room, size: TICK_FONT, minSize: 10, maxLines: 2 });
    const entry = { x: lx, y, fit, given: givenLines };
    y += Math.max(18, fit.lines.length * _lineHeight(fit.size) + 5);
    return entry;
  });
}

/**
 * The figure title: where plotly puts it (`pad.t` below the top edge for the
 * builders' titles, else 26 px down), one `<tspan>` per `<br>` line; a line
 * still too wide for the figure (a hand-made title) shrinks or is cut, with
 * the full title as the tooltip.
 */
function drawTitle(parts: string[], figure: Figure) {
  const { layout } = figure;
  const title = layout.title!;
  const W = layout.width;
  const size = title.font?.size ?? 16;
  const given = plainLines(title.text);
  const lines = given.map((line) => {
    const s = line.sup ? Math.round(size * 0.75) : size;
    return fitLine(line.text, W - 16, s, Math.min(s, 10));
  });
  const lh = _lineHeight(size);
  // The first baseline: where plotly puts it for the builders' titles, else 26 px down.
  const baseline = title.yref === "container" && title.yanchor === "top"
    ? (1 - (title.y ?? 1)) * layout.height + (title.pad?.t ?? 0) -
      _multiLineShift(lines.length, size) + 0.6 * size
    : 26;
  const x = W * (title.x ?? 0.5);
  const cut = lines.some((f) => f.cut) || lines.at(-1)?.text.endsWith("…");
  const full = figure.meta.title || plainLines(title.text).map((line) => line.text).join(" ");
  const tooltip = cut ? escapeHtml(full) : undefined;
  const tspans = lines.map((f, i) =>
    `<tspan x="${r2(x)}"${i ? ` dy="${lh}"` : ""}${
      f.size !== size ? ` font-size="${f.size}"` : ""
    }>${rich(given[i], f.text, f.size)}</tspan>`
  );
  parts.push(
    `<text x="${r2(x)}" y="${r2(baseline)}" text-anchor="middle" font-size="${size}">${
      tooltip ? `<title>${tooltip}</title>` : ""
    }${tspans.join("")}</text>`,
  );
}

/**
 * Draws a {@link Figure} as a standalone SVG document, without plotly.js:
 * heatmap cells as `<rect>`s on the figure's colour scale, tick labels,
 * axis and subplot titles, the colour bar, and line traces with a legend.
 * All text is XML-escaped. Large heatmaps stay small: at most `maxCells`
 * (200) cells are drawn per axis, each the mean of a block of cells, and
 * neighbouring cells of the same colour merge into one rect, so a
 * 1000 × 1000 map is a few MB at most.
 *
 * @param figure A figure from this module's builders.
 * @param options The cell budget.
 * @returns SVG markup (well-formed XML, `xmlns` set), `layout.width` × `layout.height` pixels.
 *
 * @example Escaped tokens in a static drawing
 * ```ts
 * import { figureToSvg } from "./svg.ts";
 * import { attentionHeatmap } from "./attention_heatmap.ts";
 * import assert from "node:assert/strict";
 * const fig = attentionHeatmap([[1, 0], [0.5, 0.5]], { keyLabels: ["<s>", "a&b"] });
 * const svg = figureToSvg(fig);
 * assert.ok(svg.startsWith("<svg"));
 * assert.ok(svg.includes("&lt;s&gt;") && svg.includes("a&amp;b"));
 * assert.ok(!svg.includes("<s>"));
 * ```
 */
export function figureToSvg(figure: Figure, options: FigureToSvgOptions = {}): string {
  const { layout } = figure;
  const maxCells = options.maxCells ?? 200;
  if (!Number.isSafeInteger(maxCells) || maxCells < 1) {
    throw new RangeError(
      `figureToSvg: options.maxCells must be a positive integer, got ${maxCells}`,
    );
  }
  const W = layout.width;
  const H = layout.height;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="${FONT}" fill="#222222">`,
    `<rect width="${W}" height="${H}" fill="${layout.paper_bgcolor ?? "#ffffff"}"/>`,
  ];
  if (layout.title?.text) drawTitle(parts, figure);
  const heatmaps = figure.data.filter((t): t is HeatmapTrace => t.type === "heatmap");
  const lines = figure.data.filter((t): t is ScatterTrace => t.type === "scatter");
  // Grids share one budget of maxCells² cells, so 144 heads stay as light as one map.
  const cap = Math.max(
    1,
    Math.min(maxCells, Math.floor(maxCells / Math.sqrt(Math.max(1, heatmaps.length)))),
  );
  let scaleDrawn = false;
  for (const tr of heatmaps) {
    const xa = layout[axisKey(tr.xaxis, "x")] ?? {};
    const ya = layout[axisKey(tr.yaxis, "y")] ?? {};
    const box = panelBox(layout, xa, ya);
    const reversed = ya.autorange === "reversed";
    const rows = tr.z.length;
    const cols = rows ? tr.z[0].length : 0;
    heatmapCells(parts, tr, box, reversed, cap);
    const sx = (box.x1 - box.x0) / Math.max(1, cols);
    const sy = (box.y1 - box.y0) / Math.max(1, rows);
    heatmapAxis(parts, xa, cols, box, "x", (v) => box.x0 + (v + 0.5) * sx);
    heatmapAxis(
      parts,
      ya,
      rows,
      box,
      "y",
      (v) => (reversed ? box.y0 + (v + 0.5) * sy : box.y1 - (v + 0.5) * sy),
    );
    // One bar at the right of the plot (the first trace's), plus any placed per subplot.
    if (tr.showscale !== false && (tr.colorbar?.x !== undefined || !scaleDrawn)) {
      colorbar(parts, tr, layout);
      if (tr.colorbar?.x === undefined) scaleDrawn = true;
    }
  }
  if (lines.length) linePanel(parts, lines, layout);
  const { l, r, t, b } = layout.margin;
  for (const a of layout.annotations ?? []) {
    const x = l + a.x * (W - l - r);
    const y = t + (1 - a.y) * (H - t - b);
    const size = a.font?.size ?? FONT;
    const lh = _lineHeight(size);
    // The builders wrap subplot titles (`<br>`); a line wider than the figure is cut here.
    const given = plainLines(a.text);
    const lines = given.map((line) => _ellipsize(line.text, W - 8, size));
    const cut = lines.some((line, i) => line !== given[i].text);
    const n = lines.length;
    const dy = a.yanchor === "bottom" ? -5 - (n - 1) * lh : a.yanchor === "top" ? 12 : 4;
    const anchor = a.xanchor === "center" ? "middle" : a.xanchor === "right" ? "end" : "start";
    const tooltip = a.hovertext ? xmlText(a.hovertext) : cut ? xmlText(a.text) : undefined;
    label(parts, lines.map((line, i) => rich(given[i], line, size)), x, y + dy, {
      anchor,
      size,
      lineHeight: lh,
      tooltip,
    });
  }
  parts.push("</svg>");
  return parts.join("\n");
}
