/**
 * The copying score of each head of a {@link GPT}: does the head, attending
 * to a token, raise that same token's logit? It reads the head's OV circuit
 * on the direct path (Elhage et al. 2021; Olsson et al. 2022),
 * $$M_h = W_U\, W_O^h\, W_V^h\, W_E^\top \in \mathbb{R}^{V \times V},$$
 * whose column s is the change of every logit when head h attends fully to
 * token s (embedding to value to output to unembedding).
 *
 * This is the empirical top-1 form, not Olsson et al.'s positive-eigenvalue
 * fraction Σλ/Σ|λ| of M_h: the score is the fraction of tokens s whose own
 * logit is the one M_h raises most. It lies in [0, 1]: 1 for a head that
 * copies every token, about 1/V for a random one.
 *
 * @module
 */

import type { GPT } from "../models/gpt.ts";
import { _describe } from "../layers/_validate.ts";
import { Tensor } from "../tensor/tensor.ts";

/**
 * The copying score `[numLayers, numHeads]` of every head of `model`: for
 * head h of block l, the fraction of tokens s with
 * `M[s, s] > M[r, s]` for every r ≠ s, where `M = W_U W_O^h W_V^h W_Eᵀ` is
 * computed in float64 from the parameters. W_E is `wte.weight` `[V, D]`;
 * W_U is `lm_head.weight` or, tied, `wte.weight`; W_V^h is rows
 * `h·Dh … (h+1)·Dh − 1` of the block's value projection `[D, D]` and W_O^h the
 * same columns of its output projection `[D, D]` (PyTorch's `in_proj_weight[2D:3D]`
 * and `out_proj.weight`). Biases, positions and LayerNorm (none in an
 * attention-only model) are left out: the score is about the token path alone.
 *
 * @throws {TypeError} `model` without the GPT's parameters.
 *
 * @example A tiny attention-only model, before training
 * ```ts
 * import { copyingScore, gpt } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = gpt({ vocabSize: 12, blockSize: 8, dModel: 8, numHeads: 2, attentionOnly: true });
 * const score = copyingScore(model);
 * assert.deepEqual(score.shape, [2, 2]); // [layers, heads]
 * assert.ok(Array.from(score.data).every((v) => v >= 0 && v <= 1));
 * ```
 */
export function copyingScore(model: GPT): Tensor {
  const fn = "copyingScore";
  if (
    model === null || typeof model !== "object" || !Array.isArray(model.blocks) ||
    !(model.wte?.weight instanceof Tensor)
  ) {
    throw new TypeError(`${fn}: model must be a GPT (from gpt(...)), got ${_describe(model)}`);
  }
  const { vocabSize: v, dModel: d, numHeads: hs } = model.config;
  const dh = d / hs;
  const we = model.wte.weight.data; // [V, D]
  const wu = (model.lmHead ? model.lmHead.weight : model.wte.weight).data; // [V, D]
  const layers = model.blocks.length;
  const out = new Float32Array(layers * hs);
  const value = new Float64Array(dh);
  const written = new Float64Array(d);
  const column = new Float64Array(v);
  model.blocks.forEach((block, l) => {
    const wv = block.attn.valueWeight.data; // [D, D]: row = output feature, column = input
    const wo = block.attn.outputWeight.data; // [D, D]
    for (let h = 0; h < hs; h++) {
      let copies = 0;
      for (let s = 0; s < v; s++) {
        // [Dh, D] x [D] -> [Dh]: head h's value of token s
        for (let k = 0; k < dh; k++) {
          let acc = 0;
          for (let j = 0; j < d; j++) acc += wv[(h * dh + k) * d + j] * we[s * d + j];
          value[k] = acc;
        }
        // [D, Dh] x [Dh] -> [D]: what the head writes into the residual stream
        for (let i = 0; i < d; i++) {
          let acc = 0;
          for (let k = 0; k < dh; k++) acc += wo[i * d + h * dh + k] * value[k];
          written[i] = acc;
        }
        // [V, D] x [D] -> [V]: column s of M
        for (let r = 0; r < v; r++) {
          let acc = 0;
          for (let i = 0; i < d; i++) acc += wu[r * d + i] * written[i];
          column[r] = acc;
        }
        let wins = true;
        for (let r = 0; r < v && wins; r++) if (r !== s && !(column[s] > column[r])) wins = false;
        if (wins) copies++;
      }
      out[l * hs + h] = copies / v;
    }
  });
  return new Tensor(out, [layers, hs]);
}
