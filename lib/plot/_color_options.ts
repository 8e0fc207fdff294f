/**
 * Private: the colour options shared by the heatmap builders (`zmin`, `zmax`,
 * `colorscale`), resolved against the data.
 *
 * @module
 */

import { type ColorScale, divergingScale, sequentialScale } from "./color_scale.ts";
import { _finite, _finiteRange, type _Matrix } from "./_matrix.ts";

/** The colour options a heatmap builder accepts. */
export interface _ColorOptions {
  zmin?: number;
  zmax?: number;
  colorscale?: "sequential" | "diverging" | ColorScale;
}

/** A checked colour range and scale. */
export interface _Color {
  zmin: number;
  zmax: number;
  colorscale: ColorScale;
  /** The data lie in [0, 1] and were read as probabilities (attention weights). */
  probabilities: boolean;
}

/** Checks `options.colorscale`; returns the name or the scale. */
export function _checkColorscale(
  scale: unknown,
  fn: string,
): "sequential" | "diverging" | ColorScale | undefined {
  if (scale === undefined || scale === "sequential" || scale === "diverging") return scale;
  const ok = Array.isArray(scale) && scale.length >= 2 &&
    scale.every((s) =>
      Array.isArray(s) && s.length === 2 && typeof s[0] === "number" && s[0] >= 0 && s[0] <= 1 &&
      typeof s[1] === "string"
    );
  if (!ok) {
    throw new TypeError(
      `${fn}: options.colorscale must be "sequential", "diverging" or [position, colour] pairs, got ${
        JSON.stringify(scale)?.slice(0, 80)
      }`,
    );
  }
  return scale as ColorScale;
}

/**
 * The colour range and scale of `matrices` from `o`. Defaults:
 * - `weights` and every finite value in [0, 1]: attention weights, the fixed
 *   range [0, 1] on the sequential scale, so maps of different heads compare;
 * - values of both signs: the diverging scale, symmetric about 0 (0 is the
 *   neutral colour);
 * - otherwise the sequential scale over the finite values.
 *
 * An explicit `zmin`/`zmax` wins; a constant map gets a range of ±0.5 around it.
 * Throws a RangeError naming `fn` when `zmin` is not below `zmax`.
 */
export function _resolveColor(
  fn: string,
  matrices: readonly _Matrix[],
  o: _ColorOptions,
  weights = false,
): _Color {
  let zmin = _finite(o.zmin, fn, "options.zmin");
  let zmax = _finite(o.zmax, fn, "options.zmax");
  let scale = _checkColorscale(o.colorscale, fn);
  const range = _finiteRange(matrices);
  const probabilities = weights && (range === undefined || (range[0] >= 0 && range[1] <= 1));
  // float32 data: 7 significant digits drop the noise (0.1f is 0.10000000149011612).
  const [lo, hi] = (probabilities ? [0, 1] : range ?? [0, 1]).map((v) => Number(v.toPrecision(7)));
  scale ??= lo < 0 && hi > 0 ? "diverging" : "sequential";
  if (scale === "diverging" && zmin === undefined && zmax === undefined) {
    const a = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    [zmin, zmax] = [-a, a];
  }
  zmin ??= lo;
  zmax ??= hi;
  // A constant map still needs a range (unless both ends were given).
  if (zmin === zmax && (o.zmin === undefined || o.zmax === undefined)) {
    [zmin, zmax] = [zmin - 0.5, zmax + 0.5];
  }
  if (!(zmin < zmax)) {
    throw new RangeError(
      `${fn}: options.zmin must be below options.zmax, got zmin=${zmin}, zmax=${zmax}`,
    );
  }
  const colorscale = scale === "diverging"
    ? divergingScale()
    : scale === "sequential"
    ? sequentialScale()
    : scale;
  return { zmin, zmax, colorscale, probabilities };
}
