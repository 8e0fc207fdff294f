/**
 * Private helpers: validate attention operands and walk their broadcast batch.
 *
 * @module
 */

import type { AttentionInputs, MatrixView } from "../kernels/attention_inputs.ts";
import type { Mask } from "../tensor/mask.ts";
import { checkScoresOperand } from "./check_scores_operand.ts";
import {
  broadcastIndex,
  broadcastShapes,
  checkSize,
  formatShape,
  sizeOf,
} from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";
import { describeValue } from "../tensor/describe.ts";

/** Sizes and per-batch offsets of a validated attention call. */
export interface AttentionPlan {
  batch: number[];
  tq: number;
  tk: number;
  dk: number;
  dv: number;
  /** For batch element t: index of the q/k/v matrix in its own batch. */
  qIndex: Int32Array;
  kIndex: Int32Array;
  vIndex: Int32Array;
  maskView: (t: number) => MatrixView<Uint8Array> | null;
  biasView: (t: number) => MatrixView<Float32Array> | null;
}

/**
 * Checks a mask or bias of `[..., Tq', Tk']` (Tq' ∈ {1, Tq}, Tk' ∈ {1, Tk}) with
 * {@link checkScoresOperand} against the scores `[...batch', Tq, Tk]`, where its
 * own leading axes may enlarge the batch; returns those axes and its strides.
 */
function scoresOperand(
  fn: string,
  arg: string,
  operand: Mask | Tensor,
  batch: readonly number[],
  tq: number,
  tk: number,
  kind: "mask" | "bias",
): { batch: number[]; rq: number; rk: number } {
  const shape = operand.shape;
  const own = shape.length >= 2 ? shape.slice(0, -2) : [];
  // the operand's batch axes may broadcast the batch up; its Tq', Tk' may not
  const n = Math.max(batch.length, own.length);
  const grown = Array.from({ length: n }, (_, i) => {
    const a = batch[batch.length - n + i] ?? 1, b = own[own.length - n + i] ?? 1;
    return a === 1 ? b : a;
  });
  checkScoresOperand(fn, arg, operand, [...grown, tq, tk], undefined, kind);
  const sk = shape.length >= 1 ? shape[shape.length - 1] : 1;
  const sq = shape.length >= 2 ? shape[shape.length - 2] : 1;
  return { batch: own, rq: sq === 1 ? 0 : (sk === 1 ? 1 : tk), rk: sk === 1 ? 0 : 1 };
}

/** Validates q, k, v, mask and bias and plans the batch walk. */
export function planAttention(
  fn: string,
  query: Tensor,
  key: Tensor,
  value: Tensor,
  mask: Mask | undefined,
  bias: Tensor | undefined,
  { sameFeatures = true }: { sameFeatures?: boolean } = {},
): AttentionPlan {
  checkTensor(query, fn, "query");
  checkTensor(key, fn, "key");
  checkTensor(value, fn, "value");
  for (const [name, t] of [["query", query], ["key", key], ["value", value]] as const) {
    if (t.rank < 2) {
      throw new RangeError(
        `${fn}: ${name} needs rank >= 2 ([..., T, D]), got ${formatShape(t.shape)}`,
      );
    }
  }
  const tq = query.shape[query.rank - 2];
  const dk = query.shape[query.rank - 1];
  const tk = key.shape[key.rank - 2];
  const dv = value.shape[value.rank - 1];
  if (sameFeatures && key.shape[key.rank - 1] !== dk) {
    throw new RangeError(
      `${fn}: query and key feature sizes differ: query=${formatShape(query.shape)}, key=${
        formatShape(key.shape)
      }`,
    );
  }
  if (value.shape[value.rank - 2] !== tk) {
    throw new RangeError(
      `${fn}: key and value sequence lengths differ: key=${formatShape(key.shape)}, value=${
        formatShape(value.shape)
      }`,
    );
  }
  const qb = query.shape.slice(0, -2), kb = key.shape.slice(0, -2), vb = value.shape.slice(0, -2);
  let batch = broadcastShapes(qb, kb, fn, ["query batch", "key batch"]);
  batch = broadcastShapes(batch, vb, fn, ["query/key batch", "value batch"]);
  let mInfo: ReturnType<typeof scoresOperand> | null = null;
  let bInfo: ReturnType<typeof scoresOperand> | null = null;
  if (mask !== undefined && mask !== null) {
    mInfo = scoresOperand(fn, "mask", mask, batch, tq, tk, "mask");
    batch = broadcastShapes(batch, mInfo.batch, fn, ["query/key/value batch", "mask batch"]);
  }
  if (bias !== undefined && bias !== null) {
    bInfo = scoresOperand(fn, "bias", bias, batch, tq, tk, "bias");
    batch = broadcastShapes(batch, bInfo.batch, fn, ["query/key/value/mask batch", "bias batch"]);
  }
  checkSize([...batch, tq, dv], fn, "the output [...batch, Tq, Dv] =");
  const mIndex = mInfo ? broadcastIndex(mInfo.batch, batch) : null;
  const bIndex = bInfo ? broadcastIndex(bInfo.batch, batch) : null;
  // Elements in one trailing [Tq', Tk'] matrix of the mask / bias.
  const mStride = mInfo ? sizeOf(mask!.shape.slice(-2)) : 0;
  const bStride = bInfo ? sizeOf(bias!.shape.slice(-2)) : 0;
  return {
    batch,
    tq,
    tk,
    dk,
    dv,
    qIndex: broadcastIndex(qb, batch),
    kIndex: broadcastIndex(kb, batch),
    vIndex: broadcastIndex(vb, batch),
    maskView: (t) =>
      mInfo
        ? {
          data: mask!.data,
          offset: mIndex![t] * mStride,
          rowStride: mInfo.rq,
          colStride: mInfo.rk,
        }
        : null,
    biasView: (t) =>
      bInfo
        ? {
          data: bias!.data,
          offset: bIndex![t] * bStride,
          rowStride: bInfo.rq,
          colStride: bInfo.rk,
        }
        : null,
  };
}

/** The scale on Q·Kᵀ: `scale` if given (finite), else 1/√d_k. */
export function resolveScale(fn: string, scale: number | undefined, dk: number): number {
  const s = scale ?? 1 / Math.sqrt(dk);
  if (typeof s !== "number" || !Number.isFinite(s)) {
    throw new RangeError(`${fn}: scale must be a finite number, got ${describeValue(scale)}`);
  }
  return s;
}

/** The `needWeights` option: true when absent; anything but a boolean is a TypeError naming `fn`. */
export function resolveNeedWeights(fn: string, needWeights: unknown): boolean {
  const v = needWeights ?? true;
  if (typeof v !== "boolean") {
    throw new TypeError(`${fn}: needWeights must be a boolean, got ${describeValue(needWeights)}`);
  }
  return v;
}

/** The kernel operands of batch element `t`: sub-array offsets, mask and bias views, output slot. */
export function kernelInputs(
  plan: AttentionPlan,
  t: number,
  query: Tensor,
  key: Tensor,
  value: Tensor,
  scale: number,
  out: Float32Array,
): AttentionInputs {
  const { tq, tk, dk, dv } = plan;
  return {
    q: query.data,
    qOffset: plan.qIndex[t] * tq * dk,
    k: key.data,
    kOffset: plan.kIndex[t] * tk * dk,
    v: value.data,
    vOffset: plan.vIndex[t] * tk * dv,
    tq,
    tk,
    dk,
    dv,
    scale,
    mask: plan.maskView(t),
    bias: plan.biasView(t),
    out,
    outOffset: t * tq * dv,
  };
}

/** Why the returned weights and scores carry no gradient, and what to do instead. */
export const INSPECT_HINT =
  "the attention weights and scores are returned for inspection, and the fused backward works from the output; to differentiate them, build softmax(matmul(q, k, { transposeB: true }) · scale) from the tensor ops";
