/**
 * Gradients of attention (issue 11): scaledDotProductAttention / dotProductAttention
 * and tiledAttention w.r.t. query, key, value and a float bias, against float64
 * central finite differences of an independent attention loop (tests/_gradcheck.ts:
 * rtol 1e-3, atol 1e-4 × max); masks, broadcast batches, custom scale, dropout
 * with a fixed key; the JavaScript, WebAssembly, threaded and chunked forward paths;
 * the readable backward loops against the blocked gemm path.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkGradients, finiteDifferences, leaves, values } from "./_gradcheck.ts";
import {
  dotProductAttention,
  scaledDotProductAttention,
} from "../lib/attention/scaled_dot_product.ts";
import { tiledAttention } from "../lib/attention/tiled.ts";
import { additiveAttention } from "../lib/attention/additive.ts";
import { causalMask, paddingMask } from "../lib/attention/masks.ts";
import {
  concatTime,
  mergeHeads,
  repeatHeads,
  splitHeads,
  splitStackedHeads,
} from "../lib/models/_heads.ts";
import { multiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { type AttentionKernelArgs, setAttentionScratchBytes } from "../lib/kernels/attention.ts";
import { setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { runKernel, traceKernels, withKernelPath } from "../lib/kernels/registry.ts";
import {
  attentionBackwardBatchable,
  attentionBackwardBatchWasm,
  attentionBackwardWasm,
  wasmReady,
  withThreadMode,
} from "../lib/kernels/simd.ts";
import {
  type AttentionBackwardArgs,
  attentionBackwardBlocked,
  attentionBackwardKernels,
  attentionBackwardReference,
} from "../lib/kernels/attention_backward.ts";
import { assertClose } from "../lib/testing/assert_close.ts";
import { type Mask, mask as makeMask } from "../lib/tensor/mask.ts";
import { noGrad } from "../lib/tensor/autograd.ts";
import { broadcastIndex, broadcastShapes, sizeOf } from "../lib/tensor/shape.ts";
import { Tensor } from "../lib/tensor/tensor.ts";

/** Shapes and options of one attention case. */
interface Case {
  q: number[];
  k: number[];
  v: number[];
  bias?: number[];
  mask?: Mask;
  scale?: number;
  /** Dropout multipliers (0 or 1/(1−p)) of the `[...batch, Tq, Tk]` weights, row-major. */
  keep?: Float64Array;
}

/** Leading (batch) axes and the trailing [rows, cols] of a mask or bias shape. */
function operandIndex(shape: number[], batch: number[]) {
  const rows = shape.at(-2)!, cols = shape.at(-1)!;
  const index = broadcastIndex(shape.slice(0, -2), batch);
  return (t: number, i: number, j: number) =>
    index[t] * rows * cols + (rows === 1 ? 0 : i) * cols + (cols === 1 ? 0 : j);
}

/** The batch shape of a case: every operand's leading axes broadcast. */
function batchOf(c: Case): number[] {
  let batch = broadcastShapes(c.q.slice(0, -2), c.k.slice(0, -2), "test");
  batch = broadcastShapes(batch, c.v.slice(0, -2), "test");
  if (c.mask) batch = broadcastShapes(batch, c.mask.shape.slice(0, -2), "test");
  if (c.bias) batch = broadcastShapes(batch, c.bias.slice(0, -2), "test");
  return batch;
}

/**
 * Attention in float64, written from the definition: s = q·k·scale + b, masked
 * keys -∞, softmax (a row with no visible key gives zeros), times the dropout
 * multipliers, then the weighted sum of values. Inputs: q, k, v[, bias].
 */
function attention64(c: Case): (xs: Float64Array[]) => Float64Array {
  const tq = c.q.at(-2)!, dk = c.q.at(-1)!, tk = c.k.at(-2)!, dv = c.v.at(-1)!;
  const batch = batchOf(c);
  const n = sizeOf(batch);
  const qi = broadcastIndex(c.q.slice(0, -2), batch);
  const ki = broadcastIndex(c.k.slice(0, -2), batch);
  const vi = broadcastIndex(c.v.slice(0, -2), batch);
  const mAt = c.mask ? operandIndex(c.mask.shape as number[], batch) : null;
  const bAt = c.bias ? operandIndex(c.bias, batch) : null;
  const scale = c.scale ?? 1 / Math.sqrt(dk);
  return (xs) => {
    const [q, k, v, b] = xs;
    const out = new Float64Array(n * tq * dv);
    const w = new Float64Array(tk);
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < tq; i++) {
        let max = -Infinity;
        for (let j = 0; j < tk; j++) {
          let s = 0;
          for (let d = 0; d < dk; d++) {
            s += q[(qi[t] * tq + i) * dk + d] * k[(ki[t] * tk + j) * dk + d];
          }
          s *= scale;
          if (bAt) s += b[bAt(t, i, j)];
          if (mAt && c.mask!.data[mAt(t, i, j)] === 0) s = -Infinity;
          w[j] = s;
          max = Math.max(max, s);
        }
        let sum = 0;
        for (let j = 0; j < tk; j++) {
          w[j] = max === -Infinity ? 0 : Math.exp(w[j] - max);
          sum += w[j];
        }
        for (let j = 0; j < tk; j++) {
          w[j] = sum === 0 ? 0 : w[j] / sum;
          if (c.keep) w[j] *= c.keep[(t * tq + i) * tk + j];
        }
        for (let d = 0; d < dv; d++) {
          let o = 0;
          for (let j = 0; j < tk; j++) o += w[j] * v[(vi[t] * tk + j) * dv + d];
          out[(t * tq + i) * dv + d] = o;
        }
      }
    }
    return out;
  };
}

/** Random inputs of a case: q, k, v[, bias] (bias in [-2, 2)). */
function inputsOf(c: Case, seed: number): Float64Array[] {
  const xs = [
    values(sizeOf(c.q), seed),
    values(sizeOf(c.k), seed + 1),
    values(sizeOf(c.v), seed + 2),
  ];
  if (c.bias) xs.push(values(sizeOf(c.bias), seed + 3, -2, 2));
  return xs;
}

function shapesOf(c: Case): number[][] {
  return c.bias ? [c.q, c.k, c.v, c.bias] : [c.q, c.k, c.v];
}

/** scaledDotProductAttention on leaves [q, k, v, bias?] with the case's options. */
function sdpa(c: Case, extra: Record<string, unknown> = {}) {
  return (xs: Tensor[]) =>
    scaledDotProductAttention(xs[0], xs[1], xs[2], {
      mask: c.mask,
      bias: xs[3],
      scale: c.scale,
      needWeights: false,
      ...extra,
    }).output;
}

function check(name: string, c: Case, seed = 1, op = sdpa(c)) {
  checkGradients(name, op, attention64(c), inputsOf(c, seed), shapesOf(c), { seed });
}

/** A [rows, cols] mask from a predicate. */
function maskOf(rows: number, cols: number, allow: (i: number, j: number) => boolean): Mask {
  return makeMask(
    Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => allow(i, j))),
  );
}

Deno.test("attention gradients against float64 finite differences", async (t) => {
  const cases: [string, Case][] = [
    ["plain [3, 4] x [5, 4]", { q: [3, 4], k: [5, 4], v: [5, 3] }],
    ["batched heads [2, 2, 3, 4]", { q: [2, 2, 3, 4], k: [2, 2, 4, 4], v: [2, 2, 4, 2] }],
    ["causal", { q: [4, 3], k: [4, 3], v: [4, 3], mask: causalMask(4) }],
    [
      "bottom-right causal, Tq < Tk",
      { q: [2, 3], k: [5, 3], v: [5, 2], mask: causalMask(2, 5, { align: "bottom-right" }) },
    ],
    [
      "padding mask [B, 1, 1, Tk] over heads",
      {
        q: [2, 2, 3, 4],
        k: [2, 2, 4, 4],
        v: [2, 2, 4, 3],
        mask: paddingMask([4, 2], 4).reshape([2, 1, 1, 4]),
      },
    ],
    [
      "broadcast batch: shared key and value, batched query",
      { q: [3, 2, 4], k: [5, 4], v: [1, 5, 2] },
    ],
    ["custom scale", { q: [3, 4], k: [4, 4], v: [4, 2], scale: 0.7 }],
    ["finite bias [Tq, Tk]", { q: [3, 4], k: [4, 4], v: [4, 2], bias: [3, 4] }],
    [
      "broadcast bias [H, 1, Tk] over [B, H, Tq, Tk]",
      { q: [2, 2, 3, 4], k: [2, 2, 4, 4], v: [2, 2, 4, 2], bias: [2, 1, 4] },
    ],
    [
      "bias with a batch axis the others lack",
      { q: [3, 4], k: [4, 4], v: [4, 2], bias: [2, 3, 4] },
    ],
    [
      "bias and mask together",
      { q: [4, 3], k: [4, 3], v: [4, 3], bias: [1, 4], mask: causalMask(4) },
    ],
  ];
  for (const [name, c] of cases) await t.step(name, () => check(name, c));
  await t.step("dotProductAttention (scale 1)", () => {
    const c: Case = { q: [3, 4], k: [4, 4], v: [4, 2], scale: 1 };
    check("dotProductAttention", c, 3, (xs) => dotProductAttention(xs[0], xs[1], xs[2]).output);
  });
});

Deno.test("attention gradients: -Infinity bias entries and fully masked rows", async (t) => {
  await t.step("-Infinity bias acts as a mask and gets gradient 0 there", () => {
    const c: Case = { q: [3, 2], k: [4, 2], v: [4, 2], mask: maskOf(3, 4, (i, j) => j <= i + 1) };
    const bias = new Float32Array(12).map((
      _,
      e,
    ) => (e % 4 <= Math.floor(e / 4) + 1 ? 0.25 : -Infinity));
    const xs = leaves(inputsOf(c, 5), shapesOf(c));
    const b = new Tensor(bias, [3, 4]);
    b.requiresGrad = true;
    const viaBias = scaledDotProductAttention(xs[0], xs[1], xs[2], { bias: b }).output;
    viaBias.backward(new Tensor(Float32Array.from(values(6, 9)), viaBias.shape));
    // the same scores with a mask instead (a constant bias shifts nothing): same gradients
    const ys = leaves(inputsOf(c, 5), shapesOf(c));
    const viaMask = scaledDotProductAttention(ys[0], ys[1], ys[2], { mask: c.mask }).output;
    viaMask.backward(new Tensor(Float32Array.from(values(6, 9)), viaMask.shape));
    for (let j = 0; j < 3; j++) {
      assertClose(xs[j].grad!.data, ys[j].grad!.data, { rtol: 1e-5, atol: 1e-6 });
    }
    b.grad!.data.forEach((g, e) => {
      if (bias[e] === -Infinity) assert.equal(g, 0, `bias entry ${e}`);
      assert.ok(Number.isFinite(g));
    });
    // finite differences on the finite entries: the causal case with this bias
    check("-inf bias (mask equivalent)", { ...c, bias: [3, 4] }, 7);
  });
  await t.step("a fully masked row gets gradient exactly 0, masked keys too", () => {
    // query 1 sees nothing; key 3 is seen by no query
    const m = maskOf(3, 4, (i, j) => i !== 1 && j !== 3);
    const c: Case = { q: [3, 2], k: [4, 2], v: [4, 3], mask: m, bias: [3, 4] };
    check("fully masked row", c, 11);
    const xs = leaves(inputsOf(c, 11), shapesOf(c));
    const out = sdpa(c)(xs);
    out.backward(new Tensor(Float32Array.from(values(9, 2)), out.shape));
    const [gq, gk, gv, gb] = xs.map((x) => x.grad!.data);
    assert.deepEqual([...gq.subarray(2, 4)], [0, 0]);
    assert.deepEqual([gk[6], gk[7], gv[9], gv[10], gv[11]], [0, 0, 0, 0, 0]);
    for (let j = 0; j < 4; j++) assert.equal(gb[4 + j], 0);
    for (let i = 0; i < 3; i++) assert.equal(gb[i * 4 + 3], 0);
    for (const g of [gq, gk, gv, gb]) assert.ok(g.every(Number.isFinite));
  });
  await t.step("a NaN in a masked key's value or key reaches no gradient", () => {
    const m = maskOf(20, 20, (i, j) => j <= i && j !== 7);
    const c: Case = { q: [20, 16], k: [20, 16], v: [20, 16], mask: m };
    const xs = inputsOf(c, 13);
    xs[1][7 * 16 + 3] = NaN;
    xs[2][7 * 16 + 5] = Infinity;
    const ls = leaves(xs, shapesOf(c));
    const out = sdpa(c)(ls);
    assert.ok(out.data.every(Number.isFinite));
    out.backward(new Tensor(Float32Array.from(values(out.size, 3)), out.shape));
    assert.ok(ls[0].grad!.data.every(Number.isFinite));
    assert.ok(ls[1].grad!.data.every((g, e) => Math.floor(e / 16) === 7 ? g === 0 : isFinite(g)));
    assert.ok(ls[2].grad!.data.every((g, e) => Math.floor(e / 16) === 7 ? g === 0 : isFinite(g)));
  });
});

Deno.test("attention gradients with dropout: the forward's mask, drawn again", async (t) => {
  for (
    const [name, c0] of [
      ["plain", { q: [2, 4, 3], k: [2, 5, 3], v: [2, 5, 2] }],
      ["with causal mask and bias", {
        q: [5, 3],
        k: [5, 3],
        v: [5, 2],
        mask: causalMask(5),
        bias: [5, 5],
      }],
    ] as [string, Case][]
  ) {
    await t.step(name, () => {
      const p = 0.3, dropoutKey = { key: 1234, call: 5 };
      const xs = leaves(inputsOf(c0, 17), shapesOf(c0));
      // the multipliers the forward used: 0 where its weights were dropped
      const opts = { mask: c0.mask, bias: xs[3], dropoutKey };
      const [plain, dropped] = noGrad(() => [
        scaledDotProductAttention(xs[0], xs[1], xs[2], opts).weights,
        scaledDotProductAttention(xs[0], xs[1], xs[2], { ...opts, dropout: p }).weights,
      ]);
      const keep = Float64Array.from(
        plain.data,
        (w, e) => (w !== 0 && dropped.data[e] === 0 ? 0 : 1 / (1 - p)),
      );
      assert.ok(keep.some((m) => m === 0) && keep.some((m) => m !== 0));
      const c = { ...c0, keep };
      check(`dropout ${name}`, c, 17, sdpa(c, { dropout: p, dropoutKey }));
    });
  }
});

/** Gradients of [q, k, v, bias?] from one backward of `op` with a fixed upstream. */
function grads(c: Case, op: (xs: Tensor[]) => Tensor, seed = 21): Float32Array[] {
  const xs = leaves(inputsOf(c, seed), shapesOf(c));
  const y = op(xs);
  y.backward(new Tensor(Float32Array.from(values(y.size, seed + 1)), y.shape));
  return xs.map((x) => x.grad!.data);
}

Deno.test("attention gradients on every forward path", async (t) => {
  // 16 x 16 x 16: large enough for the WebAssembly kernels
  const c: Case = {
    q: [2, 16, 16],
    k: [2, 16, 16],
    v: [2, 16, 16],
    mask: maskOf(16, 16, (i, j) => j <= i || j % 5 === 0),
    bias: [16, 16],
  };
  await t.step("WebAssembly forward (auto), finite differences", () => {
    const { calls } = traceKernels(() => grads(c, sdpa(c)));
    assert.ok(calls.some((k) => k.name === "attention" && k.backend === "wasm"));
    // a problem this small stays whole in the WebAssembly arena
    const whole = wasmReady() ? "wasm" : "js";
    assert.ok(calls.some((k) => k.name === "attentionBackward" && k.backend === whole));
    check("wasm path", c, 23);
  });
  await t.step("blocked backward, threaded: every product split across the workers", () => {
    const before = setParallelMinWork(0);
    try {
      // tiledAttention's blocks keep the blocked backward (one gemm per product)
      const tiled = (xs: Tensor[]) =>
        tiledAttention(xs[0], xs[1], xs[2], { mask: c.mask, bias: xs[3], blockSize: 16 }).output;
      const { calls } = traceKernels(() => check("threaded", c, 23, tiled));
      assert.ok(calls.some((k) => k.name === "attentionBackward" && k.backend === "js"));
      assert.ok(calls.some((k) => k.name === "gemm" && k.backend === "threaded"));
    } finally {
      setParallelMinWork(before);
    }
  });
  await t.step("fused batched forward returning the weights: L read from them", () => {
    // no bias or dropout: the batched WebAssembly kernel (threaded when split) runs, and
    // the log-sum-exp comes from its weights
    // query 5 sees no key
    const fused: Case = {
      q: [2, 16, 16],
      k: [2, 16, 16],
      v: [2, 16, 16],
      mask: maskOf(16, 16, (i, j) => i !== 5 && (j <= i || j % 5 === 0)),
    };
    const withWeights = sdpa(fused, { needWeights: true });
    for (const work of [undefined, 0]) {
      const before = work === undefined ? undefined : setParallelMinWork(work);
      try {
        const { calls } = traceKernels(() => check("fused", fused, 25, withWeights));
        const want = work === undefined ? "wasm" : "threaded";
        assert.ok(calls.some((k) => k.name === "attentionBatch" && k.backend === want));
      } finally {
        if (before !== undefined) setParallelMinWork(before);
      }
    }
    // the same gradients as the hook path (L from the scores: weights not returned, and too
    // large for a scratch copy within the score budget), within float32 rounding
    const viaWeights = grads(fused, withWeights, 27);
    setAttentionScratchBytes(16 * 16 * 4);
    let viaScores: Float32Array[];
    try {
      const { result, calls } = traceKernels(() => grads(fused, sdpa(fused), 27));
      assert.ok(calls.some((k) => k.name === "attention" && k.backend === "wasm"));
      assert.ok(!calls.some((k) => k.name === "attentionBatch" && k.backend !== "js"));
      viaScores = result;
    } finally {
      setAttentionScratchBytes();
    }
    // without weights but within the budget: the fused kernel with a scratch copy
    const { calls } = traceKernels(() => grads(fused, sdpa(fused), 27));
    assert.ok(calls.some((k) => k.name === "attentionBatch" && k.backend === "wasm"));
    for (const b of [0, 1]) {
      assert.ok(viaWeights[0].subarray((b * 16 + 5) * 16, (b * 16 + 6) * 16).every((g) => g === 0));
    }
    viaWeights.forEach((g, j) => {
      const max = Math.max(...viaScores[j].map(Math.abs));
      assertClose(g, viaScores[j], { rtol: 1e-4, atol: 1e-5 * max });
    });
  });
  await t.step("JavaScript forward, and the readable backward loops", () => {
    withKernelPath("js", () => check("js path", c, 23));
    withKernelPath("reference", () => check("reference path", c, 23));
  });
  await t.step("chunked forward: 48 query rows in chunks of 16", () => {
    const cc: Case = {
      q: [48, 8],
      k: [24, 8],
      v: [24, 8],
      mask: causalMask(48, 24),
      bias: [1, 24],
    };
    const whole = grads(cc, sdpa(cc));
    setAttentionScratchBytes(16 * 24 * 4);
    try {
      const chunked = grads(cc, sdpa(cc));
      chunked.forEach((g, j) => assert.deepEqual(g, whole[j]));
      check("chunked", cc, 29);
    } finally {
      setAttentionScratchBytes();
    }
  });
  await t.step("blocked backward agrees with the reference loops", () => {
    const big: Case = {
      ...c,
      q: [2, 100, 16],
      mask: maskOf(100, 16, (i, j) => j <= i % 16),
      bias: [100, 16],
    };
    const ref = withKernelPath("reference", () => grads(big, sdpa(big)));
    const fast = grads(big, sdpa(big));
    fast.forEach((g, j) => {
      const max = Math.max(...ref[j].map(Math.abs));
      assertClose(g, ref[j], { rtol: 1e-4, atol: 1e-5 * max });
    });
  });
  await t.step("recording changes no forward number beyond float32 rounding", () => {
    // without grad the unmasked call runs on the threads; with grad the forward keeps L
    // through the one-thread hook path: the same output
    const plain: Case = { q: [2, 16, 16], k: [2, 16, 16], v: [2, 16, 16] };
    const xs = leaves(inputsOf(plain, 31), shapesOf(plain));
    const before = setParallelMinWork(0);
    try {
      const { result: without, calls } = traceKernels(() => noGrad(() => sdpa(plain)(xs)));
      assert.ok(calls.some((k) => k.backend === "threaded"));
      const withGrad = sdpa(plain)(xs);
      assertClose(withGrad.data, without.data, { rtol: 1e-6, atol: 1e-6 });
      assert.equal(without.requiresGrad, false);
      assert.equal(withGrad.requiresGrad, true);
    } finally {
      setParallelMinWork(before);
    }
  });
});

Deno.test("tiledAttention gradients: no Tq x Tk matrix, same as the full path", async (t) => {
  const tiled = (c: Case, blockSize: number) => (xs: Tensor[]) =>
    tiledAttention(xs[0], xs[1], xs[2], { mask: c.mask, bias: xs[3], scale: c.scale, blockSize })
      .output;
  await t.step("finite differences, blocks of 2", () => {
    const c: Case = {
      q: [2, 5, 3],
      k: [2, 6, 3],
      v: [2, 6, 2],
      mask: causalMask(5, 6),
      bias: [5, 6],
    };
    check("tiled", c, 37, tiled(c, 2));
  });
  await t.step("a fully masked row gets gradient 0", () => {
    const c: Case = { q: [3, 2], k: [4, 2], v: [4, 3], mask: maskOf(3, 4, (i) => i !== 2) };
    check("tiled fully masked", c, 41, tiled(c, 2));
    const g = grads(c, tiled(c, 2), 41);
    assert.deepEqual([...g[0].subarray(4, 6)], [0, 0]);
  });
  await t.step("tiled and full gradients agree within float32 rounding", () => {
    const c: Case = {
      q: [2, 2, 40, 16],
      k: [2, 2, 40, 16],
      v: [2, 2, 40, 8],
      mask: causalMask(40),
      bias: [2, 1, 40],
    };
    const full = grads(c, sdpa(c), 43);
    const blocked = grads(c, tiled(c, 16), 43);
    blocked.forEach((g, j) => {
      const max = Math.max(...full[j].map(Math.abs));
      assertClose(g, full[j], { rtol: 1e-4, atol: 1e-5 * max });
    });
  });
});

Deno.test("head plumbing records its gradients", async (t) => {
  const x = [2, 3, 4]; // [B, T, H·Dh] with H = 2, Dh = 2
  // float64 [B, T, H·Dh] -> [B, H, T, Dh]
  const split64 = (b: number, tt: number, h: number, dh: number, stride = h * dh, at = 0) =>
  (
    a: Float64Array,
  ) => {
    const out = new Float64Array(b * h * tt * dh);
    for (let i = 0; i < b; i++) {
      for (let s = 0; s < tt; s++) {
        for (let j = 0; j < h; j++) {
          for (let d = 0; d < dh; d++) {
            out[((i * h + j) * tt + s) * dh + d] = a[(i * tt + s) * stride + at + j * dh + d];
          }
        }
      }
    }
    return out;
  };
  await t.step("splitHeads and mergeHeads", () => {
    checkGradients("splitHeads", ([a]) => splitHeads(a, 2), ([a]) => split64(2, 3, 2, 2)(a), [
      values(24, 1),
    ], [x]);
    // mergeHeads is the inverse: its reference reads [B, H, T, Dh] back into [B, T, H·Dh]
    const merge64 = ([a]: Float64Array[]) => {
      const out = new Float64Array(24);
      const idx = split64(2, 3, 2, 2)(Float64Array.from({ length: 24 }, (_, i) => i));
      idx.forEach((from, e) => (out[from] = a[e]));
      return out;
    };
    checkGradients("mergeHeads", ([a]) => mergeHeads(a), merge64, [values(24, 2)], [[2, 2, 3, 2]]);
  });
  await t.step("splitStackedHeads: each projection's gradient in its own feature block", () => {
    for (let part = 0; part < 3; part++) {
      checkGradients(
        `splitStackedHeads part ${part}`,
        ([a]) => splitStackedHeads(a, 3, 2)[part],
        ([a]) => split64(2, 3, 2, 2, 12, part * 4)(a),
        [values(72, 3 + part)],
        [[2, 3, 12]],
      );
    }
  });
  await t.step("repeatHeads sums over the repeated heads (GQA)", () => {
    // [B=2, Hkv=2, T=2, Dh=3] -> [2, 6, 2, 3]: query head h reads kv head floor(h / 3)
    const repeat64 = ([a]: Float64Array[]) => {
      const out = new Float64Array(2 * 6 * 6);
      for (let i = 0; i < 2; i++) {
        for (let h = 0; h < 6; h++) {
          for (let e = 0; e < 6; e++) {
            out[(i * 6 + h) * 6 + e] = a[(i * 2 + Math.floor(h / 3)) * 6 + e];
          }
        }
      }
      return out;
    };
    checkGradients("repeatHeads", ([a]) => repeatHeads(a, 3), repeat64, [values(24, 5)], [[
      2,
      2,
      2,
      3,
    ]]);
  });
  await t.step("concatTime", () => {
    const cat64 = ([a, b]: Float64Array[]) => {
      const out = new Float64Array(2 * 5 * 2);
      for (let i = 0; i < 2; i++) {
        for (let s = 0; s < 5; s++) {
          for (let d = 0; d < 2; d++) {
            out[(i * 5 + s) * 2 + d] = s < 3 ? a[(i * 3 + s) * 2 + d] : b[(i * 2 + s - 3) * 2 + d];
          }
        }
      }
      return out;
    };
    checkGradients("concatTime", ([a, b]) => concatTime(a, b), cat64, [
      values(12, 6),
      values(8, 7),
    ], [[1, 2, 3, 2], [1, 2, 2, 2]]);
  });
});

/** MultiHeadAttention in float64: projections, heads (kv head ⌊h / groups⌋), attention, output. */
function mha64(
  o: {
    b: number;
    tq: number;
    tk: number;
    e: number;
    h: number;
    hkv: number;
    kd: number;
    vd: number;
  },
  self: boolean,
  mask: Mask | undefined,
) {
  const { b, tq, tk, e, h, hkv, kd, vd } = o;
  const dh = e / h, groups = h / hkv;
  const lin = (
    x: Float64Array,
    rows: number,
    inp: number,
    w: Float64Array,
    bias: Float64Array,
    out: number,
  ) => {
    const y = new Float64Array(rows * out);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < out; c++) {
        let s = bias[c];
        for (let i = 0; i < inp; i++) s += x[r * inp + i] * w[c * inp + i];
        y[r * out + c] = s;
      }
    }
    return y;
  };
  const mAt = mask ? operandIndex(mask.shape as number[], [b, h]) : null;
  return (xs: Float64Array[]) => {
    const [q, k, v] = self ? [xs[0], xs[0], xs[0]] : xs.slice(0, 3);
    const [wq, wk, wv, bq, bk, bv, wo, bo] = xs.slice(self ? 1 : 3);
    const Q = lin(q, b * tq, e, wq, bq, e), K = lin(k, b * tk, kd, wk, bk, hkv * dh);
    const V = lin(v, b * tk, vd, wv, bv, hkv * dh);
    const concat = new Float64Array(b * tq * e);
    const w = new Float64Array(tk);
    for (let i = 0; i < b; i++) {
      for (let hh = 0; hh < h; hh++) {
        const g = Math.floor(hh / groups);
        for (let r = 0; r < tq; r++) {
          let max = -Infinity;
          for (let j = 0; j < tk; j++) {
            let s = 0;
            for (let d = 0; d < dh; d++) {
              s += Q[(i * tq + r) * e + hh * dh + d] * K[(i * tk + j) * hkv * dh + g * dh + d];
            }
            s /= Math.sqrt(dh);
            if (mAt && mask!.data[mAt(i * h + hh, r, j)] === 0) s = -Infinity;
            w[j] = s;
            max = Math.max(max, s);
          }
          let sum = 0;
          for (let j = 0; j < tk; j++) sum += w[j] = Math.exp(w[j] - max);
          for (let d = 0; d < dh; d++) {
            let s = 0;
            for (let j = 0; j < tk; j++) {
              s += (w[j] / sum) * V[(i * tk + j) * hkv * dh + g * dh + d];
            }
            concat[(i * tq + r) * e + hh * dh + d] = s;
          }
        }
      }
    }
    return lin(concat, b * tq, e, wo, bo, e);
  };
}

Deno.test("MultiHeadAttention backpropagates end to end", async (t) => {
  const run = (
    name: string,
    o: {
      b: number;
      tq: number;
      tk: number;
      e: number;
      h: number;
      hkv: number;
      kd: number;
      vd: number;
    },
    self: boolean,
    mask?: Mask,
  ) => {
    const mha = multiHeadAttention({
      dModel: o.e,
      numHeads: o.h,
      numKvHeads: o.hkv,
      kDim: o.kd,
      vDim: o.vd,
      seed: 3,
    });
    const params = [
      mha.queryWeight,
      mha.keyWeight,
      mha.valueWeight,
      mha.queryBias!,
      mha.keyBias!,
      mha.valueBias!,
      mha.outputWeight,
      mha.outputBias!,
    ];
    // non-zero biases, so their gradients and their use are both seen
    params.slice(3, 6).concat(params[7]).forEach((p, i) => p.data.set(values(p.size, 50 + i)));
    const data = self ? [values(o.b * o.tq * o.e, 61)] : [
      values(o.b * o.tq * o.e, 61),
      values(o.b * o.tk * o.kd, 62),
      values(o.b * o.tk * o.vd, 63),
    ];
    const shapes = self
      ? [[o.b, o.tq, o.e]]
      : [[o.b, o.tq, o.e], [o.b, o.tk, o.kd], [o.b, o.tk, o.vd]];
    const inputs = leaves(data, shapes);
    for (const p of params) p.requiresGrad = true;
    const [qi, ki, vi] = self ? [inputs[0], inputs[0], inputs[0]] : inputs;
    const y = mha.forward(qi, ki, vi, { mask, needWeights: false }).output;
    const all = [...data, ...params.map((p) => Float64Array.from(p.data))];
    const ref = mha64(o, self, mask);
    const expected = ref(all);
    assertClose(y.data, Float32Array.from(expected), {
      rtol: 1e-3,
      atol: 1e-4 * Math.max(...expected.map(Math.abs)),
    });
    const upstream = Float32Array.from(values(y.size, 71));
    y.backward(new Tensor(upstream, y.shape));
    const fd = finiteDifferences(ref, all, Float64Array.from(upstream));
    const keyBias = inputs.length + 4;
    [...inputs, ...params].forEach((x, j) => {
      if (j === keyBias) {
        // the key bias adds q_i·b_k to a whole score row, which softmax ignores: its true
        // gradient is 0, so only float32 rounding of the other terms is left (beside dW^K's scale)
        const scaleOf = Math.max(...fd[inputs.length + 1].map(Math.abs));
        assert.ok(Math.max(...fd[j].map(Math.abs)) < 1e-7 * scaleOf);
        assert.ok(x.grad!.data.every((g) => Math.abs(g) <= 1e-5 * scaleOf), `${name}: key bias`);
        return;
      }
      const max = Math.max(...fd[j].map(Math.abs));
      try {
        assertClose(x.grad!.data, Float32Array.from(fd[j]), { rtol: 1e-3, atol: 1e-4 * max });
      } catch (err) {
        throw new Error(`${name}: gradient ${j}: ${(err as Error).message}`);
      }
    });
  };
  const base = { b: 2, tq: 3, tk: 3, e: 4, h: 2, hkv: 2, kd: 4, vd: 4 };
  await t.step("self-attention (fused Q/K/V projection)", () => run("self", base, true));
  await t.step("causal self-attention", () => run("causal", base, true, causalMask(3)));
  await t.step("cross-attention with key padding and kDim/vDim", () =>
    run(
      "cross",
      { ...base, tk: 4, kd: 3, vd: 5 },
      false,
      paddingMask([4, 2], 4).reshape([2, 1, 1, 4]),
    ));
  await t.step(
    "grouped-query attention (4 query heads, 2 kv heads)",
    () => run("gqa", { ...base, e: 8, h: 4, hkv: 2, kd: 8, vd: 8, tk: 4 }, false, causalMask(3, 4)),
  );
});

/** Additive attention in float64: e_ij = v·tanh(W_q q_i + W_k k_j), softmax, weights·V. */
function additive64(
  qs: number[],
  ks: number[],
  vs: number[],
  hidden: number,
  mask?: Mask,
): (xs: Float64Array[]) => Float64Array {
  const tq = qs.at(-2)!, dq = qs.at(-1)!, tk = ks.at(-2)!, dk = ks.at(-1)!, dv = vs.at(-1)!;
  const batch = batchOf({ q: qs, k: ks, v: vs, mask });
  const qi = broadcastIndex(qs.slice(0, -2), batch), ki = broadcastIndex(ks.slice(0, -2), batch);
  const vi = broadcastIndex(vs.slice(0, -2), batch);
  const mAt = mask ? operandIndex(mask.shape as number[], batch) : null;
  return ([q, k, val, wq, wk, v]) => {
    const out = new Float64Array(sizeOf(batch) * tq * dv);
    for (let t = 0; t < sizeOf(batch); t++) {
      for (let i = 0; i < tq; i++) {
        const e = Array.from({ length: tk }, (_, j) => {
          if (mAt && mask!.data[mAt(t, i, j)] === 0) return -Infinity;
          let s = 0;
          for (let h = 0; h < hidden; h++) {
            let a = 0;
            for (let c = 0; c < dq; c++) a += wq[h * dq + c] * q[(qi[t] * tq + i) * dq + c];
            for (let c = 0; c < dk; c++) a += wk[h * dk + c] * k[(ki[t] * tk + j) * dk + c];
            s += v[h] * Math.tanh(a);
          }
          return s;
        });
        const max = Math.max(...e);
        const w = e.map((x) => (max === -Infinity ? 0 : Math.exp(x - max)));
        const sum = w.reduce((a, b) => a + b, 0);
        for (let c = 0; c < dv; c++) {
          let o = 0;
          for (let j = 0; j < tk; j++) {
            o += (sum === 0 ? 0 : w[j] / sum) * val[(vi[t] * tk + j) * dv + c];
          }
          out[(t * tq + i) * dv + c] = o;
        }
      }
    }
    return out;
  };
}

Deno.test("additiveAttention gradients against float64 finite differences", async (t) => {
  const run = (
    name: string,
    qs: number[],
    ks: number[],
    vs: number[],
    hidden: number,
    mask?: Mask,
  ) => {
    const dq = qs.at(-1)!, dk = ks.at(-1)!;
    const shapes = [qs, ks, vs, [hidden, dq], [hidden, dk], [hidden]];
    const inputs = shapes.map((s, i) => values(sizeOf(s), 80 + i));
    checkGradients(
      name,
      ([q, k, v, wQuery, wKey, vv]) =>
        additiveAttention(q, k, v, { wQuery, wKey, v: vv, mask }).output,
      additive64(qs, ks, vs, hidden, mask),
      inputs,
      shapes,
    );
  };
  await t.step("Dq differs from Dk", () => run("additive", [3, 4], [5, 2], [5, 3], 3));
  await t.step("batched with a causal mask and a fully masked row", () =>
    run(
      "additive masked",
      [2, 3, 2],
      [2, 4, 3],
      [4, 2],
      2,
      maskOf(3, 4, (i, j) => i !== 1 && j <= i + 1),
    ));
  await t.step("a fully masked row's query gets gradient exactly 0", () => {
    const m = maskOf(2, 3, (i) => i === 0);
    const xs = leaves([
      values(4, 1),
      values(6, 2),
      values(6, 3),
      values(4, 4),
      values(4, 5),
      values(2, 6),
    ], [
      [2, 2],
      [3, 2],
      [3, 2],
      [2, 2],
      [2, 2],
      [2],
    ]);
    const y =
      additiveAttention(xs[0], xs[1], xs[2], { wQuery: xs[3], wKey: xs[4], v: xs[5], mask: m })
        .output;
    y.backward(new Tensor(Float32Array.from(values(4, 7)), y.shape));
    assert.deepEqual([...xs[0].grad!.data.subarray(2, 4)], [0, 0]);
  });
});

/** `values` as float32: raw kernel operands. */
const f32 = (n: number, seed: number) => Float32Array.from(values(n, seed));

/** The attention forward on the reference kernel (offsets 0), with its row log-sum-exp. */
function referenceForward(
  a: Omit<
    AttentionKernelArgs,
    | "qOffset"
    | "kOffset"
    | "vOffset"
    | "out"
    | "outOffset"
    | "weights"
    | "weightsOffset"
    | "scores"
    | "scoresOffset"
    | "lse"
    | "lseOffset"
  >,
): { out: Float32Array; lse: Float32Array } {
  const out = new Float32Array(a.tq * a.dv), lse = new Float32Array(a.tq);
  withKernelPath("reference", () =>
    runKernel("attention", {
      ...a,
      qOffset: 0,
      kOffset: 0,
      vOffset: 0,
      out,
      outOffset: 0,
      weights: null,
      weightsOffset: 0,
      scores: null,
      scoresOffset: 0,
      lse,
      lseOffset: 0,
    }));
  return { out, lse };
}

Deno.test("attention backward kernel: odd blocks of the fast path equal the reference loops", () => {
  const tq = 23, tk = 19, dk = 6, dv = 5;
  const q = f32(tq * dk, 1), k = f32(tk * dk, 2), v = f32(tk * dv, 3);
  const maskData = Uint8Array.from({ length: tq * tk }, (_, e) => (e % 7 === 3 || e < tk ? 0 : 1));
  const mask = { data: maskData, offset: 0, rowStride: tk, colStride: 1 };
  const biasData = f32(tk, 4); // one row broadcast over the queries
  const bias = { data: biasData, offset: 0, rowStride: 0, colStride: 1 };
  const scale = 0.4, dropout = 0.25, dropoutKey = { key: 9, call: 2, first: 0 };
  // the forward through the kernel, with its row log-sum-exp
  const { out, lse } = referenceForward({
    q,
    k,
    v,
    tq,
    tk,
    dk,
    dv,
    scale,
    mask,
    bias,
    dropout,
    dropoutKey,
  });
  assert.equal(lse[0], -Infinity); // row 0 is fully masked
  const gradOut = f32(tq * dv, 5);
  const run = (
    f: typeof attentionBackwardReference,
    blocks: { blockRows?: number; blockKeys?: number },
  ) => {
    const g = {
      gradQ: new Float32Array(tq * dk),
      gradK: new Float32Array(tk * dk),
      gradV: new Float32Array(tk * dv),
      gradB: new Float32Array(tk),
    };
    f({
      q,
      qOffset: 0,
      k,
      kOffset: 0,
      v,
      vOffset: 0,
      tq,
      tk,
      dk,
      dv,
      scale,
      mask,
      bias,
      out,
      outOffset: 0,
      lse,
      lseOffset: 0,
      gradOut,
      gradOutOffset: 0,
      dropout,
      dropoutKey,
      gradQ: g.gradQ,
      gradQOffset: 0,
      gradK: g.gradK,
      gradKOffset: 0,
      gradV: g.gradV,
      gradVOffset: 0,
      gradBias: { ...bias, data: g.gradB },
      ...blocks,
    });
    return g;
  };
  const ref = run(attentionBackwardReference, {});
  assert.deepEqual([...ref.gradQ.subarray(0, dk)], new Array(dk).fill(0));
  const paths: [typeof attentionBackwardReference, Record<string, number>][] = [
    [attentionBackwardBlocked, { blockRows: 7, blockKeys: 5 }],
    [attentionBackwardBlocked, { blockRows: 1, blockKeys: 1 }],
    [attentionBackwardBlocked, {}],
  ];
  // the whole problem in the WebAssembly arena (where WebAssembly SIMD runs)
  if (wasmReady()) paths.push([attentionBackwardWasm, {}]);
  for (const [f, blocks] of paths) {
    const fast = run(f, blocks);
    for (const name of ["gradQ", "gradK", "gradV", "gradB"] as const) {
      const max = Math.max(...ref[name].map(Math.abs));
      assertClose(fast[name], ref[name], { rtol: 1e-4, atol: 1e-5 * max });
    }
  }
});

Deno.test("attention backward batch kernel: every problem of a call at once equals the reference loops", () => {
  // odd sizes; five problems sharing one dK buffer (a key broadcast over the batch, so
  // their gradients add up); masks in both layouts, with a fully masked query row, and a
  // NaN key / infinite value at a key that every query of a padded problem is denied
  const n = 5, tq = 23, tk = 19, dk = 6, dv = 5, scale = 0.4;
  for (const layout of ["rows", "padding"] as const) {
    const rows = layout === "rows" ? tk : 0;
    const problems = Array.from({ length: n }, (_, t) => {
      const q = f32(tq * dk, 10 + t), k = f32(tk * dk, 20 + t), v = f32(tk * dv, 30 + t);
      const data = layout === "rows"
        ? Uint8Array.from({ length: tq * tk }, (_, e) => (e % 7 === 3 || e < tk ? 0 : 1))
        : Uint8Array.from({ length: tk }, (_, j) => (j === 4 || j > tk - t - 1 ? 0 : 1));
      if (layout === "padding") {
        k[4 * dk + 1] = NaN;
        v[4 * dv + 2] = Infinity;
      }
      const mask = { data, offset: 0, rowStride: rows, colStride: 1 };
      const { out, lse } = referenceForward({
        q,
        k,
        v,
        tq,
        tk,
        dk,
        dv,
        scale,
        mask,
        bias: null,
        dropout: 0,
        dropoutKey: null,
      });
      if (layout === "rows") assert.equal(lse[0], -Infinity); // row 0 sees nothing
      return { q, k, v, mask, out, lse, gradOut: f32(tq * dv, 40 + t) };
    });
    const run = (all: (list: AttentionBackwardArgs[]) => void) => {
      const gradQ = new Float32Array(n * tq * dk), gradK = new Float32Array(tk * dk);
      const gradV = new Float32Array(n * tk * dv);
      all(problems.map((p, t) => ({
        ...p,
        qOffset: 0,
        kOffset: 0,
        vOffset: 0,
        tq,
        tk,
        dk,
        dv,
        scale,
        bias: null,
        outOffset: 0,
        lseOffset: 0,
        gradOutOffset: 0,
        dropout: 0,
        dropoutKey: null,
        gradQ,
        gradQOffset: t * tq * dk,
        gradK,
        gradKOffset: 0,
        gradV,
        gradVOffset: t * tk * dv,
        gradBias: null,
      })));
      return { gradQ, gradK, gradV };
    };
    const ref = run((list) => list.forEach(attentionBackwardReference));
    for (const g of Object.values(ref)) assert.ok(g.every(Number.isFinite));
    if (!wasmReady()) continue;
    for (const mode of ["one", "forced"] as const) {
      const fast = run((list) => {
        assert.ok(attentionBackwardBatchable(list));
        withThreadMode(mode, () => attentionBackwardBatchWasm(list));
      });
      for (const name of ["gradQ", "gradK", "gradV"] as const) {
        const max = Math.max(...ref[name].map(Math.abs));
        assertClose(fast[name], ref[name], { rtol: 1e-4, atol: 1e-5 * max });
      }
      if (layout === "padding") {
        // key 4 is hidden from every query: exactly 0 gradient, never NaN
        for (let t = 0; t < n; t++) {
          const at = t * tk * dv + 4 * dv;
          assert.deepEqual([...fast.gradV.subarray(at, at + dv)], new Array(dv).fill(0));
        }
        assert.deepEqual([...fast.gradK.subarray(4 * dk, 5 * dk)], new Array(dk).fill(0));
      }
    }
    // and through the kernel table's forced threaded path
    const viaTable = run((list) =>
      withKernelPath("threaded", () => attentionBackwardKernels(list))
    );
    for (const name of ["gradQ", "gradK", "gradV"] as const) {
      const max = Math.max(...ref[name].map(Math.abs));
      assertClose(viaTable[name], ref[name], { rtol: 1e-4, atol: 1e-5 * max });
    }
  }
});

Deno.test("attention gradient properties (fast-check)", () => {
  // softmax rows sum to 1, so without dropout each row of dS (= dBias) sums to 0, and a
  // constant added to a whole score row changes no gradient of Q, K or V
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.boolean(),
      (tq, tk, d, seed, causal) => {
        const c: Case = {
          q: [2, tq, d],
          k: [2, tk, d],
          v: [2, tk, d],
          bias: [tq, tk],
          mask: causal ? causalMask(tq, tk, { align: "bottom-right" }) : undefined,
        };
        const xs = leaves(inputsOf(c, seed), shapesOf(c));
        const y = sdpa(c)(xs);
        const up = new Tensor(Float32Array.from(values(y.size, seed + 1)), y.shape);
        y.backward(up);
        const gb = xs[3].grad!.data;
        // the row sum cancels terms P_ij·dP_ij with |dP_ij| <= d·max|dO|·max|V|: float32
        // rounding leaves about 1e-7 of that, while a wrong dS (e.g. no D term) leaves O(1) of it
        const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const terms = Math.max(maxAbs(gb), d * maxAbs(up.data) * maxAbs(xs[2].data));
        for (let i = 0; i < tq; i++) {
          let s = 0;
          for (let j = 0; j < tk; j++) s += gb[i * tk + j];
          assert.ok(Math.abs(s) <= 1e-5 * tk * terms, `row ${i} of dBias sums to ${s}`);
        }
        // the same call with every bias row shifted by its own constant
        const shifted = leaves(inputsOf(c, seed), shapesOf(c));
        noGrad(() => shifted[3].data.forEach((_, e, a) => (a[e] += 3 * Math.floor(e / tk) - 1)));
        const y2 = sdpa(c)(shifted);
        y2.backward(up);
        for (let j = 0; j < 3; j++) {
          const max = Math.max(1e-6, ...xs[j].grad!.data.map(Math.abs));
          assertClose(shifted[j].grad!.data, xs[j].grad!.data, { rtol: 1e-4, atol: 1e-5 * max });
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("attention weights are for inspection: a loss on them throws in backward, never a silent gap", async (t) => {
  const { scaledDotProductAttention: sdpa } = await import(
    "../lib/attention/scaled_dot_product.ts"
  );
  const { additiveAttention } = await import("../lib/attention/additive.ts");
  const { averageHeads } = await import("../lib/models/multi_head_attention.ts");
  const { sum: total } = await import("../lib/tensor/reduce.ts");
  const { add: plus } = await import("../lib/tensor/elementwise.ts");
  const { randn: normal, Tensor: T } = await import("../lib/tensor/tensor.ts");
  const { Rng: R } = await import("../lib/tensor/rng.ts");
  const q = normal([3, 4], new R(1));
  q.requiresGrad = true;
  await t.step("scaledDotProductAttention weights and scores", () => {
    const r = sdpa(q, q, q, { returnScores: true });
    assert.throws(() => total(r.weights).backward(), /weights: no gradient flows back/);
    assert.throws(() => total(r.scores!).backward(), /scores: no gradient flows back/);
    // the output still backpropagates, and nothing is recorded without grad
    total(r.output).backward();
    assert.ok(q.grad !== null);
    assert.equal(sdpa(q.detach(), q.detach(), q.detach()).weights.requiresGrad, false);
  });
  await t.step("additiveAttention weights", () => {
    const wq = normal([5, 4], new R(2)), wk = normal([5, 4], new R(3)), v = normal([5], new R(4));
    const r = additiveAttention(q, q, q, { wQuery: wq, wKey: wk, v });
    assert.throws(() => total(r.weights).backward(), /weights: no gradient flows back/);
  });
  await t.step("averageHeads has a gradient: d mean_h(w_h) / d w_h = 1/H", () => {
    const w = normal([1, 2, 3, 3], new R(0));
    w.requiresGrad = true;
    plus(total(averageHeads(w)), total(w)).backward();
    assert.ok(w.grad!.data.every((g) => g === 1.5));
    const g = new T(Float32Array.from({ length: 9 }, (_, i) => i), [1, 3, 3]);
    const w2 = normal([1, 2, 3, 3], new R(5));
    w2.requiresGrad = true;
    averageHeads(w2).backward(g);
    assert.deepEqual([...w2.grad!.data], [...g.data, ...g.data].map((x) => x / 2));
  });
});
