/**
 * Private: the neuron view's numbers for one query, from a head's spec.
 *
 * @module
 */

import type { Float32Json, NeuronHeadSpec } from "./view_spec.ts";

/** What the neuron view shows for one query of one head. */
export interface NeuronColumns {
  /** The query vector q `[Dh]`. */
  query: number[];
  /** The key vectors k `[Tk][Dh]`. */
  keys: number[][];
  /** q ∘ k, element by element, `[Tk][Dh]`. */
  products: number[][];
  /** q · k, summed in float64, `[Tk]`. */
  dot: number[];
  /** The library's scores q·k/√Dh (+ bias) `[Tk]`, float32. */
  scaled: number[];
  /** `scaled` with blocked keys at `-Infinity`. */
  masked: number[];
  /** softmax(masked) in float64; all zeros when every key is blocked (the library's rule). */
  softmax: number[];
}

const f32 = (v: Float32Json) => Math.fround(Number(v));

/**
 * The columns of query `i`: products and sums in float64 over the float32
 * values (`Math.fround` restores them from the spec's 9-digit decimals); the
 * softmax subtracts the largest allowed score. The renderer's
 * `neuronColumns` runs the same loops in the same order.
 */
export function _neuronColumns(head: NeuronHeadSpec, i: number): NeuronColumns {
  const q = head.query[i].map(f32);
  const keys = head.key.map((r) => r.map(f32));
  const scaled = head.scores[i].map(f32);
  const allowed = head.allowed[i];
  const products: number[][] = [], dot: number[] = [], masked: number[] = [];
  let m = -Infinity, any = false;
  for (let j = 0; j < keys.length; j++) {
    const p: number[] = [];
    let s = 0;
    for (let d = 0; d < q.length; d++) {
      p.push(q[d] * keys[j][d]);
      s += q[d] * keys[j][d];
    }
    products.push(p);
    dot.push(s);
    const ok = allowed.charAt(j) === "1";
    masked.push(ok ? scaled[j] : -Infinity);
    if (ok) {
      any = true;
      m = Math.max(m, scaled[j]);
    }
  }
  const e: number[] = [];
  let sum = 0;
  for (let j = 0; j < keys.length; j++) {
    const v = allowed.charAt(j) === "1" ? Math.exp(masked[j] - m) : 0;
    e.push(v);
    sum += v;
  }
  const softmax = e.map((v) => (any ? v / sum : 0));
  return { query: q, keys, products, dot, scaled, masked, softmax };
}

/**
 * The shortest decimal (up to 9 significant digits) that `Math.fround` turns
 * back into the float32 `v`: exact and about half the JSON of 17 digits.
 * NaN and ±Infinity, which JSON cannot hold, become strings that
 * `Math.fround` reads back (`"NaN"`, `"Infinity"`, `"-Infinity"`).
 */
export function _float32Json(v: number): Float32Json {
  if (!Number.isFinite(v)) return String(v) as Float32Json;
  for (let p = 4; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return Number(v.toPrecision(9));
}
