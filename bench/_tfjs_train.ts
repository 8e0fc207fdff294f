/**
 * T1 and T2 (bench/README.md, "Training step") written in tfjs ops, trained with
 * `tf.train.adam` through `optimizer.minimize` (gradients from `@tensorflow/tfjs`,
 * which registers them; tfjs-core alone has none): the same layers as the library's
 * (post-norm, ReLU, LayerNorm with weight and bias, fused Q/K/V projection in
 * self-attention, dropout 0). tfjs-wasm has no kernel for the gradient of gather
 * (UnsortedSegmentSum), so T2's embeddings are one-hot rows (built once, untimed)
 * times the table: the same values and gradient as a lookup.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
// tfjs-core registers no gradient functions; the union package does, on import
import "@tensorflow/tfjs";
import { Rng } from "../lib/tensor/rng.ts";
import { sinusoidalEncoding } from "../lib/layers/sinusoidal_encoding.ts";
import { LR, T1, T2, t2Tokens, type Workload } from "./_train.ts";

/** A trainable `[rows, cols]` matrix drawn N(0, 1/rows) (the scale keeps activations O(1)). */
function weight(rng: Rng, rows: number, cols: number): tf.Variable {
  const data = new Float32Array(rows * cols);
  const s = 1 / Math.sqrt(rows);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * s;
  return tf.variable(tf.tensor2d(data, [rows, cols]));
}
const filled = (n: number, value: number) => tf.variable(tf.fill([n], value));

interface Norm {
  g: tf.Variable;
  b: tf.Variable;
}
const norm = (e: number): Norm => ({ g: filled(e, 1), b: filled(e, 0) });

/** LayerNorm over the last axis, ε 1e-5: (x - μ)/√(σ² + ε)·g + b. */
function layerNorm(x: tf.Tensor2D, n: Norm): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, 1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), n.g), n.b);
}

interface Attention {
  /** `[E, 3E]` (self) or `[E, E]` (cross: the query only). */
  wq: tf.Variable;
  bq: tf.Variable;
  /** cross-attention's `[E, 2E]` key/value projection of the memory. */
  wkv?: tf.Variable;
  bkv?: tf.Variable;
  wo: tf.Variable;
  bo: tf.Variable;
}
function attention(rng: Rng, e: number, cross: boolean): Attention {
  return cross
    ? {
      wq: weight(rng, e, e),
      bq: filled(e, 0),
      wkv: weight(rng, e, 2 * e),
      bkv: filled(2 * e, 0),
      wo: weight(rng, e, e),
      bo: filled(e, 0),
    }
    : { wq: weight(rng, e, 3 * e), bq: filled(3 * e, 0), wo: weight(rng, e, e), bo: filled(e, 0) };
}

/**
 * Multi-head attention of `x` `[B·T, E]` over `mem` `[B·S, E]` (self-attention when
 * `mem` is undefined), heads H; `bias` `[T, S]` is added to the scores (causal mask).
 */
function mha(
  a: Attention,
  x: tf.Tensor2D,
  mem: tf.Tensor2D | undefined,
  [b, t, s, h]: number[],
  bias?: tf.Tensor2D,
): tf.Tensor2D {
  const e = x.shape[1], d = e / h;
  let q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D;
  if (mem === undefined) {
    // [B·T, E] x [E, 3E] -> [B·T, 3E]
    [q, k, v] = tf.split(tf.add(tf.matMul(x, a.wq), a.bq), 3, 1) as tf.Tensor2D[];
  } else {
    q = tf.add(tf.matMul(x, a.wq), a.bq); // [B·T, E]
    [k, v] = tf.split(tf.add(tf.matMul(mem, a.wkv!), a.bkv!), 2, 1) as tf.Tensor2D[]; // [B·S, E]
  }
  const heads = (y: tf.Tensor, n: number) =>
    tf.transpose(tf.reshape(y, [b, n, h, d]), [0, 2, 1, 3]); // [B, H, n, d]
  // [B, H, T, d] x [B, H, S, d]ᵀ -> [B, H, T, S]
  let scores = tf.mul(tf.matMul(heads(q, t), heads(k, s), false, true), 1 / Math.sqrt(d));
  if (bias) scores = tf.add(scores, bias);
  const o = tf.matMul(tf.softmax(scores), heads(v, s)); // [B, H, T, S] x [B, H, S, d]
  const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b * t, e]); // [B·T, E]
  return tf.add(tf.matMul(merged, a.wo), a.bo);
}

interface FeedForward {
  w1: tf.Variable;
  b1: tf.Variable;
  w2: tf.Variable;
  b2: tf.Variable;
}
const feedForward = (rng: Rng, e: number, f: number): FeedForward => ({
  w1: weight(rng, e, f),
  b1: filled(f, 0),
  w2: weight(rng, f, e),
  b2: filled(e, 0),
});
/** relu(x·W1 + b1)·W2 + b2: [N, E] x [E, F] -> [N, F] x [F, E] -> [N, E]. */
const ffn = (p: FeedForward, x: tf.Tensor2D) =>
  tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, p.w1), p.b1)), p.w2), p.b2) as tf.Tensor2D;

interface EncoderLayerParams {
  attn: Attention;
  ff: FeedForward;
  n1: Norm;
  n2: Norm;
}
const encoderLayerParams = (rng: Rng, e: number, f: number): EncoderLayerParams => ({
  attn: attention(rng, e, false),
  ff: feedForward(rng, e, f),
  n1: norm(e),
  n2: norm(e),
});
/** Post-norm: a = LN(x + SelfAttn(x)); LN(a + FFN(a)). */
function encoderLayer(p: EncoderLayerParams, x: tf.Tensor2D, dims: number[]): tf.Tensor2D {
  const a = layerNorm(tf.add(x, mha(p.attn, x, undefined, dims)), p.n1);
  return layerNorm(tf.add(a, ffn(p.ff, a)), p.n2);
}

interface DecoderLayerParams extends EncoderLayerParams {
  cross: Attention;
  n3: Norm;
}
/** Post-norm: LN(x + causal SelfAttn), LN(+ CrossAttn over memory), LN(+ FFN). */
function decoderLayer(
  p: DecoderLayerParams,
  x: tf.Tensor2D,
  mem: tf.Tensor2D,
  dims: number[],
  causal: tf.Tensor2D,
): tf.Tensor2D {
  const a = layerNorm(tf.add(x, mha(p.attn, x, undefined, dims, causal)), p.n1);
  const c = layerNorm(tf.add(a, mha(p.cross, a, mem, dims)), p.n2);
  return layerNorm(tf.add(c, ffn(p.ff, c)), p.n3);
}

/** One tfjs training step for `workload`: minimize the loss once; returns the loss. */
export function tfjsStep(workload: Workload): () => number {
  const rng = new Rng(11);
  const optimizer = tf.train.adam(LR);
  let loss: () => tf.Scalar;
  if (workload === "T1") {
    const { dModel: e, dFF: f, batch: b, length: t, numHeads: h } = T1;
    const layer = encoderLayerParams(rng, e, f);
    const x = tf.tensor2d(weight(rng, b * t, e).dataSync(), [b * t, e]); // [B·T, E] input
    loss = () => tf.mean(tf.square(encoderLayer(layer, x, [b, t, t, h])));
  } else {
    const { dModel: e, dFF: f, batch: b, length: t, numHeads: h, vocab } = T2;
    const srcEmbedding = weight(rng, vocab, e), tgtEmbedding = weight(rng, vocab, e);
    const enc = Array.from({ length: T2.layers }, () => encoderLayerParams(rng, e, f));
    const dec = Array.from({ length: T2.layers }, () => ({
      ...encoderLayerParams(rng, e, f),
      cross: attention(rng, e, true),
      n3: norm(e),
    }));
    const encNorm = norm(e), decNorm = norm(e);
    const wg = weight(rng, e, vocab), bg = filled(vocab, 0);
    const { src, tgt, labels } = t2Tokens();
    // one-hot [B·T, V] rows: embedding = onehot x table (see the module note)
    const oneHot = (ids: number[]) =>
      tf.cast(tf.oneHot(tf.tensor1d(ids, "int32"), vocab), "float32");
    const srcHot = oneHot(src.flat()), tgtHot = oneHot(tgt.flat());
    const labelHot = oneHot(Array.from(labels));
    const pe = sinusoidalEncoding(t, e);
    const positions = tf.tile(tf.tensor2d(pe.data, [t, e]), [b, 1]); // [B·T, E]
    const causal = tf.tensor2d(
      Float32Array.from({ length: t * t }, (_, i) => (i % t > Math.floor(i / t) ? -1e9 : 0)),
      [t, t],
    );
    const dims = [b, t, t, h];
    const embed = (hot: tf.Tensor, table: tf.Variable) =>
      tf.add(tf.mul(tf.matMul(hot, table), Math.sqrt(e)), positions) as tf.Tensor2D;
    loss = () => {
      let m = embed(srcHot, srcEmbedding);
      for (const p of enc) m = encoderLayer(p, m, dims);
      m = layerNorm(m, encNorm);
      let y = embed(tgtHot, tgtEmbedding);
      for (const p of dec) y = decoderLayer(p, y, m, dims, causal);
      y = layerNorm(y, decNorm);
      const logp = tf.logSoftmax(tf.add(tf.matMul(y, wg), bg)); // [B·T, V]
      return tf.neg(tf.mean(tf.sum(tf.mul(logp, labelHot), 1))); // NLL
    };
  }
  return () => {
    const cost = optimizer.minimize(loss, true)!;
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
}
