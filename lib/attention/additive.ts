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
import { type AttentionPlan, INSPECT_HINT, planAttention } from "./_batch.ts";
import { recordInspection, recordOp } from "../tensor/op.ts";
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
 * `returnScores`; fully masked rows give zeros. The output records its
 * gradient w.r.t. query, key, value, wQuery, wKey and v (autograd; the
 * weights and scores are values only); a masked key and a fully masked row
 * get gradient 0.
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
  const inputs = [query, key, value, wq, wk, v];
  const output = recordOp(
    fn,
    inputs,
    new Tensor(out, [...batch, tq, dv]),
    (g) => additiveBackward(plan, inputs, g),
  );
  // weights and scores are for inspection: a loss that uses them throws in backward
  const inspect = (what: string, data: Float32Array) =>
    recordInspection(`${fn} ${what}`, inputs, new Tensor(data, [...batch, tq, tk]), INSPECT_HINT);
  return { output, weights: inspect("weights", weights), scores: inspect("scores", scores) };
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

/**
 * dL/d(query, key, value, W_q, W_k, v) from dL/d(output), in float64, the
 * weights recomputed from the projections (nothing `[Tq, Tk]` is kept from
 * the forward). With a_i = W_q q_i, b_j = W_k k_j, t_ijh = tanh(a_ih + b_jh):
 *
 *   dP_ij = dO_i·v_j (value row j), dE_ij = P_ij (dP_ij − Σ_j' P_ij' dP_ij'),
 *   dV_j = Σ_i P_ij dO_i, dv_h = Σ_ij dE_ij t_ijh,
 *   da_ih = Σ_j dE_ij v_h (1 − t_ijh²), db_jh = Σ_i (same),
 *   dq_i = W_qᵀ da_i, dW_q = Σ_i da_i q_iᵀ (likewise k, W_k).
 *
 * Broadcast operands sum over the batch elements that share them.
 */
function additiveBackward(plan: AttentionPlan, inputs: Tensor[], g: Tensor): Tensor[] {
  const [query, key, value, wq, wk, v] = inputs;
  const { batch, tq, tk, dv } = plan;
  const dq = query.shape[query.rank - 1], dk = key.shape[key.rank - 1], hidden = v.shape[0];
  const grads = inputs.map((x) => new Float64Array(x.size));
  const [gQuery, gKey, gValue, gWq, gWk, gV] = grads;
  const pq = new Float64Array(tq * hidden), pk = new Float64Array(tk * hidden);
  const da = new Float64Array(tq * hidden), db = new Float64Array(tk * hidden);
  const p = new Float64Array(tk), dp = new Float64Array(tk);
  for (let t = 0; t < sizeOf(batch); t++) {
    const qo = plan.qIndex[t] * tq * dq, ko = plan.kIndex[t] * tk * dk;
    const vo = plan.vIndex[t] * tk * dv, go = t * tq * dv;
    project(query.data, qo, tq, dq, wq.data, hidden, pq);
    project(key.data, ko, tk, dk, wk.data, hidden, pk);
    da.fill(0);
    db.fill(0);
    const m = plan.maskView(t);
    for (let i = 0; i < tq; i++) {
      // P_i = softmax_j(e_ij) over the keys query i may see (zeros when it sees none)
      let max = -Infinity;
      for (let j = 0; j < tk; j++) {
        const blocked = m && m.data[m.offset + i * m.rowStride + j * m.colStride] === 0;
        let e = -Infinity;
        if (!blocked) {
          e = 0;
          for (let h = 0; h < hidden; h++) {
            e += v.data[h] * Math.tanh(pq[i * hidden + h] + pk[j * hidden + h]);
          }
        }
        p[j] = e;
        if (e > max) max = e;
      }
      if (max === -Infinity) continue;
      let sum = 0;
      for (let j = 0; j < tk; j++) sum += p[j] = Math.exp(p[j] - max);
      // dP_ij = dO_i·v_j and D_i = Σ_j P_ij dP_ij, over the visible keys only
      let D = 0;
      for (let j = 0; j < tk; j++) {
        p[j] /= sum;
        if (p[j] === 0) continue;
        let s = 0;
        for (let c = 0; c < dv; c++) s += g.data[go + i * dv + c] * value.data[vo + j * dv + c];
        dp[j] = s;
        D += p[j] * s;
      }
      for (let j = 0; j < tk; j++) {
        if (p[j] === 0) continue;
        for (let c = 0; c < dv; c++) gValue[vo + j * dv + c] += p[j] * g.data[go + i * dv + c];
        const dE = p[j] * (dp[j] - D);
        for (let h = 0; h < hidden; h++) {
          const th = Math.tanh(pq[i * hidden + h] + pk[j * hidden + h]);
          gV[h] += dE * th;
          const d = dE * v.data[h] * (1 - th * th);
          da[i * hidden + h] += d;
          db[j * hidden + h] += d;
        }
      }
    }
    backProject(query.data, qo, tq, dq, wq.data, hidden, da, gQuery, gWq);
    backProject(key.data, ko, tk, dk, wk.data, hidden, db, gKey, gWk);
  }
  return grads.map((x, i) => new Tensor(Float32Array.from(x), inputs[i].shape));
}

/** Through y = W x per row: dx_i += Wᵀ dy_i (at `offset`), dW += Σ_i dy_i x_iᵀ. */
function backProject(
  x: Float32Array,
  offset: number,
  rows: number,
  d: number,
  w: Float32Array,
  hidden: number,
  dy: Float64Array,
  dx: Float64Array,
  dw: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    for (let h = 0; h < hidden; h++) {
      const gy = dy[i * hidden + h];
      if (gy === 0) continue;
      for (let c = 0; c < d; c++) {
        dx[offset + i * d + c] += gy * w[h * d + c];
        dw[h * d + c] += gy * x[offset + i * d + c];
      }
    }
  }
}
