/**
 * Additive (Bahdanau) attention, the alternative the Transformer paper compares
 * dot-product attention against:
 *
 * $$e_{ij} = v^\top \tanh(W_q q_i + W_k k_j), \qquad \alpha_i = \mathrm{softmax}_j(e_{ij})$$
 *
 * @module
 */

import { softmaxRows } from "../kernels/softmax.ts";
import type { Mask } from "../tensor/mask.ts";
import { checkSize, formatShape, sizeOf } from "../tensor/shape.ts";
import { checkTensor, Tensor } from "../tensor/tensor.ts";
import { planAttention } from "./_batch.ts";
import type { AttentionResult } from "./scaled_dot_product.ts";

/** Parameters and options of {@link additiveAttention}. */
export interface AdditiveAttentionOptions {
  /** W_q, `[hidden, Dq]` (PyTorch Linear layout). */
  wQuery: Tensor;
  /** W_k, `[hidden, Dk]`. */
  wKey: Tensor;
  /** v, `[hidden]`. */
  v: Tensor;
  /** Boolean mask, `true` = may attend, broadcast against `[..., Tq, Tk]`. */
  mask?: Mask;
}

/**
 * Additive attention for query `[..., Tq, Dq]`, key `[..., Tk, Dk]`, value
 * `[..., Tk, Dv]`. Query and key may have different feature sizes (the
 * projections map both to `hidden`). Cost: O(Tq·Tk·hidden) `tanh` evaluations,
 * which is why the Transformer prefers one matrix product (dot-product attention).
 *
 * Returns `{ output, weights, scores }` like `scaledDotProductAttention` with
 * `returnScores`; fully masked rows give zeros.
 *
 * @throws {RangeError} When the parameter shapes do not fit the inputs.
 *
 * @example Identical keys get equal weight
 * ```ts
 * import { additiveAttention } from "./additive.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const q = tensor([[1, 0]]), k = tensor([[1, 1], [1, 1]]), val = tensor([[2], [4]]);
 * const { weights, output } = additiveAttention(q, k, val, {
 *   wQuery: tensor([[1, 0]]), wKey: tensor([[0, 1]]), v: tensor([1]),
 * });
 * assert.deepEqual(weights.toArray(), [[0.5, 0.5]]);
 * assert.deepEqual(output.toArray(), [[3]]);
 * ```
 */
export function additiveAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: AdditiveAttentionOptions,
): AttentionResult {
  const fn = "additiveAttention";
  if (!options || typeof options !== "object") {
    throw new TypeError(`${fn}: options with wQuery, wKey and v are required`);
  }
  const wq = checkTensor(options.wQuery, fn, "wQuery");
  const wk = checkTensor(options.wKey, fn, "wKey");
  const v = checkTensor(options.v, fn, "v");
  checkTensor(query, fn, "query");
  checkTensor(key, fn, "key");
  if (query.rank < 2 || key.rank < 2) {
    throw new RangeError(
      `${fn}: query and key need rank >= 2, got query=${formatShape(query.shape)}, key=${
        formatShape(key.shape)
      }`,
    );
  }
  const dq = query.shape[query.rank - 1];
  const dk = key.shape[key.rank - 1];
  if (v.rank !== 1) throw new RangeError(`${fn}: v must be [hidden], got ${formatShape(v.shape)}`);
  const hidden = v.shape[0];
  if (wq.rank !== 2 || wq.shape[0] !== hidden || wq.shape[1] !== dq) {
    throw new RangeError(
      `${fn}: wQuery must be [hidden=${hidden}, Dq=${dq}], got ${formatShape(wq.shape)}`,
    );
  }
  if (wk.rank !== 2 || wk.shape[0] !== hidden || wk.shape[1] !== dk) {
    throw new RangeError(
      `${fn}: wKey must be [hidden=${hidden}, Dk=${dk}], got ${formatShape(wk.shape)}`,
    );
  }
  // Additive attention projects query and key separately, so Dq may differ from Dk.
  const plan = planAttention(fn, query, key, value, options.mask, undefined, {
    sameFeatures: false,
  });
  const { batch, tq, tk, dv } = plan;
  checkSize([...batch, tq, tk], fn, "the weights [...batch, Tq, Tk] =");
  checkSize([Math.max(tq, tk), hidden], fn, "the projections [T, hidden] =");
  const n = sizeOf(batch);
  const out = new Float32Array(n * tq * dv);
  const weights = new Float32Array(n * tq * tk);
  const scores = new Float32Array(n * tq * tk);
  const pq = new Float64Array(tq * hidden);
  const pk = new Float64Array(tk * hidden);
  for (let t = 0; t < n; t++) {
    const qo = plan.qIndex[t] * tq * dq,
      ko = plan.kIndex[t] * tk * dk,
      vo = plan.vIndex[t] * tk * dv;
    // W_q q_i: [Tq, Dq] x [hidden, Dq]ᵀ -> [Tq, hidden]; likewise W_k k_j -> [Tk, hidden]
    project(query.data, qo, tq, dq, wq.data, hidden, pq);
    project(key.data, ko, tk, dk, wk.data, hidden, pk);
    const m = plan.maskView(t);
    const so = t * tq * tk;
    for (let i = 0; i < tq; i++) {
      for (let j = 0; j < tk; j++) {
        let e = 0;
        for (let h = 0; h < hidden; h++) {
          e += v.data[h] * Math.tanh(pq[i * hidden + h] + pk[j * hidden + h]);
        }
        scores[so + i * tk + j] = e;
        const blocked = m && m.data[m.offset + i * m.rowStride + j * m.colStride] === 0;
        weights[so + i * tk + j] = blocked ? -Infinity : e;
      }
    }
    softmaxRows(weights, so, tq, tk);
    // output [Tq, Dv] = weights [Tq, Tk] x V [Tk, Dv]
    for (let i = 0; i < tq; i++) {
      for (let c = 0; c < dv; c++) {
        let s = 0;
        for (let j = 0; j < tk; j++) s += weights[so + i * tk + j] * value.data[vo + j * dv + c];
        out[t * tq * dv + i * dv + c] = s;
      }
    }
  }
  return {
    output: new Tensor(out, [...batch, tq, dv]),
    weights: new Tensor(weights, [...batch, tq, tk]),
    scores: new Tensor(scores, [...batch, tq, tk]),
  };
}

function project(
  x: Float32Array,
  offset: number,
  rows: number,
  d: number,
  w: Float32Array,
  hidden: number,
  out: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    for (let h = 0; h < hidden; h++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += x[offset + i * d + c] * w[h * d + c];
      out[i * hidden + h] = s;
    }
  }
}
