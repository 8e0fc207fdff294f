/**
 * {@link trainingScrubber}: one layer and head's attention map over the
 * snapshots saved during training, with a slider (and a play button) to
 * scrub through the steps and the loss curve beside it.
 *
 * @module
 */

import { sequentialScale } from "../color_scale.ts";
import {
  type _Matrix,
  _toHeads,
  _toMatrix,
  type HeadsInput,
  type MatrixInput,
} from "../_matrix.ts";
import { formatShape } from "../../tensor/shape.ts";
import { AttentionView } from "./attention_view.ts";
import { _checkWeights, _index, _indexLabels, _milli, _viewLabels } from "./_encode.ts";
import { type ScrubberSpec, type SnapshotSpec, VIEW_SPEC_VERSION } from "./view_spec.ts";

/**
 * One snapshot: the training step, the loss (optional) and the attention
 * weights, in one of three forms: one map `[Tq, Tk]`; the heads of one layer
 * `[H, Tq, Tk]` (pick with `options.head`); or a list with one `[H, Tq, Tk]`
 * per layer (pick with `options.layer` and `options.head`), which is what a
 * model result's `<role>Weights` holds. A Tensor's form is read from its rank
 * (leading size-1 axes dropped); nested arrays of depth 4 are a list of layers.
 */
export interface ScrubberSnapshot {
  /** Training step. */
  step: number;
  /** Training loss at that step. */
  loss?: number;
  /** The attention weights (see above). */
  weights: MatrixInput | HeadsInput | readonly HeadsInput[];
}

/** Options of {@link trainingScrubber}. */
export interface TrainingScrubberOptions {
  /** Which layer, when snapshots hold a list of layers. Default 0. */
  layer?: number;
  /** Which head, when snapshots hold heads. Default 0. */
  head?: number;
  /** Tokens of both axes (self-attention). */
  labels?: readonly string[];
  /** Query tokens (rows). */
  queryLabels?: readonly string[];
  /** Key tokens (columns). */
  keyLabels?: readonly string[];
  /** Title above the view. */
  title?: string;
  /** Larger maps are shown as block means of at most this many rows and columns. Default 96. */
  maxCells?: number;
  /** The snapshot shown first. Default the last. */
  initial?: number;
}

const isTensorLike = (v: unknown) =>
  typeof v === "object" && v !== null && (v as { data?: unknown }).data instanceof Float32Array;
const depth = (v: unknown): number => (Array.isArray(v) ? 1 + depth(v[0]) : 0);

/** The one map a snapshot's weights select. */
function selectMap(
  w: ScrubberSnapshot["weights"],
  o: TrainingScrubberOptions,
  fn: string,
  arg: string,
): _Matrix {
  const fromHeads = (heads: _Matrix[], a: string) =>
    heads[_index(o.head, heads.length, fn, "options.head", `a head of ${a}`)];
  if (Array.isArray(w) && (isTensorLike(w[0]) || depth(w) === 4)) {
    const layers = w as readonly HeadsInput[];
    const l = _index(o.layer, layers.length, fn, "options.layer", `a layer of ${arg}`);
    return fromHeads(_toHeads(layers[l], fn, `${arg}[${l}]`), `${arg}[${l}]`);
  }
  if (isTensorLike(w)) {
    const shape = (w as { shape: readonly number[] }).shape;
    let rank = shape.length; // leading size-1 axes dropped, down to a matrix
    while (rank > 2 && shape[shape.length - rank] === 1) rank--;
    if (rank <= 2) return _toMatrix(w, fn, arg);
    return fromHeads(_toHeads(w, fn, arg), arg);
  }
  if (depth(w) === 2) return _toMatrix(w, fn, arg);
  if (depth(w) === 3) return fromHeads(_toHeads(w, fn, arg), arg);
  throw new TypeError(
    `${fn}: ${arg} must be a map [Tq, Tk], heads [H, Tq, Tk] or a list of layers of heads`,
  );
}

/** Block means of `m`: at most `max` rows and columns. */
function reduce(m: _Matrix, max: number): { cells: number[][]; br: number; bc: number } {
  const br = Math.ceil(m.rows / max), bc = Math.ceil(m.cols / max);
  const cells: number[][] = [];
  for (let i0 = 0; i0 < m.rows; i0 += br) {
    const row: number[] = [];
    for (let j0 = 0; j0 < m.cols; j0 += bc) {
      let sum = 0, n = 0;
      for (let i = i0; i < Math.min(m.rows, i0 + br); i++) {
        for (let j = j0; j < Math.min(m.cols, j0 + bc); j++) {
          sum += m.data[i * m.cols + j];
          n++;
        }
      }
      row.push(_milli(sum / n));
    }
    cells.push(row);
  }
  return { cells, br, bc };
}

/** Labels of blocks of `b` positions: the label itself when b = 1, else `"i–j"`. */
function blockLabels(labels: string[], b: number): string[] {
  if (b === 1) return labels;
  const out: string[] = [];
  for (let i = 0; i < labels.length; i += b) out.push(`${i}–${Math.min(labels.length, i + b) - 1}`);
  return out;
}

/**
 * The training scrubber: one layer and head's attention over training
 * snapshots, drawn as a heatmap (queries down, keys across) with a slider,
 * a play button and the loss curve with a marker at the shown step. The
 * input is a plain list (`{ step, loss?, weights }`), so any training loop
 * can record it; snapshots are shown in step order. The trainer's snapshots
 * (`TrainingSnapshot` of train/trainer.ts) map onto it in one line:
 * `snapshots.map((s) => ({ step: s.step, loss: s.loss, weights: s.cross }))`
 * with `queryLabels: s.target, keyLabels: s.source` (or `encoderSelf` /
 * `decoderSelf` with `labels: s.source` / `s.target`).
 *
 * @param snapshots At least one snapshot; all of one shape.
 * @param options Layer and head, labels, title, the first snapshot shown, the cell budget.
 * @returns An {@link AttentionView}; its static SVG shows up to 6 snapshots side by side.
 * @throws {RangeError} When snapshots differ in shape (the message names both), a weight
 *   is not in [0, 1], a step is not a finite number, labels do not match, or an index is out of range.
 * @throws {TypeError} When `snapshots` is not a non-empty list or a weights value has no known form.
 *
 * @example Attention sharpening over three steps
 * ```ts
 * import { trainingScrubber } from "./training_scrubber.ts";
 * import assert from "node:assert/strict";
 * const view = trainingScrubber([
 *   { step: 0, loss: 2.1, weights: [[0.5, 0.5], [0.5, 0.5]] },
 *   { step: 100, loss: 0.9, weights: [[0.8, 0.2], [0.3, 0.7]] },
 *   { step: 200, loss: 0.1, weights: [[1, 0], [0, 1]] },
 * ], { labels: ["a", "b"] });
 * assert.equal(view.spec.view, "scrubber");
 * assert.deepEqual(view.spec.snapshots[1].cells, [[800, 200], [300, 700]]);
 * ```
 */
export function trainingScrubber(
  snapshots: readonly ScrubberSnapshot[],
  options: TrainingScrubberOptions = {},
): AttentionView {
  const fn = "trainingScrubber";
  if (!Array.isArray(snapshots) || snapshots.length === 0) {
    throw new TypeError(`${fn}: snapshots must be a non-empty list of { step, loss?, weights }`);
  }
  const maxCells = options.maxCells ?? 96;
  if (!Number.isSafeInteger(maxCells) || maxCells < 1) {
    throw new RangeError(
      `${fn}: options.maxCells must be a positive integer, got ${String(options.maxCells)}`,
    );
  }
  const ordered = snapshots.map((s, i) => ({ s, i })).sort((a, b) => a.s.step - b.s.step);
  let first: _Matrix | undefined;
  let blocks = { br: 1, bc: 1 };
  const specs: SnapshotSpec[] = ordered.map(({ s, i }) => {
    const arg = `snapshots[${i}]`;
    if (typeof s !== "object" || s === null || !Number.isFinite(s.step)) {
      throw new RangeError(`${fn}: ${arg}.step must be a finite number, got ${String(s?.step)}`);
    }
    if (s.loss !== undefined && typeof s.loss !== "number") {
      throw new TypeError(`${fn}: ${arg}.loss must be a number, got ${typeof s.loss}`);
    }
    const m = selectMap(s.weights, options, fn, `${arg}.weights`);
    first ??= m;
    if (m.rows !== first.rows || m.cols !== first.cols) {
      throw new RangeError(
        `${fn}: ${arg}.weights selects a ${
          formatShape([m.rows, m.cols])
        } map, the first snapshot a ${
          formatShape([first.rows, first.cols])
        }; every snapshot must have the same [Tq, Tk]`,
      );
    }
    _checkWeights(m, fn, `${arg}.weights`, options.head ?? 0);
    const r = reduce(m, maxCells);
    blocks = r;
    return { step: s.step, loss: s.loss ?? null, cells: r.cells };
  });
  const m = first!;
  // A per-axis option wins over options.labels, and the error names the one that was given.
  const axisLabels = (
    own: readonly unknown[] | undefined,
    ownArg: string,
    n: number,
    axis: "query" | "key",
  ) =>
    _viewLabels(own ?? options.labels, n, fn, own ? ownArg : "options.labels", axis) ??
      _indexLabels(n);
  const queryLabels = axisLabels(options.queryLabels, "options.queryLabels", m.rows, "query");
  const keyLabels = axisLabels(options.keyLabels, "options.keyLabels", m.cols, "key");
  const initial = options.initial === undefined
    ? specs.length - 1
    : _index(options.initial, specs.length, fn, "options.initial", "a snapshot");
  const spec: ScrubberSpec = {
    version: VIEW_SPEC_VERSION,
    view: "scrubber",
    title: String(options.title ?? ""),
    queryLabels: blockLabels(queryLabels, blocks.br),
    keyLabels: blockLabels(keyLabels, blocks.bc),
    snapshots: specs,
    colorscale: sequentialScale(),
    initial,
  };
  return new AttentionView(
    spec,
    `${specs.length} snapshots (steps ${specs[0].step}–${
      specs.at(-1)!.step
    }) of a ${m.rows}×${m.cols} map`,
  );
}
