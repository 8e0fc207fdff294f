/**
 * Gradients of the layers (issue 11, items 2 and 6): each layer w.r.t. its
 * input and each parameter against float64 central finite differences of an
 * independent float64 forward loop (tests/_gradcheck.ts, rtol 1e-3, atol 1e-4
 * × max), on small shapes; plus linear and layerNorm at sizes where the
 * WebAssembly and threaded kernels run, against float64 analytic loops, on
 * every kernel path.
 */

import assert from "node:assert/strict";
import { checkGradients, values } from "./_gradcheck.ts";
import { assertClose } from "../lib/testing/assert_close.ts";
import { setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { traceKernels, withKernelPath } from "../lib/kernels/registry.ts";
import { linear, linearStacked } from "../lib/layers/linear.ts";
import { layerNorm } from "../lib/layers/layer_norm.ts";
import { rmsNorm } from "../lib/layers/rms_norm.ts";
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
    const [x, w, b] = [[x64, [2, 48, inF]], [w64, [outF, inF]], [b64, [outF]]].map(
      ([v, s]) => {
        const t = new Tensor(Float32Array.from(v as Float64Array), s as number[]);
        t.requiresGrad = true;
        return t;
      },
    );
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
    const [x, w, b] = [[x64, [4, 64, d]], [w64, [d]], [b64, [d]]].map(([v, sh]) => {
      const t = new Tensor(Float32Array.from(v as Float64Array), sh as number[]);
      t.requiresGrad = true;
      return t;
    });
    layerNorm(x, { weight: w, bias: b }).backward(new Tensor(Float32Array.from(dy64), x.shape));
    return [x.grad!, w.grad!, b.grad!];
  });
  const expected = [dx, dw, db];
  for (const { path, result, backends } of runs) {
    result.forEach((got, k) => {
      const max = Math.max(...Array.from(expected[k], Math.abs));
      assertClose(got.data, Float32Array.from(expected[k]), { rtol: 1e-3, atol: 1e-4 * max });
    });
    assert.ok(backends.includes("layerNormBackward:reference"), `${path}: ${backends}`);
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
