/**
 * Private: approximate text measurement and fitting, so that titles, subplot
 * titles, colour-bar titles and legend names fit their space both in plotly
 * and in the static SVG, which cannot ask a browser how wide text is.
 *
 * Widths are those of DejaVu Sans, the `sans-serif` of most Linux systems and
 * the widest of the common defaults (Helvetica and Arial are about 10%
 * narrower), so text measured here fits everywhere.
 *
 * @module
 */

import { escapeHtml } from "./escape.ts";
import type { PlotlyTitle } from "./figure.ts";

// Advance widths in em of DejaVu Sans, printable ASCII from " " (0x20) to "~" (0x7e).
// deno-fmt-ignore
const ASCII_EM = [
  0.318, 0.401, 0.46, 0.838, 0.636, 0.95, 0.78, 0.275, 0.39, 0.39, 0.5, 0.838, 0.318, 0.361,
  0.318, 0.337, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.337,
  0.337, 0.838, 0.838, 0.838, 0.531, 1.0, 0.684, 0.686, 0.698, 0.77, 0.632, 0.575, 0.775,
  0.752, 0.295, 0.295, 0.656, 0.557, 0.863, 0.748, 0.787, 0.603, 0.787, 0.695, 0.635, 0.611,
  0.732, 0.684, 0.989, 0.685, 0.611, 0.685, 0.39, 0.337, 0.39, 0.838, 0.5, 0.5, 0.613, 0.635,
  0.55, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974, 0.634, 0.612,
  0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525, 0.636, 0.337,
  0.636, 0.838,
];

/** Em width of one code point outside ASCII. */
function wideEm(c: number): number {
  // CJK, Hangul, full-width forms and emoji take a full em (or more).
  if (
    (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || c >= 0x1f000
  ) return 1.0;
  if (c === 0x2026 || c === 0x2014) return 1.0; // … —
  if (c >= 0x300 && c <= 0x36f) return 0; // combining marks
  if (c === 0xb7) return 0.318; // ·
  return 0.7; // Latin-1, Greek, Cyrillic, arrows and maths: mostly 0.6 to 0.84 em
}

/** Approximate width in pixels of plain `text` drawn at `sizePx` in a sans-serif font. */
export function _textWidth(text: string, sizePx: number): number {
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    em += c >= 0x20 && c <= 0x7e ? ASCII_EM[c - 0x20] : c < 0x20 ? 0 : wideEm(c);
  }
  return em * sizePx;
}

// `^Q`, `^{2k}`, `^−0.5` after a character; `_k`, `_model`, `_{i,j}`, `_(l−1)` after a one-letter word.
const SCRIPT =
  /(?<=\S)\^(?:\{([^{}]+)\}|([−-]?[\p{L}\p{N}]+(?:\.\p{N}+)?))|(?<![\p{L}\p{N}_])(\p{L})_(?:\{([^{}]+)\}|(\([^()]+\))|([\p{L}\p{N}]+))/gu;

/**
 * Plain text as plotly's pseudo-HTML, escaped, with the caret and underscore
 * notation of formulas typeset instead of shown literally: `W^Q`, `d^−0.5`,
 * `x^{2k}` become superscripts, `d_k`, `d_model`, `h_{i,j}`, `x_(l−1)`
 * subscripts. An underscore counts only after a one-letter word, so
 * `key_padding_mask` stays as it is. The builders use it for titles, axis and
 * colour-bar titles and series names; token labels are only escaped.
 */
export function _markup(text: string): string {
  let out = "";
  let at = 0;
  for (const m of text.matchAll(SCRIPT)) {
    out += escapeHtml(text.slice(at, m.index));
    if (m[1] !== undefined || m[2] !== undefined) {
      out += `<sup>${escapeHtml(m[1] ?? m[2])}</sup>`;
    } else out += `${escapeHtml(m[3])}<sub>${escapeHtml(m[4] ?? m[5] ?? m[6])}</sub>`;
    at = m.index + m[0].length;
  }
  return out + escapeHtml(text.slice(at));
}

/** How {@link _fitText} should fit a text. */
export interface _FitOptions {
  /** Room for each line, in pixels. */
  width: number;
  /** Preferred font size in pixels. */
  size: number;
  /** Smallest acceptable font size; sizes between are tried in steps of 1 px. Default `size`. */
  minSize?: number;
  /** Most lines to wrap onto. Default 1. */
  maxLines?: number;
}

/** A fitted text: plain lines, the font size, and whether the text had to be cut. */
export interface _Fitted {
  lines: string[];
  size: number;
  truncated: boolean;
}

/** `text` cut to fit `width` at `size`, ending in "…" (at least one character is kept). */
export function _ellipsize(text: string, width: number, size: number): string {
  if (_textWidth(text, size) <= width) return text;
  const chars = [...text.trimEnd()];
  let n = chars.length;
  while (n > 1 && _textWidth(chars.slice(0, n).join("").trimEnd() + "…", size) > width) n--;
  return chars.slice(0, n).join("").trimEnd() + "…";
}

/**
 * Greedy word wrap of `text` into lines no wider than `width`; a word wider
 * than a line is broken between characters. Returns every line (maybe more
 * than the caller allows).
 */
function wrap(text: string, width: number, size: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (_textWidth(candidate, size) <= width) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = "";
    // A word longer than a line: break it between characters.
    let rest = word;
    while (_textWidth(rest, size) > width) {
      const chars = [...rest];
      let n = 1;
      while (n < chars.length && _textWidth(chars.slice(0, n + 1).join(""), size) <= width) n++;
      lines.push(chars.slice(0, n).join(""));
      rest = chars.slice(n).join("");
    }
    line = rest;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Fits plain `text` into `maxLines` lines of `width` pixels: first at `size`
 * on one line, then wrapped onto more lines, then at smaller sizes down to
 * `minSize`; only if nothing fits is the last line cut with an ellipsis.
 */
export function _fitText(text: string, o: _FitOptions): _Fitted {
  const maxLines = Math.max(1, o.maxLines ?? 1);
  const minSize = Math.min(o.size, o.minSize ?? o.size);
  const width = Math.max(1, o.width);
  const plain = text.replace(/\s+/g, " ").trim();
  if (_textWidth(plain, o.size) <= width) return { lines: [plain], size: o.size, truncated: false };
  // Wrapping keeps the font size; shrinking comes after more lines, so a title stays legible.
  for (let size = o.size; size >= minSize; size--) {
    const lines = wrap(plain, width, size);
    if (lines.length <= maxLines) return { lines, size, truncated: false };
  }
  const all = wrap(plain, width, minSize);
  const lines = all.slice(0, maxLines - 1);
  lines.push(_ellipsize(all.slice(maxLines - 1).join(" "), width, minSize));
  return { lines, size: minSize, truncated: true };
}

/** Line height in pixels of text at `size`. */
export const _lineHeight = (size: number): number => Math.ceil(size * 1.3); // plotly's spacing

/**
 * Distance in pixels from the top edge of a figure to its title: plotly's
 * mode bar (zoom, pan, save) sits in the band above, 2 to 25 px down at the right.
 */
export const _TITLE_TOP = 32;
/** Title font size in pixels, and the smallest it shrinks to before being cut. */
const TITLE_PX = 16;
const TITLE_MIN_PX = 12;

/**
 * plotly draws a title of several lines with `yanchor: "top"` about 0.7 em
 * higher than a one-line title (measured with plotly.js 4 in Chromium); the
 * builders add that to `pad.t`, and `figureToSvg()` takes it off again.
 */
export const _multiLineShift = (lines: number, size: number): number =>
  lines > 1 ? Math.round(0.7 * size) : 0;

/**
 * Where the builders put a figure title of `lines` lines (keeps the `text`
 * and `font` of `title`, if any): its top `_TITLE_TOP` px below the figure's top edge.
 */
export function _titleLayout(title: PlotlyTitle | undefined, lines: number): PlotlyTitle {
  const size = title?.font?.size ?? TITLE_PX;
  return {
    text: title?.text ?? "",
    font: { size },
    x: 0.5,
    y: 1,
    yref: "container",
    yanchor: "top",
    pad: { t: _TITLE_TOP + _multiLineShift(lines, size) },
  };
}

/**
 * A figure title fitted to `width` pixels (up to 3 lines, 16 px shrinking to
 * 12 px, cut with "…" only beyond that), and the top margin it needs: the
 * band for the mode bar, the title lines and a gap of `gap` pixels.
 */
export function _figureTitle(
  title: string,
  width: number,
  gap = 12,
): { title: PlotlyTitle; height: number; truncated: boolean } {
  const fit = _fitText(title, { width, size: TITLE_PX, minSize: TITLE_MIN_PX, maxLines: 3 });
  const text = fit.lines.map(_markup).join("<br>");
  return {
    title: _titleLayout({ text, font: { size: fit.size } }, fit.lines.length),
    height: _TITLE_TOP + fit.lines.length * _lineHeight(fit.size) + gap,
    truncated: fit.truncated,
  };
}
