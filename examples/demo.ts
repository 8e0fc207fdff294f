/**
 * `deno task demo`: a worked example of scaled dot-product attention on a
 * short sentence, printed step by step.
 *
 * @module
 */

import {
  causalMask,
  linear,
  randn,
  Rng,
  scale,
  scaledDotProductAttention,
  type Tensor,
} from "../mod.ts";

const tokens = ["the", "cat", "sat", "down"];
const dModel = 8;
const rng = new Rng(2026);

// Token vectors standing in for embeddings: [T, dModel]
const x = randn([tokens.length, dModel], rng);
// Learned projections W^Q, W^K, W^V in PyTorch's [out, in] layout
// (scaled by 1/√dModel, like a Xavier initialisation, so the weights are not one-hot)
const [wq, wk, wv] = [0, 1, 2].map(() =>
  scale(randn([dModel, dModel], rng), 1 / Math.sqrt(dModel))
);

// 1) project: Q = x·W^Qᵀ, K = x·W^Kᵀ, V = x·W^Vᵀ, each [T, dModel]
const q = linear(x, wq), k = linear(x, wk), v = linear(x, wv);
// 2) attend, with the decoder's look-ahead mask
const { output, weights, scores } = scaledDotProductAttention(q, k, v, {
  mask: causalMask(tokens.length),
  returnScores: true,
});

function show(title: string, t: Tensor, cols = tokens) {
  console.log(`\n${title}  ${JSON.stringify(t.shape)}`);
  console.log("        " + cols.map((c) => c.padStart(8)).join(""));
  (t.toArray() as number[][]).forEach((row, i) => {
    console.log(
      (tokens[i] ?? String(i)).padEnd(8) +
        row.map((v) => (Number.isFinite(v) ? v.toFixed(3) : String(v)).padStart(8)).join(""),
    );
  });
}

console.log("Scaled dot-product attention: softmax(Q·Kᵀ/√d_k + mask)·V, d_k =", dModel);
show("scores Q·Kᵀ/√d_k (before the mask)", scores!);
show("attention weights (rows sum to 1; future keys get exactly 0)", weights);
show("output = weights·V", output, [...Array(dModel).keys()].map((i) => `d${i}`));
