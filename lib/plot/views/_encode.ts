/**
 * Private: checking attention maps and writing them into view specs (sparse
 * rows in thousandths, label lists, head colours).
 *
 * @module
 */

import { formatShape } from "../../tensor/shape.ts";
import { _labels, type _Matrix, _toHeads, type HeadsInput } from "../_matrix.ts";
import type { KeptSpec, RoleSpec, SparseMapSpec } from "./view_spec.ts";

/** One kind of attention of a model, for {@link headView} and {@link modelView}. */
export interface AttentionRole {
  /** `"encoder"`, `"decoder"`, `"cross"`, `"self"`, or any name (shown in the role selector). */
  name: string;
  /** One `[H, Tq, Tk]` map (or `[1, H, Tq, Tk]`) per layer; every layer of a role has the same shape. */
  layers: readonly HeadsInput[];
  /** One label per query (left column). Default `"0"`, `"1"`, …. */
  queryLabels?: readonly string[];
  /** One label per key (right column). Default: `queryLabels` when Tq = Tk, else `"0"`, `"1"`, …. */
  keyLabels?: readonly string[];
}

/** A role with its maps checked: `maps[l][h]`. */
export interface _Role {
  name: string;
  maps: _Matrix[][];
  queryLabels: string[];
  keyLabels: string[];
  heads: number;
  tq: number;
  tk: number;
}

const shapeOf = (m: _Matrix[]) => formatShape([m.length, m[0]?.rows ?? 0, m[0]?.cols ?? 0]);

/** Checks a role: its layers share `[H, Tq, Tk]`, weights are finite and in [0, 1], labels fit. */
export function _checkRole(role: AttentionRole, fn: string, arg: string): _Role {
  if (typeof role !== "object" || role === null || !Array.isArray(role.layers)) {
    throw new TypeError(`${fn}: ${arg} must be { name, layers, queryLabels?, keyLabels? }`);
  }
  if (role.layers.length === 0) {
    throw new RangeError(`${fn}: ${arg}.layers is empty; give one [H, Tq, Tk] map per layer`);
  }
  const maps = role.layers.map((l, i) => _toHeads(l, fn, `${arg}.layers[${i}]`));
  const first = maps[0];
  if (first.length === 0) throw new RangeError(`${fn}: ${arg}.layers[0] holds no heads (H = 0)`);
  maps.forEach((layer, i) => {
    if (
      layer.length !== first.length || layer[0].rows !== first[0].rows ||
      layer[0].cols !== first[0].cols
    ) {
      throw new RangeError(
        `${fn}: ${arg}.layers[${i}] has shape ${shapeOf(layer)}, layers[0] has ${
          shapeOf(first)
        }; every layer of a role must have the same [H, Tq, Tk]`,
      );
    }
    layer.forEach((m, h) => _checkWeights(m, fn, `${arg}.layers[${i}]`, h));
  });
  const tq = first[0].rows, tk = first[0].cols;
  const queryLabels = _viewLabels(role.queryLabels, tq, fn, `${arg}.queryLabels`, "query") ??
    _indexLabels(tq);
  const keyLabels = _viewLabels(role.keyLabels, tk, fn, `${arg}.keyLabels`, "key") ??
    (tq === tk && role.queryLabels ? queryLabels : _indexLabels(tk));
  return {
    name: String(role.name ?? "attention"),
    maps,
    queryLabels,
    keyLabels,
    heads: first.length,
    tq,
    tk,
  };
}

/** Checks optional labels: one per query (or key), converted to strings. */
export function _viewLabels(
  labels: readonly unknown[] | undefined,
  n: number,
  fn: string,
  arg: string,
  axis: "query" | "key",
): string[] | undefined {
  return _labels(labels, n, fn, arg, axis, axis === "query" ? "queries" : "keys");
}

/** The default labels of an axis with `n` positions: "0", "1", ... */
export const _indexLabels = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

/** Attention weights must be finite and in [0, 1]: a NaN is reported, never drawn as nothing. */
export function _checkWeights(m: _Matrix, fn: string, arg: string, head: number): void {
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) {
      const w = m.data[i * m.cols + j];
      if (!(w >= 0 && w <= 1)) {
        throw new RangeError(
          `${fn}: ${arg} head ${head} has weight ${w} at query ${i}, key ${j}; attention weights must be finite numbers in [0, 1]`,
        );
      }
    }
  }
}

/** Checks `topK` (positive integer) and `minWeight` (in [0, 1)) with their defaults. */
export function _kept(
  o: { topK?: number; minWeight?: number },
  tk: number,
  fn: string,
): KeptSpec {
  // Up to 64 keys every line is kept; beyond, 16 per query keep a 512-token map near 60 KB.
  const topK = o.topK ?? (tk <= 64 ? Math.max(tk, 1) : 16);
  if (!Number.isSafeInteger(topK) || topK < 1) {
    throw new RangeError(`${fn}: options.topK must be a positive integer, got ${String(o.topK)}`);
  }
  const minWeight = o.minWeight ?? 0.001;
  if (typeof minWeight !== "number" || !(minWeight >= 0 && minWeight < 1)) {
    throw new RangeError(`${fn}: options.minWeight must be in [0, 1), got ${String(o.minWeight)}`);
  }
  return { topK, minWeight };
}

/** A weight in thousandths, as the spec stores it. */
export const _milli = (w: number): number => Math.round(w * 1000);

/**
 * The sparse rows of one map: per query the `topK` largest weights that are
 * at least `minWeight` and do not round to 0, keys ascending.
 */
export function _sparseMap(m: _Matrix, kept: KeptSpec): SparseMapSpec {
  const rows: number[][] = [];
  const order: number[] = [];
  for (let i = 0; i < m.rows; i++) {
    const off = i * m.cols;
    order.length = 0;
    for (let j = 0; j < m.cols; j++) {
      const w = m.data[off + j];
      if (w >= kept.minWeight && _milli(w) > 0) order.push(j);
    }
    if (order.length > kept.topK) {
      // Largest first; ties keep the earlier key, so the choice is deterministic.
      order.sort((a, b) => m.data[off + b] - m.data[off + a] || a - b);
      order.length = kept.topK;
      order.sort((a, b) => a - b);
    }
    const row: number[] = [];
    for (const j of order) row.push(j, _milli(m.data[off + j]));
    rows.push(row);
  }
  return { rows };
}

/** The spec of a checked role. */
export function _roleSpec(r: _Role, kept: KeptSpec): RoleSpec {
  return {
    name: r.name,
    queryLabels: r.queryLabels,
    keyLabels: r.keyLabels,
    layers: r.maps.map((layer) => layer.map((m) => _sparseMap(m, kept))),
  };
}

/**
 * `n` distinct head colours: hues a golden angle apart (so neighbours differ
 * most), at a lightness that reads on white and as a thin line.
 */
export function _headColors(n: number): string[] {
  return Array.from({ length: n }, (_, h) => hslHex((h * 137.508 + 210) % 360, 0.68, 0.45));
}

function hslHex(hue: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255).toString(16).padStart(2, "0");
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** Checks an index option in [0, n). */
export function _index(v: unknown, n: number, fn: string, arg: string, what: string): number {
  if (v === undefined) return 0;
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) >= n) {
    throw new RangeError(
      `${fn}: ${arg} must be an integer in [0, ${n}) (${what}), got ${String(v)}`,
    );
  }
  return v as number;
}

/**
 * The index of the role `options.role` names (a name, or an index checked by
 * {@link _index}) among `roles`; the first when it is undefined.
 */
export function _roleIndex(
  role: string | number | undefined,
  roles: readonly { name: string }[],
  fn: string,
): number {
  if (typeof role !== "string") return _index(role, roles.length, fn, "options.role", "a role");
  const i = roles.findIndex((r) => r.name === role);
  if (i < 0) {
    throw new RangeError(
      `${fn}: options.role "${role}" is not one of ${roles.map((r) => `"${r.name}"`).join(", ")}`,
    );
  }
  return i;
}
