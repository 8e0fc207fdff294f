/**
 * Colour scales shared by the plotly figures and the static SVG renderer, so
 * both draw the same colours. Scales are computed here (interpolated in the
 * OKLab colour space between a few anchor colours), not copied from a table.
 *
 * @module
 */

/** A plotly colour scale: `[position in [0, 1], "#rrggbb"]` pairs, positions ascending. */
export type ColorScale = [number, string][];

type Rgb = [number, number, number];

function hexToRgb(hex: string): Rgb {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function rgbToHex([r, g, b]: Rgb): string {
  const c = (v: number) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, "0");
  return `#${c(r)}${c(g)}${c(b)}`;
}

// sRGB <-> linear light, then linear sRGB <-> OKLab (Björn Ottosson's published matrices).
const toLinear = (c: number) => {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
};
const fromLinear = (v: number) =>
  255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.max(v, 0) ** (1 / 2.4) - 0.055);

function rgbToOklab(rgb: Rgb): Rgb {
  const [r, g, b] = rgb.map(toLinear);
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s,
  ];
}

function oklabToRgb([L, a, b]: Rgb): Rgb {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.2914855480 * b) ** 3;
  return [
    fromLinear(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
    fromLinear(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
    fromLinear(-0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s),
  ];
}

/** Samples `steps` evenly spaced colours along anchors interpolated in OKLab. */
function perceptualScale(anchors: readonly string[], steps: number): ColorScale {
  const lab = anchors.map((h) => rgbToOklab(hexToRgb(h)));
  const out: ColorScale = [];
  for (let i = 0; i < steps; i++) {
    const t = i / (steps - 1);
    const pos = t * (lab.length - 1);
    const k = Math.min(lab.length - 2, Math.floor(pos));
    const f = pos - k;
    const mixed = lab[k].map((v, c) => v + (lab[k + 1][c] - v) * f) as Rgb;
    out.push([Number(t.toFixed(4)), rgbToHex(oklabToRgb(mixed))]);
  }
  return out;
}

/**
 * The sequential scale for attention weights and other non-negative maps:
 * dark violet (low) through blue, teal and green to yellow (high), with
 * lightness rising steadily so it reads in greyscale too.
 *
 * @returns A fresh 17-stop {@link ColorScale}.
 *
 * @example Dark at 0, light at 1
 * ```ts
 * import { sequentialScale } from "./color_scale.ts";
 * import assert from "node:assert/strict";
 * const s = sequentialScale();
 * assert.equal(s[0][0], 0);
 * assert.equal(s.at(-1)![0], 1);
 * ```
 */
export function sequentialScale(): ColorScale {
  return perceptualScale(["#2b0a4f", "#33478e", "#1f8a8c", "#58c567", "#f5e51f"], 17);
}

/**
 * The diverging scale for signed maps (scores, positional encodings, Q/K/V):
 * blue (negative) through near-white (zero) to red (positive).
 *
 * @returns A fresh 17-stop {@link ColorScale}; its middle stop is the neutral colour.
 *
 * @example The middle is light
 * ```ts
 * import { divergingScale } from "./color_scale.ts";
 * import assert from "node:assert/strict";
 * const s = divergingScale();
 * assert.equal(s[8][0], 0.5);
 * assert.match(s[8][1], /^#f/);
 * ```
 */
export function divergingScale(): ColorScale {
  return perceptualScale(["#234f9e", "#8fb3dc", "#f4f4f4", "#e39a83", "#a51f2d"], 17);
}

/**
 * The colour of `t` in [0, 1] on `scale`, interpolated linearly in RGB between
 * stops exactly as plotly.js does (values outside [0, 1] are clamped, NaN maps to 0).
 *
 * @param scale A {@link ColorScale}.
 * @param t Position on the scale.
 * @returns A `#rrggbb` colour.
 *
 * @example Ends of the scale
 * ```ts
 * import { colorAt } from "./color_scale.ts";
 * import assert from "node:assert/strict";
 * const scale: [number, string][] = [[0, "#000000"], [1, "#ffffff"]];
 * assert.equal(colorAt(scale, 0.5), "#808080");
 * assert.equal(colorAt(scale, 2), "#ffffff");
 * ```
 */
export function colorAt(scale: ColorScale, t: number): string {
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
  let i = 1;
  while (i < scale.length - 1 && scale[i][0] < x) i++;
  const [p0, c0] = scale[i - 1];
  const [p1, c1] = scale[i];
  const f = p1 > p0 ? Math.min(1, Math.max(0, (x - p0) / (p1 - p0))) : 1;
  const a = hexToRgb(c0);
  const b = hexToRgb(c1);
  return rgbToHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
}
