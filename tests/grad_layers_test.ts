/**
 * Gradients of the layers (issue 11, items 2 and 6): each layer w.r.t. its
 * input and each parameter against float64 central finite differences of an
 * independent float64 forward loop (tests/_gradcheck.ts, rtol 1e-3, atol 1e-4
 * × max), on small shapes; plus linear and layerNorm at sizes where the
 * WebAssembly and threaded kernels run, against float64 analytic loops, on
 * every kernel path.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkGradients,
  checkOutputGradients,
  leaves,
  type Reference,
  values,
} from "./_gradcheck.ts";
import { assertClose } from "../lib/testing/assert_close.ts";
import { setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { traceKernels, withKernelPath } from "../lib/kernels/registry.ts";
import { linear, linearStacked } from "../lib/layers/linear.ts";
import { layerNorm } from "../lib/layers/layer_norm.ts";
import { rmsNorm } from "../lib/layers/rms_norm.ts";
import { batchNorm } from "../lib/layers/batch_norm.ts";
import { Embedding, embedding } from "../lib/layers/embedding.ts";
import { LearnedPositionalEmbedding } from "../lib/layers/learned_positional_embedding.ts";
import { Dropout, dropout } from "../lib/layers/dropout.ts";
import { applyRotary, rotaryFrequencies } from "../lib/layers/rotary.ts";
import { alibiBias } from "../lib/layers/alibi.ts";
import {
  RelativePositionBias,
  relativePositionBucket,
} from "../lib/layers/relative_position_bias.ts";
import { sinusoidalEncoding } from "../lib/layers/sinusoidal_encoding.ts";
import { FeedForward } from "../lib/layers/feed_forward.ts";
import { AddNorm } from "../lib/layers/add_norm.ts";
import { Linear } from "../lib/layers/linear.ts";
import { mask } from "../lib/tensor/mask.ts";
import { Tensor } from "../lib/tensor/tensor.ts";

/** Float64 x·Wᵀ + b over rows of x `[rows, inF]`. */
function affine64(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  rows: number,
  inF: number,
  outF: number,
): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

Deno.test("linear: gradients of x, weight and bias, leading dims flattened", async (t) => {
  for (
    const [lead, inF, outF, bias] of [
      [[3], 4, 2, true],
      [[2, 3], 3, 5, true],
      [[2, 1, 2], 4, 3, false],
      [[], 3, 2, true],
    ] as [number[], number, number, boolean][]
  ) {
    await t.step(`x [${lead}, ${inF}], W [${outF}, ${inF}], bias ${bias}`, () => {
      const rows = lead.reduce((p, d) => p * d, 1);
      const inputs = [values(rows * inF, 1), values(outF * inF, 2)];
      const shapes = [[...lead, inF], [outF, inF]];
      if (bias) inputs.push(values(outF, 3)), shapes.push([outF]);
      checkGradients(
        "linear",
        ([x, w, b]) => linear(x, w, b),
        ([x, w, b]) => affine64(x, w, b ?? null, rows, inF, outF),
        inputs,
        shapes,
      );
    });
  }
});

Deno.test("linearStacked: gradients of x and of each stacked weight and bias", () => {
  // in_proj layout: three blocks of rows, the middle one without bias
  const rows = 4, inF = 3, outs = [2, 3, 1];
  const inputs = [values(rows * inF, 1), ...outs.map((o, i) => values(o * inF, 2 + i))];
  const shapes: number[][] = [[2, 2, inF], ...outs.map((o) => [o, inF])];
  inputs.push(values(outs[0], 7), values(outs[2], 8));
  shapes.push([outs[0]], [outs[2]]);
  checkGradients(
    "linearStacked",
    ([x, w1, w2, w3, b1, b3]) => linearStacked(x, [w1, w2, w3], [b1, null, b3]),
    ([x, w1, w2, w3, b1, b3]) => {
      const parts = [
        affine64(x, w1, b1, rows, inF, outs[0]),
        affine64(x, w2, null, rows, inF, outs[1]),
        affine64(x, w3, b3, rows, inF, outs[2]),
      ];
      const total = outs.reduce((s, o) => s + o, 0);
      const y = new Float64Array(rows * total);
      for (let r = 0; r < rows; r++) {
        let col = 0;
        parts.forEach((p, k) => {
          for (let j = 0; j < outs[k]; j++) y[r * total + col + j] = p[r * outs[k] + j];
          col += outs[k];
        });
      }
      return y;
    },
    inputs,
    shapes,
  );
});

Deno.test("linear and linearStacked: inputs that do not require grad get none", () => {
  const x = new Tensor(Float32Array.from(values(6, 1)), [2, 3]);
  const w = new Tensor(Float32Array.from(values(6, 2)), [2, 3]);
  const b = new Tensor(Float32Array.from(values(2, 3)), [2]);
  w.requiresGrad = true;
  linear(x, w, b).backward(new Tensor(new Float32Array(4).fill(1), [2, 2]));
  assert.equal(x.grad, null);
  assert.equal(b.grad, null);
  assert.deepEqual(w.grad!.shape, [2, 3]);
  const w2 = new Tensor(Float32Array.from(values(3, 4)), [1, 3]);
  linearStacked(x, [w, w2], [null, null]).backward(
    new Tensor(new Float32Array(6).fill(1), [2, 3]),
  );
  assert.equal(w2.grad, null);
  // the same weight twice accumulates: first call's x column sums plus the second's
  const colSums = [0, 1, 2].map((i) => x.data[i] + x.data[3 + i]);
  assertClose(w.grad!.data, Float32Array.from([...colSums, ...colSums].map((v) => 2 * v)), {
    rtol: 1e-6,
  });
});

/** Float64 LayerNorm (centre = true) or RMSNorm (centre = false) over rows of d. */
function norm64(
  x: Float64Array,
  w: Float64Array | null,
  b: Float64Array | null,
  d: number,
  eps: number,
  centre: boolean,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += d) {
    let mu = 0;
    if (centre) {
      for (let i = 0; i < d; i++) mu += x[o + i];
      mu /= d;
    }
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[o + i] - mu) ** 2;
    const s = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) {
      y[o + i] = (x[o + i] - mu) * s * (w ? w[i] : 1) + (b ? b[i] : 0);
    }
  }
  return y;
}

Deno.test("layerNorm: gradients of x, weight and bias", async (t) => {
  for (const [shape, affine] of [[[3, 5], "both"], [[2, 2, 4], "weight"], [[4], "none"]] as const) {
    await t.step(`x [${shape}], affine ${affine}`, () => {
      const d = shape[shape.length - 1];
      const n = shape.reduce((p: number, s: number) => p * s, 1);
      const inputs = [values(n, 1, -2, 2)];
      const shapes: number[][] = [[...shape]];
      if (affine !== "none") inputs.push(values(d, 2, 0.5, 1.5)), shapes.push([d]);
      if (affine === "both") inputs.push(values(d, 3)), shapes.push([d]);
      checkGradients(
        "layerNorm",
        ([x, w, b]) => layerNorm(x, { weight: w, bias: b, eps: 1e-5 }),
        ([x, w, b]) => norm64(x, w ?? null, b ?? null, d, 1e-5, true),
        inputs,
        shapes,
      );
    });
  }
});

Deno.test("rmsNorm: gradients of x and weight", async (t) => {
  for (const [shape, withWeight] of [[[3, 4], true], [[2, 1, 6], false]] as const) {
    await t.step(`x [${shape}], weight ${withWeight}`, () => {
      const d = shape[shape.length - 1];
      const n = shape.reduce((p: number, s: number) => p * s, 1);
      const inputs = [values(n, 4, -2, 2)];
      const shapes: number[][] = [[...shape]];
      if (withWeight) inputs.push(values(d, 5, 0.5, 1.5)), shapes.push([d]);
      checkGradients(
        "rmsNorm",
        ([x, w]) => rmsNorm(x, { weight: w, eps: 1e-6 }),
        ([x, w]) => norm64(x, w ?? null, null, d, 1e-6, false),
        inputs,
        shapes,
      );
    });
  }
});

/** Runs `fn` on every kernel path (threads forced to split) and returns each result. */
function onEveryPath<T>(fn: () => T): { path: string; result: T; backends: string[] }[] {
  return ["reference", "js", "packed", "wasm", "threaded"].map((path) => {
    const before = setParallelMinWork(path === "threaded" ? 0 : 1 << 22);
    try {
      const { result, calls } = traceKernels(() => withKernelPath(path, fn));
      return { path, result, backends: calls.map((c) => `${c.name}:${c.backend}`) };
    } finally {
      setParallelMinWork(before);
    }
  });
}

Deno.test("linear at a WebAssembly size: every kernel path gives the float64 gradients", () => {
  // [2, 48, 96] x [80, 96]ᵀ: 368,640 multiply-adds per product
  const rows = 96, inF = 96, outF = 80;
  const x64 = values(rows * inF, 11), w64 = values(outF * inF, 12), b64 = values(outF, 13);
  const dy64 = Float64Array.from(Float32Array.from(values(rows * outF, 14)));
  // float64 analytic reference: dx = dy·W, dW = dyᵀ·x, db = Σ dy
  const dx = new Float64Array(rows * inF), dw = new Float64Array(outF * inF);
  const db = new Float64Array(outF);
  const x32 = Float32Array.from(x64), w32 = Float32Array.from(w64);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      const g = dy64[r * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += g * w32[o * inF + i];
        dw[o * inF + i] += g * x32[r * inF + i];
      }
    }
  }
  const runs = onEveryPath(() => {
    const [x, w, b] = leaves([x64, w64, b64], [[2, 48, inF], [outF, inF], [outF]]);
    linear(x, w, b).backward(new Tensor(Float32Array.from(dy64), [2, 48, outF]));
    return [x.grad!, w.grad!, b.grad!];
  });
  const expected = [dx, dw, db];
  for (const { path, result, backends } of runs) {
    result.forEach((got, k) => {
      const max = Math.max(...Array.from(expected[k], Math.abs));
      assertClose(got.data, Float32Array.from(expected[k]), { rtol: 1e-3, atol: 1e-4 * max });
    });
    const gemms = backends.filter((b) => b.startsWith("gemm:"));
    assert.equal(gemms.length, 3, `${path}: forward, dx and dW are one gemm each`);
    if (path === "wasm" || path === "threaded") {
      assert.ok(gemms.every((b) => b === `gemm:${path}`), `${path} ran ${gemms}`);
    }
  }
});

Deno.test("layerNorm at a large size: the kernel gives the float64 gradients on every path", () => {
  const rows = 256, d = 192;
  const x64 = values(rows * d, 21, -3, 3), w64 = values(d, 22, 0.5, 1.5), b64 = values(d, 23);
  const dy64 = Float64Array.from(Float32Array.from(values(rows * d, 24)));
  const x32 = Float32Array.from(x64), w32 = Float32Array.from(w64);
  // float64 analytic reference, written from the Jacobian of LN (not the kernel's formula):
  // ∂y_i/∂x_j = γ_i·rstd·(δ_ij − 1/d − n_i·n_j/d)
  const dx = new Float64Array(rows * d), dw = new Float64Array(d), db = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mu = 0;
    for (let i = 0; i < d; i++) mu += x32[o + i];
    mu /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x32[o + i] - mu) ** 2;
    const s = 1 / Math.sqrt(v / d + 1e-5);
    const n = Array.from({ length: d }, (_, i) => (x32[o + i] - mu) * s);
    for (let i = 0; i < d; i++) {
      const g = dy64[o + i];
      dw[i] += g * n[i];
      db[i] += g;
      for (let j = 0; j < d; j++) {
        dx[o + j] += g * w32[i] * s * ((i === j ? 1 : 0) - 1 / d - (n[i] * n[j]) / d);
      }
    }
  }
  const runs = onEveryPath(() => {
    const [x, w, b] = leaves([x64, w64, b64], [[4, 64, d], [d], [d]]);
    layerNorm(x, { weight: w, bias: b }).backward(new Tensor(Float32Array.from(dy64), x.shape));
    return [x.grad!, w.grad!, b.grad!];
  });
  const expected = [dx, dw, db];
  for (const { path, result, backends } of runs) {
    result.forEach((got, k) => {
      const max = Math.max(...Array.from(expected[k], Math.abs));
      assertClose(got.data, Float32Array.from(expected[k]), { rtol: 1e-3, atol: 1e-4 * max });
    });
    const wasm = path === "wasm" || path === "threaded";
    assert.ok(
      backends.includes(`layerNormBackward:${wasm ? "wasm" : "reference"}`),
      `${path}: ${backends}`,
    );
  }
});

Deno.test("layerNorm and rmsNorm backward: the WebAssembly kernel agrees with the reference", async (t) => {
  // d = 37: the four-lane loops and their scalar tails; with and without γ and β
  for (const [kind, affine] of [["layer", true], ["layer", false], ["rms", true], ["rms", false]]) {
    await t.step(`${kind}Norm, affine ${affine}`, () => {
      const rows = 12, d = 37;
      const run = (path: string) => {
        const [x, w, b] = leaves(
          [values(rows * d, 81, -2, 2), values(d, 82, 0.5, 1.5), values(d, 83)],
          [[rows, d], [d], [d]],
        );
        const dy = new Tensor(Float32Array.from(values(rows * d, 84)), x.shape);
        const { calls } = traceKernels(() =>
          withKernelPath(path, () => {
            const y = kind === "layer"
              ? layerNorm(x, affine ? { weight: w, bias: b } : {})
              : rmsNorm(x, affine ? { weight: w } : {});
            y.backward(dy);
          })
        );
        assert.ok(calls.some((c) => c.name === "layerNormBackward" && c.backend === path));
        return [x.grad, w.grad, b.grad];
      };
      const ref = run("reference"), fast = run("wasm");
      ref.forEach((r, k) => {
        if (r === null) return assert.equal(fast[k], null);
        const max = Math.max(...Array.from(r.data, Math.abs));
        assertClose(fast[k]!.data, r.data, { rtol: 1e-4, atol: 1e-5 * max });
      });
    });
  }
});

Deno.test("layerNorm and rmsNorm save nothing and record nothing without grad", () => {
  const x = new Tensor(Float32Array.from(values(12, 1)), [3, 4]);
  const y = layerNorm(x);
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  x.requiresGrad = true;
  assert.equal(layerNorm(x).gradFn, "layerNorm");
  assert.equal(rmsNorm(x).gradFn, "rmsNorm");
});

/** Float64 BatchNorm over channels last: batch statistics (counted positions) or given ones. */
function batchNorm64(
  x: Float64Array,
  w: Float64Array | null,
  b: Float64Array | null,
  c: number,
  eps: number,
  keep: boolean[] | null,
  running: { mean: number[]; var: number[] } | null,
): Float64Array {
  const positions = x.length / c;
  const y = new Float64Array(x.length);
  for (let j = 0; j < c; j++) {
    let mu: number, v: number;
    if (running) {
      mu = running.mean[j], v = running.var[j];
    } else {
      let n = 0, s = 0;
      for (let m = 0; m < positions; m++) if (!keep || keep[m]) s += x[m * c + j], n++;
      mu = s / n;
      let q = 0;
      for (let m = 0; m < positions; m++) if (!keep || keep[m]) q += (x[m * c + j] - mu) ** 2;
      v = q / n;
    }
    for (let m = 0; m < positions; m++) {
      const norm = (x[m * c + j] - mu) / Math.sqrt(v + eps);
      y[m * c + j] = norm * (w ? w[j] : 1) + (b ? b[j] : 0);
    }
  }
  return y;
}

Deno.test("batchNorm: gradients in training mode (with and without a mask) and eval mode", async (t) => {
  const shape = [2, 3, 3], c = 3, n = 18;
  const inputs = [values(n, 31, -2, 2), values(c, 32, 0.5, 1.5), values(c, 33)];
  const shapes = [shape, [c], [c]];
  await t.step("training, batch statistics", () => {
    checkGradients(
      "batchNorm",
      ([x, w, b]) => batchNorm(x, { weight: w, bias: b }),
      ([x, w, b]) => batchNorm64(x, w, b, c, 1e-5, null, null),
      inputs,
      shapes,
    );
  });
  await t.step("training, padding left out of the statistics", () => {
    const keep = [true, true, false, true, false, true];
    const m = mask([keep.slice(0, 3), keep.slice(3)]);
    checkGradients(
      "batchNorm masked",
      ([x, w, b]) => batchNorm(x, { weight: w, bias: b, mask: m }),
      ([x, w, b]) => batchNorm64(x, w, b, c, 1e-5, keep, null),
      inputs,
      shapes,
    );
  });
  await t.step("eval, running statistics are constants", () => {
    const running = { mean: [0.1, -0.2, 0.3], var: [0.5, 1.5, 2] };
    checkGradients(
      "batchNorm eval",
      ([x, w, b]) =>
        batchNorm(x, {
          weight: w,
          bias: b,
          training: false,
          runningMean: new Tensor(Float32Array.from(running.mean), [c]),
          runningVar: new Tensor(Float32Array.from(running.var), [c]),
        }),
      ([x, w, b]) =>
        batchNorm64(x, w, b, c, 1e-5, null, {
          mean: running.mean.map(Math.fround),
          var: running.var.map(Math.fround),
        }),
      inputs,
      shapes,
    );
  });
  await t.step("running statistics update as F.batch_norm's, and never require grad", () => {
    const x = new Tensor(Float32Array.of(1, 10, 3, 14, 5, 12), [3, 2]);
    x.requiresGrad = true;
    const rm = new Tensor(Float32Array.of(0, 1), [2]), rv = new Tensor(Float32Array.of(1, 2), [2]);
    batchNorm(x, { runningMean: rm, runningVar: rv, momentum: 0.25 });
    // channel 0: μ = 3, unbiased σ² = 4; channel 1: μ = 12, unbiased σ² = 4
    assert.deepEqual([...rm.data], [0.75 * 0 + 0.25 * 3, 0.75 * 1 + 0.25 * 12]);
    assert.deepEqual([...rv.data], [0.75 * 1 + 0.25 * 4, 0.75 * 2 + 0.25 * 4]);
    assert.equal(rm.requiresGrad, false);
    assert.throws(
      () => batchNorm(x, { training: false, runningMean: rm }),
      /batchNorm: training: false needs.*runningVar missing/,
    );
  });
});

/** Computes a module's gradients w.r.t. `x` and `params` and checks them like checkGradients. */
function checkModuleGradients(
  name: string,
  params: Tensor[],
  x: { values: Float64Array; shape: number[] } | null,
  forward: (x: Tensor | null) => Tensor,
  reference: Reference,
): void {
  for (const p of params) p.requiresGrad = true;
  const xt = x ? leaves([x.values], [x.shape])[0] : null;
  const inputs = [...(x ? [x.values] : []), ...params.map((p) => Float64Array.from(p.data))];
  const got = [...(xt ? [xt] : []), ...params];
  checkOutputGradients(name, forward(xt), got, reference, inputs);
}

Deno.test("Embedding: rows accumulate, the padding row gets no gradient, √d scaling", async (t) => {
  const ids = [[1, 3, 1], [0, 3, 2]]; // 1 and 3 used twice, 0 is padding
  const flat = ids.flat();
  for (const scaleByDModel of [false, true]) {
    await t.step(`scaleByDModel ${scaleByDModel}`, () => {
      const emb = new Embedding(5, 4, { paddingIdx: 0, scaleByDModel, seed: 2 });
      const k = scaleByDModel ? 2 : 1;
      checkModuleGradients("Embedding", [emb.weight], null, () => emb.forward(ids), ([w]) => {
        const y = new Float64Array(flat.length * 4);
        flat.forEach((v, t) => {
          // the padding row is a constant of the gradient (PyTorch's padding_idx): its zeros
          for (let i = 0; i < 4; i++) y[t * 4 + i] = v === 0 ? 0 : k * w[v * 4 + i];
        });
        return y;
      });
      assert.ok(emb.weight.grad!.data.subarray(0, 4).every((v) => v === 0));
      assert.ok(emb.weight.grad!.data.subarray(4, 8).some((v) => v !== 0));
      assert.ok(emb.weight.grad!.data.subarray(16, 20).every((v) => v === 0)); // id 4 unused
    });
  }
  await t.step("embedding() without paddingIdx: every row, accumulated exactly", () => {
    const w = new Tensor(Float32Array.from(values(12, 3)), [3, 4]);
    w.requiresGrad = true;
    embedding([0, 0, 2], w).backward(new Tensor(new Float32Array(12).fill(1), [3, 4]));
    assert.deepEqual([...w.grad!.data], [2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1]);
  });
});

Deno.test("LearnedPositionalEmbedding: gradients of x and of the rows used", () => {
  const pos = new LearnedPositionalEmbedding(5, 3, { seed: 4 });
  const x = { values: values(12, 41), shape: [2, 2, 3] };
  checkModuleGradients(
    "LearnedPositionalEmbedding",
    [pos.weight],
    x,
    (xt) => pos.forward(xt!, { offset: 2 }),
    ([xv, w]) => xv.map((v, i) => v + w[(2 + Math.floor(i / 3) % 2) * 3 + (i % 3)]),
  );
  // rows 0, 1 and 4 were not used
  const g = pos.weight.grad!.data;
  assert.ok([...g.subarray(0, 6), ...g.subarray(12)].every((v) => v === 0));
});

Deno.test("dropout: the gradient is mask/(1 − p) exactly, regenerated from the key", async (t) => {
  for (const p of [0.1, 0.5, 0.9]) {
    await t.step(`p = ${p}`, () => {
      const x = new Tensor(Float32Array.from(values(1000, 5, 0.5, 1.5)), [10, 100]);
      x.requiresGrad = true;
      const key = { key: 1234, call: 7 };
      const y = dropout(x, p, { key });
      const dy = Float32Array.from(values(1000, 6));
      y.backward(new Tensor(dy, x.shape));
      const keep = Math.fround(1 / (1 - p));
      let dropped = 0;
      for (let i = 0; i < 1000; i++) {
        const kept = y.data[i] !== 0; // x > 0 everywhere, so y = 0 exactly where dropped
        if (!kept) dropped++;
        assert.equal(x.grad!.data[i], kept ? Math.fround(dy[i] * (1 / (1 - p))) : 0);
        if (kept) assert.equal(y.data[i], Math.fround(x.data[i] * (1 / (1 - p))));
      }
      assert.ok(dropped > 0 && dropped < 1000);
      // with dy = 1 the gradient is the mask scaled: values in {0, 1/(1 − p)}
      const x2 = x.detach();
      x2.requiresGrad = true;
      dropout(x2, p, { key }).backward(new Tensor(new Float32Array(1000).fill(1), x.shape));
      assert.ok(x2.grad!.data.every((v, i) => v === (y.data[i] === 0 ? 0 : keep)));
    });
  }
  await t.step("p = 1: zeros and a zero gradient; eval: the identity", () => {
    const x = new Tensor(Float32Array.from(values(8, 7)), [8]);
    x.requiresGrad = true;
    dropout(x, 1, { key: { key: 1, call: 0 } }).backward(
      new Tensor(new Float32Array(8).fill(1), [8]),
    );
    assert.ok(x.grad!.data.every((v) => v === 0));
    assert.equal(dropout(x, 0.5, { training: false }), x);
  });
  await t.step("Dropout module: backward redraws lastKey's mask", () => {
    const drop = new Dropout(0.3, { seed: 9 }).train();
    const x = new Tensor(new Float32Array(64).fill(2), [64]);
    x.requiresGrad = true;
    const y = drop.forward(x);
    y.backward(new Tensor(new Float32Array(64).fill(1), [64]));
    const again = dropout(new Tensor(new Float32Array(64).fill(1), [64]), 0.3, {
      key: drop.lastKey!,
    });
    assert.deepEqual([...x.grad!.data], [...again.data]);
    assert.ok(y.data.some((v) => v === 0));
  });
});

/** Float64 RoPE on `[..., T, D]`: rotate pair (a, b) by m·θ_i (sign −1: by −m·θ_i). */
function rotary64(
  x: Float64Array,
  t: number,
  d: number,
  style: "interleaved" | "half",
  positions: number[],
): Float64Array {
  const theta = rotaryFrequencies(d);
  const y = new Float64Array(x.length);
  for (let row = 0; row < x.length / d; row++) {
    const m = positions[row % t];
    for (let i = 0; i < d / 2; i++) {
      const [a, b] = style === "interleaved" ? [2 * i, 2 * i + 1] : [i, i + d / 2];
      const o = row * d, ang = m * theta[i];
      y[o + a] = x[o + a] * Math.cos(ang) - x[o + b] * Math.sin(ang);
      y[o + b] = x[o + a] * Math.sin(ang) + x[o + b] * Math.cos(ang);
    }
  }
  return y;
}

Deno.test("applyRotary: the gradient is the inverse rotation, both styles", async (t) => {
  for (const style of ["interleaved", "half"] as const) {
    await t.step(style, () => {
      const positions = [3, 0, 7.5];
      checkGradients(
        `applyRotary ${style}`,
        ([x]) => applyRotary(x, { style, positions }),
        ([x]) => rotary64(x, 3, 6, style, positions),
        [values(2 * 3 * 6, 51)],
        [[2, 3, 6]],
      );
    });
  }
  await t.step("backward of the rotation undoes it", () => {
    const x = new Tensor(Float32Array.from(values(24, 52)), [4, 6]);
    x.requiresGrad = true;
    const dy = new Tensor(Float32Array.from(values(24, 53)), [4, 6]);
    applyRotary(x).backward(applyRotary(dy)); // Rᵀ·(R·dy) = dy
    assertClose(x.grad!.data, dy.data, { rtol: 1e-5, atol: 1e-6 });
  });
});

Deno.test("RelativePositionBias: the table's gradient accumulates over each bucket", () => {
  const rpb = new RelativePositionBias(2, { numBuckets: 6, maxDistance: 8, seed: 5 });
  const [tq, tk] = [3, 5];
  const bucket = (i: number, j: number) =>
    relativePositionBucket(j - (i + tk - tq), { numBuckets: 6, maxDistance: 8 });
  checkModuleGradients(
    "RelativePositionBias",
    [rpb.weight],
    null,
    () => rpb.forward(tq, tk, { align: "bottom-right" }),
    ([w]) => {
      const y = new Float64Array(2 * tq * tk);
      for (let h = 0; h < 2; h++) {
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) y[(h * tq + i) * tk + j] = w[bucket(i, j) * 2 + h];
        }
      }
      return y;
    },
  );
});

Deno.test("alibiBias and sinusoidalEncoding are constants: nothing to differentiate", () => {
  assert.equal(alibiBias(2, 3).requiresGrad, false);
  assert.equal(sinusoidalEncoding(4, 6).requiresGrad, false);
});

Deno.test("AddNorm backprops through LayerNorm and a Linear sublayer, both placements", async (t) => {
  for (const normFirst of [false, true]) {
    await t.step(`normFirst ${normFirst}`, () => {
      const block = new AddNorm(4, { normFirst });
      const sub = new Linear(4, 4, { seed: 3 });
      const ln = block.norm;
      // non-trivial γ and β so their gradients are seen
      ln.weight!.data.set(Float32Array.from(values(4, 61, 0.5, 1.5)));
      ln.bias!.data.set(Float32Array.from(values(4, 62)));
      const params = [sub.weight, sub.bias!, ln.weight!, ln.bias!];
      checkModuleGradients(
        "AddNorm",
        params,
        { values: values(12, 63), shape: [3, 4] },
        (x) => block.forward(x!, sub),
        ([x, w, b, g, be]) => {
          const lin = (v: Float64Array) => affine64(v, w, b, 3, 4, 4);
          const ln64 = (v: Float64Array) => norm64(v, g, be, 4, 1e-5, true);
          return normFirst
            ? x.map((v, i) => v + lin(ln64(x))[i])
            : ln64(x.map((v, i) => v + lin(x)[i]));
        },
      );
    });
  }
});

Deno.test("FeedForward (ReLU) backprops to its input and all four parameters", () => {
  const ffn = new FeedForward({ dModel: 3, dFF: 5, seed: 7 });
  const l1 = ffn.linear1, l2 = ffn.linear2;
  checkModuleGradients(
    "FeedForward",
    [l1.weight, l1.bias!, l2.weight, l2.bias!],
    { values: values(6, 71), shape: [2, 3] },
    (x) => ffn.forward(x!),
    ([x, w1, b1, w2, b2]) => {
      const h = affine64(x, w1, b1, 2, 3, 5).map((v) => Math.max(v, 0));
      return affine64(h, w2, b2, 2, 5, 3);
    },
  );
});

Deno.test("FeedForward (SwiGLU, no bias, dropout in training) backprops through the redrawn mask", () => {
  const ffn = new FeedForward({
    dModel: 3,
    dFF: 4,
    activation: "swiglu",
    bias: false,
    dropout: 0.5,
  });
  ffn.train();
  const [l1, l2, l3] = [ffn.linear1, ffn.linear2, ffn.linear3!];
  checkModuleGradients(
    "FeedForward swiglu",
    [l1.weight, l2.weight, l3.weight],
    { values: values(6, 72), shape: [2, 3] },
    (x) => ffn.forward(x!),
    ([x, w1, w2, w3]) => {
      // the mask of this forward: dropout of ones with the key it used, 0 or 1/(1 − p)
      const m = dropout(new Tensor(new Float32Array(8).fill(1), [2, 4]), 0.5, {
        key: ffn.dropout.lastKey!,
      }).data;
      const gate = affine64(x, w1, null, 2, 3, 4), up = affine64(x, w3, null, 2, 3, 4);
      const h = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i] * m[i]);
      return affine64(h, w2, null, 2, 4, 3);
    },
  );
});

Deno.test("property: dropout's backward is the forward's mask applied to dy, bit for bit", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 1, max: 40 }),
      (p, k, call, n) => {
        const key = { key: k, call };
        const x = new Tensor(Float32Array.from(values(n, k % 1000)), [n]);
        x.requiresGrad = true;
        const dy = new Tensor(Float32Array.from(values(n, call % 1000)), [n]);
        dropout(x, p, { key }).backward(dy);
        const expected = dropout(dy, p, { key }); // the same mask on dy
        return x.grad!.data.every((v, i) => Object.is(v, expected.data[i]));
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("property: layerNorm's dx sums to 0 per row and, without γ, is orthogonal to norm", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 2, max: 24 }),
      fc.integer({ min: 0, max: 1000 }),
      (rows, d, seed) => {
        const x = new Tensor(Float32Array.from(values(rows * d, seed, -3, 3)), [rows, d]);
        x.requiresGrad = true;
        const y = layerNorm(x, { eps: 0 }); // ε breaks the scale invariance: Σ dx·norm ∝ ε/(σ² + ε)
        y.backward(new Tensor(Float32Array.from(values(rows * d, seed + 1)), x.shape));
        // LN(x + c·1) = LN(x) and LN(s·x) = LN(x): dx ⟂ 1 and dx ⟂ norm (up to float32)
        for (let r = 0; r < rows; r++) {
          let s = 0, sn = 0, scale = 0;
          for (let i = 0; i < d; i++) {
            const g = x.grad!.data[r * d + i];
            s += g, sn += g * y.data[r * d + i], scale += Math.abs(g);
          }
          if (Math.abs(s) > 1e-5 * (1 + scale) || Math.abs(sn) > 1e-3 * (1 + scale)) return false;
        }
        return true;
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("property: batchNorm's dx sums to 0 over the batch per channel (training, no γ)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 12 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 1000 }),
      (positions, c, seed) => {
        const x = new Tensor(Float32Array.from(values(positions * c, seed, -3, 3)), [positions, c]);
        x.requiresGrad = true;
        batchNorm(x, { eps: 0 }).backward(
          new Tensor(Float32Array.from(values(positions * c, seed + 1)), x.shape),
        );
        // BN(x + t·1) = BN(x) per channel, so dx ⟂ 1 over the positions
        for (let j = 0; j < c; j++) {
          let s = 0, scale = 0;
          for (let m = 0; m < positions; m++) {
            s += x.grad!.data[m * c + j], scale += Math.abs(x.grad!.data[m * c + j]);
          }
          if (Math.abs(s) > 1e-5 * (1 + scale)) return false;
        }
        return true;
      },
    ),
    { numRuns: 100 },
  );
});
