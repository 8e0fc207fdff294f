/**
 * {@link layerHeadGrid}: attention weights of every head of every layer, layers × heads.
 *
 * @module
 */

import type { Figure } from "./figure.ts";
import { _attentionAxes, _grid, _titles, type HeadGridOptions } from "./head_grid.ts";
import { _toHeads, type HeadsInput } from "./_matrix.ts";

/**
 * Options of {@link layerHeadGrid}: those of {@link HeadGridOptions} (labels, colour
 * scale, axis titles) without `columns` (one row per layer), plus layer names.
 */
export interface LayerHeadGridOptions extends Omit<HeadGridOptions, "columns"> {
  /** One name per layer. Default `"layer 0"`, `"layer 1"`, …. */
  layerLabels?: readonly string[];
  /** One name per head (of the layer with the most heads). Default `"head 0"`, …. */
  headLabels?: readonly string[];
}

/**
 * A grid with one row per layer and one column per head; subplot titles read
 * `"layer l · head h"`. All maps share one colour scale. Pass the per-head
 * weights each layer returned (`[H, Tq, Tk]` or `[1, H, Tq, Tk]` each); layers
 * with fewer heads leave empty cells. Attention weights get the range [0, 1];
 * other values (per-head scores) the range of the data, on a diverging scale
 * centred on 0 when they have both signs, as in `headGrid()`.
 *
 * @param weights One tensor (or nested array) per layer.
 * @param options Token labels, layer and head names, colour range and scale, titles.
 * @returns A {@link Figure} with one heatmap trace per (layer, head).
 * @throws {RangeError} When `weights` is empty, a layer is not `[H, Tq, Tk]`
 *   after dropping leading size-1 axes, a label list does not match its axis, or
 *   `zmin` is not below `zmax`.
 * @throws {TypeError} When `colorscale` is not a scale name or `[position, colour]` pairs.
 *
 * @example Two layers of two heads
 * ```ts
 * import { layerHeadGrid } from "./layer_head_grid.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const layer = tensor([[[1, 0], [0.5, 0.5]], [[0, 1], [1, 0]]]); // [H=2, 2, 2]
 * const fig = layerHeadGrid([layer, layer]);
 * assert.equal(fig.data.length, 4);
 * assert.equal(fig.layout.annotations?.[3].text, "layer 1 · head 1");
 * ```
 *
 * @example Scores of two layers on one range, with named axes
 * ```ts
 * import { layerHeadGrid } from "./layer_head_grid.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const a = tensor([[[3, 1], [0, 2]]]); // [H=1, 2, 2]
 * const b = tensor([[[5, 2], [1, 4]]]);
 * const fig = layerHeadGrid([a, b], { colorbarTitle: "score", xTitle: "source" });
 * const trace = fig.data[0];
 * assert.ok(trace.type === "heatmap");
 * assert.deepEqual([trace.zmin, trace.zmax], [0, 5]);
 * assert.equal(fig.layout.xaxis2?.title?.text, "source");
 * ```
 */
export function layerHeadGrid(
  weights: readonly HeadsInput[],
  options: LayerHeadGridOptions = {},
): Figure {
  const fn = "layerHeadGrid";
  if (!Array.isArray(weights) || weights.length === 0) {
    throw new RangeError(
      `${fn}: weights must be a non-empty array with one [H, Tq, Tk] tensor per layer`,
    );
  }
  const layers = weights.map((w, l) => _toHeads(w, fn, `weights[${l}]`));
  const maxHeads = Math.max(...layers.map((hs) => hs.length));
  const layerNames = _titles(
    options.layerLabels,
    layers.length,
    fn,
    "options.layerLabels",
    "layer",
  );
  const headNames = _titles(options.headLabels, maxHeads, fn, "options.headLabels", "head");
  const panels = layers.flatMap((hs, l) =>
    hs.map((matrix, h) => ({ matrix, title: `${layerNames[l]} · ${headNames[h]}`, row: l, col: h }))
  );
  const { rows, cols } = layers[0][0] ?? { rows: 0, cols: 0 };
  return _grid(fn, panels, {
    ..._attentionAxes(options),
    title: options.title,
    columns: maxHeads,
    color: options,
    weights: true,
    colorbarTitle: options.colorbarTitle,
    description: (what) => `${layers.length} layers × ${maxHeads} heads of ${rows}×${cols} ${what}`,
  });
}
