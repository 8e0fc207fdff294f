/**
 * Private helper: the backward pass of `scaledDotProductAttention` and
 * `tiledAttention` over their broadcast batch.
 *
 * @module
 */

import { attentionBackwardKernels } from "../kernels/attention_backward.ts";
import type { CounterKey } from "../tensor/rng.ts";
import { sizeOf } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { type AttentionPlan, kernelInputs } from "./_batch.ts";

/** What the forward keeps for {@link attentionBackward}: the operands, the output and L. */
export interface SavedAttention {
  plan: AttentionPlan;
  query: Tensor;
  key: Tensor;
  value: Tensor;
  bias: Tensor | null;
  scale: number;
  dropout: number;
  dropKey: CounterKey | null;
  /** `[n, Tq]`: each query row's log-sum-exp of its scores. */
  lse: Float32Array;
  output: Tensor;
  /** Query rows and keys per block of the backward (tiledAttention: its blockSize). */
  blockSize?: number;
}

/**
 * dL/d(query, key, value, bias) from dL/d(output), every batch element's
 * problem handed to `attentionBackwardKernels` together (FlashAttention-2's backward: the weights
 * recomputed as exp(S − L) block by block; formulas in `attention_backward.ts`).
 * Each gradient is added at its operand's own batch index, so a broadcast
 * operand sums over the batch elements that share it, and the bias gradient
 * goes through the bias's own strides (summed over its broadcast axes).
 */
export function attentionBackward(s: SavedAttention, g: Tensor): (Tensor | null)[] {
  const { plan, query, key, value, bias, output } = s;
  const { batch, tq, tk, dk, dv } = plan;
  const gq = query.requiresGrad ? new Float32Array(query.size) : null;
  const gk = key.requiresGrad ? new Float32Array(key.size) : null;
  const gv = value.requiresGrad ? new Float32Array(value.size) : null;
  const gb = bias?.requiresGrad ? new Float32Array(bias.size) : null;
  const n = sizeOf(batch);
  // every problem of the call at once: the kernel table may run them in one (threaded) call
  attentionBackwardKernels(Array.from({ length: n }, (_, t) => {
    const biasView = plan.biasView(t);
    return {
      ...kernelInputs(plan, t, query, key, value, s.scale, output.data),
      lse: s.lse,
      lseOffset: t * tq,
      gradOut: g.data,
      gradOutOffset: t * tq * dv,
      dropout: s.dropout,
      dropoutKey: s.dropKey ? { ...s.dropKey, first: t * tq * tk } : null,
      gradQ: gq,
      gradQOffset: plan.qIndex[t] * tq * dk,
      gradK: gk,
      gradKOffset: plan.kIndex[t] * tk * dk,
      gradV: gv,
      gradVOffset: plan.vIndex[t] * tk * dv,
      gradBias: gb && biasView ? { ...biasView, data: gb } : null,
      blockRows: s.blockSize,
      blockKeys: s.blockSize,
    };
  }));
  const grads: (Tensor | null)[] = [
    gq && new Tensor(gq, query.shape),
    gk && new Tensor(gk, key.shape),
    gv && new Tensor(gv, value.shape),
  ];
  if (bias) grads.push(gb && new Tensor(gb, bias.shape));
  return grads;
}
