/**
 * {@link layerHeadGrid}: attention weights of every head of every layer, layers × heads.
 *
 * @module
 */

import type { Figure } from "./figure.ts";
import { _grid, _gridRange, _titles } from "./head_grid.ts";
import { _toHeads, type HeadsInput } from "./_matrix.ts";

/** Options of {@link layerHeadGrid}. */
export interface LayerHeadGridOptions {
  /** Tokens for both axes (self-attention). `queryLabels`/`keyLabels` override it. */
  labels?: readonly string[];
  /** One token per query (rows). */
  queryLabels?: readonly string[];
  /** One token per key (columns). */
  keyLabels?: readonly string[];
  /** One name per layer. Default `"layer 0"`, `"layer 1"`, …. */
  layerLabels?: readonly string[];
  /** One name per head (of the layer with the most heads). Default `"head 0"`, …. */
  headLabels?: readonly string[];
  /** Figure title. */
  title?: string;
  /** Value at the bottom of the shared colour scale. Default 0. */
  zmin?: number;
  /** Value at the top of the shared colour scale. Default 1. */
  zmax?: number;
}

/**
 * A grid with one row per layer and one column per head; subplot titles read
 * `"layer l · head h"`. All maps share one colour scale. Pass the per-head
 * weights each layer returned (`[H, Tq, Tk]` or `[1, H, Tq, Tk]` each); layers
 * with fewer heads leave empty cells.
 *
 * @param weights One tensor (or nested array) per layer.
 * @param options Token labels, layer and head names, colour range.
 * @returns A {@link Figure} with one heatmap trace per (layer, head).
 * @throws {RangeError} When `weights` is empty, a layer is not `[H, Tq, Tk]`
 *   after dropping leading size-1 axes, or a label list does not match its axis.
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
  const [zmin, zmax] = _gridRange(fn, options);
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
    ...options,
    zmin,
    zmax,
    columns: maxHeads,
    description: `${layers.length} layers × ${maxHeads} heads of ${rows}×${cols} attention weights`,
  });
}
