/**
 * The JSON specs that the browser renderer of the attention views draws
 * (`AttentionLabViews.render(element, spec)`), written by {@link headView},
 * {@link modelView}, {@link neuronView} and {@link trainingScrubber} and
 * documented field by field here, so that a page can also build one by hand.
 *
 * Attention weights travel as **sparse rows**: for each query, the kept keys
 * and their weights as integers in thousandths, `[key0, w0, key1, w1, …]`
 * (key indices ascending). A map keeps, per query, the `topK` largest weights
 * that are at least `minWeight`; the rest are dropped (they would draw
 * invisible lines), which bounds a map of `Tq` queries to `Tq · topK` pairs
 * however long the sequence.
 *
 * @module
 */

/** Version of the spec format; the renderer draws specs of this version. */
export const VIEW_SPEC_VERSION = 1;

/**
 * One attention map `[Tq, Tk]` as sparse rows: `rows[i]` is
 * `[key, weight, key, weight, …]` for query i, weights in thousandths
 * (0.25 is 250), keys ascending.
 */
export interface SparseMapSpec {
  /** Kept (key, weight) pairs per query. */
  rows: number[][];
}

/** One kind of attention of a model (a role): its maps per layer and head and its tokens. */
export interface RoleSpec {
  /** `"encoder"`, `"decoder"`, `"cross"`, `"self"` or any other name. */
  name: string;
  /** One label per query (left column). */
  queryLabels: string[];
  /** One label per key (right column). */
  keyLabels: string[];
  /** `layers[l][h]` is the map of head h in layer l. */
  layers: SparseMapSpec[][];
}

/** What the sparse maps of a spec kept. */
export interface KeptSpec {
  /** Largest number of keys kept per query. */
  topK: number;
  /** Smallest weight kept. */
  minWeight: number;
}

/** Spec of the head view and the model view (same data, different layout). */
export interface HeadViewSpec {
  /** Spec format version ({@link VIEW_SPEC_VERSION}). */
  version: number;
  /** `"head"`: two token columns joined by lines; `"model"`: a grid of layer × head thumbnails. */
  view: "head" | "model";
  /** Title above the view (plain text). */
  title: string;
  /** The roles; the first is shown first. */
  roles: RoleSpec[];
  /** One `#rrggbb` colour per head index. */
  headColors: string[];
  /** What the maps kept. */
  kept: KeptSpec;
  /** The state shown first. */
  initial: { role: number; layer: number; heads: number[] };
}

/**
 * A float32 value in JSON: the shortest decimal that `Math.fround` turns back
 * into it, or `"NaN"`, `"Infinity"`, `"-Infinity"` (which JSON cannot hold as numbers).
 */
export type Float32Json = number | "NaN" | "Infinity" | "-Infinity";

/** The vectors and scores of one head in one layer, for the neuron view. */
export interface NeuronHeadSpec {
  /** Projected queries `[Tq][Dh]` (float32 values, 9 significant digits: `Math.fround` restores them exactly). */
  query: Float32Json[][];
  /** Projected keys `[Tk][Dh]` (the key head this query head reads). */
  key: Float32Json[][];
  /** The library's scores `Q·Kᵀ/√Dh` (+ bias) before mask and softmax, `[Tq][Tk]`, float32 as above. */
  scores: Float32Json[][];
  /** Per query, one character per key: `"1"` may attend, `"0"` blocked. */
  allowed: string[];
}

/** One role of the neuron view. */
export interface NeuronRoleSpec {
  /** Role name, as in {@link RoleSpec}. */
  name: string;
  /** One label per query. */
  queryLabels: string[];
  /** One label per key. */
  keyLabels: string[];
  /** Whether a score bias was added (then "scaled" is `q·k/√d + bias`). */
  bias: boolean;
  /** `layers[l][h]`; a layer or head left out of the view is `null`. */
  layers: (NeuronHeadSpec | null)[][];
}

/** Spec of the neuron view. */
export interface NeuronViewSpec {
  /** Spec format version. */
  version: number;
  /** `"neuron"`. */
  view: "neuron";
  /** Title above the view. */
  title: string;
  /** The roles. */
  roles: NeuronRoleSpec[];
  /** Keys listed at most; with more, the keys of the largest weights are listed. */
  maxKeys: number;
  /** The diverging colour scale `[position, "#rrggbb"]` of the vector cells (the library's). */
  colorscale: [number, string][];
  /** The state shown first. */
  initial: { role: number; layer: number; head: number; query: number };
}

/** One snapshot of the training scrubber. */
export interface SnapshotSpec {
  /** Training step. */
  step: number;
  /** Training loss at that step, or `null`. */
  loss: number | null;
  /** The map `[rows][cols]` in thousandths (block means when the map was reduced). */
  cells: number[][];
}

/** Spec of the training scrubber. */
export interface ScrubberSpec {
  /** Spec format version. */
  version: number;
  /** `"scrubber"`. */
  view: "scrubber";
  /** Title above the view. */
  title: string;
  /** Row labels (queries), one per row of `cells` (block ranges like `"0–3"` when reduced). */
  queryLabels: string[];
  /** Column labels (keys). */
  keyLabels: string[];
  /** The snapshots, in step order. */
  snapshots: SnapshotSpec[];
  /** The colour scale `[position, "#rrggbb"]` of the cells (the library's sequential scale). */
  colorscale: [number, string][];
  /** Index of the snapshot shown first. */
  initial: number;
}

/** Any view spec. */
export type ViewSpec = HeadViewSpec | NeuronViewSpec | ScrubberSpec;
