/**
 * The prefix-matching (induction) score of Olsson et al. (2022), "In-context
 * Learning and Induction Heads": on a sequence of random tokens that repeats,
 * how much a head attends from each token of the repeat to the token that
 * came right after the previous occurrence of the same token.
 *
 * @module
 */

import { _describe } from "../layers/_validate.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { attentionMap, perHead } from "./_attention_map.ts";

/** One query position and the key position an induction head should attend to from it. */
export interface PrefixMatchingTarget {
  /** The query position (a token with an earlier occurrence). */
  query: number;
  /** The key position: right after that earlier occurrence. */
  key: number;
}

/**
 * What {@link prefixMatchingScore} scores against: the token ids of the
 * sequence (`[T]` for every batch row, or `[B][T]`), from which every earlier
 * occurrence j of the token at i gives the target key j + 1; or the targets
 * themselves (e.g. `inductionTargets(example)` of tasks/induction.ts), shared by every row.
 */
export type PrefixMatchingSpec =
  | { ids: readonly number[] | readonly (readonly number[])[] }
  | { targets: readonly PrefixMatchingTarget[] };

/** The targets of one row of ids: for each i, key j + 1 for every j < i with ids[j] = ids[i]. */
function targetsOf(ids: readonly number[]): PrefixMatchingTarget[] {
  const out: PrefixMatchingTarget[] = [];
  for (let i = 0; i < ids.length; i++) {
    for (let j = 0; j < i; j++) if (ids[j] === ids[i]) out.push({ query: i, key: j + 1 });
  }
  return out;
}

/**
 * The prefix-matching score of each head: for each query with a target, the
 * attention mass on its target key(s) (summed when a token occurred several
 * times before), averaged over those queries and the batch rows:
 * $$\mathrm{score}_h = \frac{1}{|Q|} \sum_{i \in Q} \sum_{j < i,\ x_j = x_i} A_{h,i,j+1}$$
 * A perfect induction head scores 1 on the repeat; uniform causal attention
 * scores about 1/i.
 *
 * @param weights Self-attention weights `[H, T, T]` or `[B, H, T, T]`, entries in [0, 1].
 * @param spec `{ ids }` (the sequence, `[T]` or `[B][T]`) or `{ targets }` (query/key pairs).
 * @returns The scores `[H]`, each in [0, 1].
 * @throws {TypeError} `weights` that is not a Tensor, or a `spec` of neither form.
 * @throws {RangeError} A shape that is not `[B?, H, T, T]`, ids whose length is not T or whose
 *   rows are not B, targets outside [0, T) or with key > query, or no target at all.
 *
 * @example A perfect induction pattern scores 1
 * ```ts
 * import { prefixMatchingScore, Tensor } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const ids = [0, 5, 6, 5, 6]; // <bos> a b a b: from 3 attend to 2, from 4 attend to 3
 * const w = new Float32Array(25);
 * for (let i = 0; i < 5; i++) w[i * 5 + (i >= 3 ? i - 1 : 0)] = 1;
 * const score = prefixMatchingScore(new Tensor(w, [1, 5, 5]), { ids });
 * assert.deepEqual(Array.from(score.data), [1]);
 * ```
 */
export function prefixMatchingScore(weights: Tensor, spec: PrefixMatchingSpec): Tensor {
  const fn = "prefixMatchingScore";
  const { data, b, h, t, s } = attentionMap(weights, fn, "weights", "[B?, H, T, T]");
  if (s !== t) {
    throw new RangeError(
      `${fn}: weights must be self-attention [B?, H, T, T], got T=${t} queries and S=${s} keys`,
    );
  }
  let rows: PrefixMatchingTarget[][];
  if (spec !== null && typeof spec === "object" && "ids" in spec && Array.isArray(spec.ids)) {
    const ids = spec.ids;
    const nested = ids.length > 0 && Array.isArray(ids[0]);
    const idRows = (nested ? ids : [ids]) as readonly (readonly number[])[];
    if (nested && idRows.length !== b) {
      throw new RangeError(
        `${fn}: spec.ids has ${idRows.length} rows but weights has B=${b} (one row per batch row, ` +
          `or one flat row for all)`,
      );
    }
    rows = idRows.map((r, k) => {
      if (!Array.isArray(r) || r.length !== t) {
        throw new RangeError(
          `${fn}: spec.ids row ${k} must hold T=${t} token ids (one per query), got ${
            _describe(r)
          }`,
        );
      }
      return targetsOf(r);
    });
  } else if (
    spec !== null && typeof spec === "object" && "targets" in spec && Array.isArray(spec.targets)
  ) {
    const seen = new Set<string>();
    rows = [
      spec.targets.map((p, k) => {
        const ok = p !== null && typeof p === "object" && Number.isInteger(p.query) &&
          Number.isInteger(p.key) && p.query >= 0 && p.query < t && p.key >= 0 && p.key <= p.query;
        if (!ok) {
          throw new RangeError(
            `${fn}: spec.targets[${k}] must be { query, key } with 0 <= key <= query < T=${t} ` +
              `(a causal head sees only earlier keys), got ${_describe(p)}`,
          );
        }
        return { query: p.query, key: p.key };
      }).filter((p) => {
        // a pair listed twice counts once, so the mass per query stays <= 1
        const id = `${p.query},${p.key}`;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      }),
    ];
  } else {
    throw new TypeError(
      `${fn}: spec must be { ids: number[] | number[][] } or { targets: { query, key }[] }, got ${
        _describe(spec)
      }`,
    );
  }
  const queries = rows.map((r) => new Set(r.map((p) => p.query)).size);
  const count = rows.length === 1 ? queries[0] * b : queries.reduce((a, c) => a + c, 0);
  if (count === 0) {
    throw new RangeError(
      `${fn}: spec gives no query with a target (no token occurs twice), nothing to score`,
    );
  }
  const sums = new Float64Array(h);
  for (let bi = 0; bi < b; bi++) {
    const targets = rows.length === 1 ? rows[0] : rows[bi];
    for (let hi = 0; hi < h; hi++) {
      const base = (bi * h + hi) * t * t;
      for (const { query, key } of targets) sums[hi] += data[base + query * t + key];
    }
  }
  return perHead(sums, count);
}
