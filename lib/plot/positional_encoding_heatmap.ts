/**
 * {@link positionalEncodingHeatmap}: a positional encoding table `[T, D]`.
 *
 * @module
 */

import { divergingScale } from "./color_scale.ts";
import type { Figure } from "./figure.ts";
import { _heatmapFigure } from "./_heatmap_figure.ts";
import { _finite, _finiteRange, _toMatrix, type MatrixInput } from "./_matrix.ts";

/** Options of {@link positionalEncodingHeatmap}. */
export interface PositionalEncodingHeatmapOptions {
  /** Figure title. Default `"Positional encoding"`. */
  title?: string;
  /** One label per position (rows), e.g. tokens. Default: indices. */
  positionLabels?: readonly string[];
  /** Value at the bottom of the colour scale. Default `-max|pe|` (−1 for sinusoids). */
  zmin?: number;
  /** Value at the top of the colour scale. Default `max|pe|` (1 for sinusoids). */
  zmax?: number;
}

/**
 * A positional encoding table as a heatmap: one row per position (position 0
 * on top), one column per embedding dimension, on a diverging scale centred
 * on 0. For the sinusoidal encoding of Vaswani et al.,
 * $PE_{(pos, 2i)} = \sin(pos / 10000^{2i/D})$ and
 * $PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/D})$, low dimensions change fast
 * along the rows and high dimensions slowly.
 *
 * @param pe The encodings, `[T, D]` (leading size-1 axes dropped, so `[1, T, D]` works).
 * @param options Title, position labels, colour range.
 * @returns A {@link Figure} with one heatmap trace.
 * @throws {RangeError} When `pe` is not `[T, D]` after dropping leading size-1 axes.
 *
 * @example Sinusoids span [-1, 1]
 * ```ts
 * import { positionalEncodingHeatmap } from "./positional_encoding_heatmap.ts";
 * import assert from "node:assert/strict";
 * const pe = Array.from({ length: 4 }, (_, p) => [Math.sin(p), Math.cos(p)]);
 * const fig = positionalEncodingHeatmap(pe);
 * assert.equal(fig.layout.xaxis?.title?.text, "dimension");
 * assert.equal(fig.layout.yaxis?.title?.text, "position");
 * const t = fig.data[0];
 * assert.ok(t.type === "heatmap" && t.zmax === -t.zmin && t.zmax <= 1);
 * ```
 */
export function positionalEncodingHeatmap(
  pe: MatrixInput,
  options: PositionalEncodingHeatmapOptions = {},
): Figure {
  const fn = "positionalEncodingHeatmap";
  const m = _toMatrix(pe, fn, "pe");
  const [lo, hi] = _finiteRange([m]) ?? [-1, 1];
  const a = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const zmin = _finite(options.zmin, fn, "options.zmin") ?? -a;
  const zmax = _finite(options.zmax, fn, "options.zmax") ?? a;
  if (!(zmin < zmax)) {
    throw new RangeError(
      `${fn}: options.zmin must be below options.zmax, got zmin=${zmin}, zmax=${zmax}`,
    );
  }
  return _heatmapFigure({
    fn,
    description: `${m.rows} positions × ${m.cols} dimensions`,
    title: options.title ?? "Positional encoding",
    panels: [{ matrix: m }],
    columns: 1,
    yLabels: options.positionLabels,
    xLabelsArg: "options.dimensionLabels",
    yLabelsArg: "options.positionLabels",
    xTitle: "dimension",
    yTitle: "position",
    zmin,
    zmax,
    colorscale: divergingScale(),
    hover: { x: "dim", y: "pos", z: "value", zFormat: ":.4f" },
  });
}
