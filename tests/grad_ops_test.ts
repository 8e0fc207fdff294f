/**
 * Gradients of the shape ops (transpose, permute, slice, select, concat), of
 * softmax and logSoftmax (masked rows, NaN, large logits, every kernel path) and
 * of the activations (relu, gelu exact and tanh, silu, tanh, swiglu), each
 * against float64 central finite differences of an independent float64 loop
 * (tests/_gradcheck.ts: rtol 1e-3, atol 1e-4 × the largest magnitude).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkGradients, values } from "./_gradcheck.ts";
import { permute, transpose } from "../lib/tensor/transpose.ts";
import { concat, select, slice } from "../lib/tensor/slice.ts";
import { logSoftmax, softmax } from "../lib/tensor/softmax.ts";
import { add, mul } from "../lib/tensor/elementwise.ts";
import { matmul } from "../lib/tensor/matmul.ts";
import { sum } from "../lib/tensor/reduce.ts";
import { sizeOf } from "../lib/tensor/shape.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";
import { gelu, relu, silu, swiglu, tanh } from "../lib/layers/activations.ts";
import { erf } from "../lib/layers/erf.ts";
import { traceKernels, withKernelPath } from "../lib/kernels/registry.ts";
import { wasmReady } from "../lib/kernels/simd.ts";
import { type SoftmaxBackwardArgs, softmaxBackwardRows } from "../lib/kernels/softmax_backward.ts";
import { assertClose } from "../lib/testing/assert_close.ts";

/** `values` rounded to float32, so the float64 reference sees exactly the leaves' inputs. */
function f32values(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(Float32Array.from(values(n, seed, lo, hi)));
}

/** Row-major strides of `shape`. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Multi-index of flat position `i` in `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** Float64 permute: out[idx] = x[idx mapped through axes] (the reference of permute). */
function permute64(shape: number[], axes: number[]): (xs: Float64Array[]) => Float64Array {
  const r = shape.length;
  const norm = axes.map((a) => (a < 0 ? a + r : a));
  const outShape = norm.map((a) => shape[a]);
  const inStrides = strides(shape);
  return ([x]) => {
    const out = new Float64Array(x.length);
    for (let o = 0; o < out.length; o++) {
      const idx = unravel(o, outShape);
      let src = 0;
      for (let d = 0; d < r; d++) src += idx[d] * inStrides[norm[d]];
      out[o] = x[src];
    }
    return out;
  };
}

/** Float64 `x[..., s:e, ...]` along `axis` by multi-indices (the reference of slice). */
function slice64(shape: number[], axis: number, s: number, e: number) {
  const a = axis < 0 ? axis + shape.length : axis;
  const outShape = shape.map((d, i) => (i === a ? e - s : d));
  const st = strides(shape);
  return ([x]: Float64Array[]) => {
    const out = new Float64Array(sizeOf(outShape));
    for (let o = 0; o < out.length; o++) {
      const idx = unravel(o, outShape);
      idx[a] += s;
      out[o] = x[idx.reduce((acc, v, d) => acc + v * st[d], 0)];
    }
    return out;
  };
}

/** Float64 concatenation along `axis` by multi-indices (the reference of concat). */
function concat64(shapes: number[][], axis: number) {
  const a = axis < 0 ? axis + shapes[0].length : axis;
  const total = shapes.reduce((n, s) => n + s[a], 0);
  const outShape = shapes[0].map((d, i) => (i === a ? total : d));
  return (xs: Float64Array[]) => {
    const out = new Float64Array(sizeOf(outShape));
    for (let o = 0; o < out.length; o++) {
      const idx = unravel(o, outShape);
      let part = 0;
      while (idx[a] >= shapes[part][a]) idx[a] -= shapes[part++][a];
      const st = strides(shapes[part]);
      out[o] = xs[part][idx.reduce((acc, v, d) => acc + v * st[d], 0)];
    }
    return out;
  };
}

/** Float64 row softmax / logSoftmax over the last axis, `-Infinity` entries masked. */
function softmax64(cols: number, log: boolean) {
  return ([x]: Float64Array[]) => {
    const out = new Float64Array(x.length);
    for (let o = 0; o < x.length; o += cols) {
      let max = -Infinity;
      for (let j = 0; j < cols; j++) max = Math.max(max, x[o + j]);
      if (max === -Infinity) continue; // fully masked: softmax 0
      let z = 0;
      for (let j = 0; j < cols; j++) z += Math.exp(x[o + j] - max);
      for (let j = 0; j < cols; j++) {
        out[o + j] = log ? x[o + j] - max - Math.log(z) : Math.exp(x[o + j] - max) / z;
      }
    }
    return out;
  };
}

Deno.test("transpose and permute: the gradient is permuted back", async (t) => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [2, 0, 1]],
    [[2, 3, 4], [1, 0, 2]],
    [[2, 3, 4], [-1, 0, -2]],
    [[2, 3, 2, 3], [0, 2, 1, 3]],
    [[3, 1, 2, 2], [3, 1, 0, 2]],
    [[5], [0]],
  ];
  for (const [shape, axes] of cases) {
    await t.step(`permute ${JSON.stringify(shape)} by ${JSON.stringify(axes)}`, () => {
      checkGradients("permute", ([x]) => permute(x, axes), permute64(shape, axes), [
        f32values(sizeOf(shape), 1),
      ], [shape]);
    });
  }
  for (const shape of [[3, 4], [2, 3, 4], [2, 1, 3, 2]]) {
    await t.step(`transpose ${JSON.stringify(shape)}`, () => {
      const axes = shape.map((_, i) => i);
      [axes[shape.length - 2], axes[shape.length - 1]] = [shape.length - 1, shape.length - 2];
      const y = transpose(new Tensor(new Float32Array(sizeOf(shape)), shape));
      assert.equal(y.requiresGrad, false); // no input requires grad: nothing recorded
      checkGradients("transpose", ([x]) => transpose(x), permute64(shape, axes), [
        f32values(sizeOf(shape), 2),
      ], [shape]);
    });
  }
});

Deno.test("slice and select: the gradient lands in the range, zeros elsewhere", async (t) => {
  // [shape, axis, start, end (exclusive, as given to slice), resolved start, resolved end]
  const cases: [number[], number, number, number | undefined, number, number][] = [
    [[5, 3], 0, 1, 4, 1, 4],
    [[2, 5, 3], 1, 2, undefined, 2, 5],
    [[2, 3, 6], -1, -4, -1, 2, 5],
    [[4, 3], -2, 0, 1, 0, 1],
    [[2, 4, 3], 1, 2, 2, 2, 2], // an empty range: the gradient is all zeros
  ];
  for (const [shape, axis, start, end, s, e] of cases) {
    await t.step(`slice ${JSON.stringify(shape)} axis ${axis} [${start}, ${end})`, () => {
      checkGradients("slice", ([x]) => slice(x, axis, start, end), slice64(shape, axis, s, e), [
        f32values(sizeOf(shape), 3),
      ], [shape]);
    });
  }
  const selects: [number[], number, number, number][] = [
    [[4, 3], 0, 2, 2],
    [[2, 4, 3], 1, -1, 3],
    [[2, 3, 5], -1, 0, 0],
    [[3], 0, 1, 1],
  ];
  for (const [shape, axis, index, i] of selects) {
    await t.step(`select ${JSON.stringify(shape)} axis ${axis} index ${index}`, () => {
      checkGradients("select", ([x]) => select(x, axis, index), slice64(shape, axis, i, i + 1), [
        f32values(sizeOf(shape), 4),
      ], [shape]);
    });
  }
  await t.step("overlapping slices of one tensor add their gradients", () => {
    const shape = [3, 4];
    const a = slice64(shape, 1, 0, 3), b = slice64(shape, 1, 1, 4);
    checkGradients(
      "slice + slice",
      ([x]) => mul(slice(x, 1, 0, 3), slice(x, -1, 1)),
      (xs) => {
        const p = a(xs), q = b(xs);
        return p.map((v, i) => v * q[i]);
      },
      [f32values(12, 5)],
      [shape],
    );
  });
});

Deno.test("concat: each input gets its part of the gradient", async (t) => {
  const cases: [number[][], number][] = [
    [[[2, 1, 3], [2, 4, 3], [2, 2, 3]], 1], // three along an inner axis
    [[[2, 3, 1], [2, 3, 2], [2, 3, 3]], -1],
    [[[1, 2, 2], [3, 2, 2], [2, 2, 2]], 0],
    [[[2, 3], [2, 0], [2, 1]], 1], // an empty part
    [[[4]], 0],
  ];
  for (const [shapes, axis] of cases) {
    await t.step(`concat ${JSON.stringify(shapes)} along ${axis}`, () => {
      checkGradients(
        "concat",
        (xs) => concat(xs, axis),
        concat64(shapes, axis),
        shapes.map((s, i) => f32values(sizeOf(s), 10 + i)),
        shapes,
      );
    });
  }
  await t.step("the same tensor twice gets both parts", () => {
    checkGradients("concat", ([x]) => concat([x, x], 0), ([x]) => Float64Array.of(...x, ...x), [
      f32values(6, 6),
    ], [[2, 3]]);
  });
});

Deno.test("softmax and logSoftmax: gradients over the last axis", async (t) => {
  for (const log of [false, true]) {
    const name = log ? "logSoftmax" : "softmax";
    const op = log ? logSoftmax : softmax;
    for (const shape of [[5], [3, 4], [2, 3, 7], [2, 1]]) {
      await t.step(`${name} ${JSON.stringify(shape)}`, () => {
        const cols = shape[shape.length - 1];
        checkGradients(name, ([x]) => op(x), softmax64(cols, log), [
          f32values(sizeOf(shape), 7, -3, 3),
        ], [shape]);
      });
    }
    await t.step(`${name} of large logits (around ±1000, differences of a few units)`, () => {
      const x = f32values(24, 8, -3, 3).map((v, i) => v + (i % 2 ? 1000 : -1000));
      checkGradients(name, ([t]) => op(t), softmax64(6, log), [x], [[4, 6]]);
    });
    await t.step(`${name} large enough for the WebAssembly kernels ([8, 64])`, () => {
      const x = f32values(512, 9, -4, 4);
      const { calls } = traceKernels(() =>
        checkGradients(name, ([t]) => op(t), softmax64(64, log), [x], [[8, 64]])
      );
      const backward = calls.filter((c) => c.name === "softmaxBackward");
      assert.deepEqual(backward.map((c) => c.backend), [wasm ? "wasm" : "js"]);
    });
  }
  await t.step("softmax with -Infinity entries and a fully masked row: gradient 0 there", () => {
    const shape = [3, 4];
    const bias = Float32Array.of(0, -Infinity, 0, 0, -Infinity, 0, 0, -Infinity, ...[
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
    ]);
    const b64 = Float64Array.from(bias);
    checkGradients(
      "softmax masked",
      ([x]) => softmax(add(x, new Tensor(bias, shape))),
      ([x]) => softmax64(4, false)([x.map((v, i) => v + b64[i])]),
      [f32values(12, 11)],
      [shape],
    );
    const x = tensor([[-Infinity, -Infinity, -Infinity], [1, 2, 3]]);
    x.requiresGrad = true;
    softmax(x).backward(tensor([[1, -2, 3], [1, -2, 3]]));
    assert.ok(x.grad!.data.subarray(0, 3).every((v) => v === 0)); // ±0: 0 · (dp - 0)
    assert.ok(x.grad!.data.every(Number.isFinite));
  });
  await t.step("logSoftmax with -Infinity entries and a fully masked row", () => {
    // masked outputs are -Infinity: the loss reads the finite columns 0 and 1 of [[a, b, -inf]]
    const bias = new Tensor(Float32Array.of(0, 0, -Infinity, 0, 0, -Infinity), [2, 3]);
    checkGradients(
      "logSoftmax masked",
      ([x]) => slice(logSoftmax(add(x, bias)), -1, 0, 2),
      ([x]) => {
        const out = new Float64Array(4);
        for (let r = 0; r < 2; r++) {
          const a = x[3 * r], b = x[3 * r + 1], m = Math.max(a, b);
          const lse = m + Math.log(Math.exp(a - m) + Math.exp(b - m));
          out[2 * r] = a - lse;
          out[2 * r + 1] = b - lse;
        }
        return out;
      },
      [f32values(6, 12)],
      [[2, 3]],
    );
    // PyTorch's log_softmax backward, dy - e^y Σ dy, passes dy through where y = -inf;
    // a fully masked row gets 0
    const x = tensor([[0, -Infinity], [-Infinity, -Infinity]]);
    x.requiresGrad = true;
    logSoftmax(x).backward(tensor([[2, 5], [4, -1]]));
    const total = 2 + 5;
    assert.deepEqual(Array.from(x.grad!.data), [2 - 1 * total, 5 - 0 * total, 0, 0]);
  });
  await t.step("a NaN in a forward row makes that row's gradient NaN, not its neighbours'", () => {
    for (const op of [softmax, logSoftmax]) {
      const x = tensor([[1, NaN, 2], [0.5, -1, 3]]);
      x.requiresGrad = true;
      op(x).backward(tensor([[1, 2, 3], [1, 2, 3]]));
      const g = Array.from(x.grad!.data);
      assert.ok(g.slice(0, 3).every(Number.isNaN), `${op.name}: ${g}`);
      assert.ok(g.slice(3).every(Number.isFinite), `${op.name}: ${g}`);
    }
  });
  await t.step("attention-shaped composition: softmax(Q Kᵀ) V", () => {
    const [tq, tk, d] = [3, 4, 2];
    checkGradients(
      "softmax(QKᵀ)V",
      ([q, k, v]) => matmul(softmax(matmul(q, transpose(k))), v),
      ([q, k, v]) => {
        const s = new Float64Array(tq * tk);
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) {
            for (let c = 0; c < d; c++) s[i * tk + j] += q[i * d + c] * k[j * d + c];
          }
        }
        const p = softmax64(tk, false)([s]);
        const out = new Float64Array(tq * d);
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) {
            for (let c = 0; c < d; c++) out[i * d + c] += p[i * tk + j] * v[j * d + c];
          }
        }
        return out;
      },
      [f32values(tq * d, 13), f32values(tk * d, 14), f32values(tk * d, 15)],
      [[tq, d], [tk, d], [tk, d]],
    );
  });
});

const wasm = wasmReady();

Deno.test("softmaxBackward: every kernel path gives the reference's gradient", () => {
  const rows = 9, cols = 67; // odd widths exercise the vector tails
  const x = tensor(Array.from(values(rows * cols, 20, -5, 5))).reshape([rows, cols]);
  const bias = new Float32Array(rows * cols);
  for (let j = 0; j < cols; j++) bias[j] = -Infinity; // row 0 fully masked
  for (let j = 0; j < cols; j += 3) bias[cols + j] = -Infinity; // row 1 partly
  const logits = add(x, new Tensor(bias, [rows, cols]));
  const dy = Float32Array.from(values(rows * cols, 21));
  for (const log of [false, true]) {
    const y = (log ? logSoftmax : softmax)(logits).data;
    const run = (path: string) => {
      const dx = new Float32Array(rows * cols);
      const args: SoftmaxBackwardArgs = { y, dy, dx, rows, cols, log };
      const { calls } = traceKernels(() => withKernelPath(path, () => softmaxBackwardRows(args)));
      return { dx, backend: calls[0].backend };
    };
    const ref = run("reference");
    assert.equal(ref.backend, "reference");
    assert.ok(ref.dx.subarray(0, cols).every((v) => v === 0));
    // no threaded kernel: a row backward is one pass over memory, not worth waking workers
    const expected = { js: "js", wasm: wasm ? "wasm" : "js", threaded: wasm ? "wasm" : "js" };
    for (const [path, backend] of Object.entries(expected)) {
      const { dx, backend: ran } = run(path);
      assert.equal(ran, backend);
      assertClose(dx, ref.dx, { rtol: 1e-5, atol: 1e-6 });
      assert.ok(dx.subarray(0, cols).every((v) => v === 0), `${path}: masked row`);
    }
  }
});

Deno.test("activations: relu, gelu (erf and tanh), silu, tanh, swiglu", async (t) => {
  const phi = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
  const c = Math.sqrt(2 / Math.PI);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const unary: [string, (x: Tensor) => Tensor, (v: number) => number][] = [
    ["relu", relu, (v) => Math.max(0, v)],
    ["gelu", (x) => gelu(x), phi],
    [
      "gelu tanh",
      (x) => gelu(x, { approximate: "tanh" }),
      (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))),
    ],
    ["silu", silu, (v) => v * sig(v)],
    ["tanh", tanh, Math.tanh],
  ];
  for (const [name, op, f] of unary) {
    for (const shape of [[7], [3, 5], [2, 2, 6]]) {
      await t.step(`${name} ${JSON.stringify(shape)}`, () => {
        checkGradients(name, ([x]) => op(x), ([x]) => x.map(f), [
          f32values(sizeOf(shape), 30 + shape.length, -6, 6),
        ], [shape]);
      });
    }
  }
  await t.step("relu at 0 has gradient 0 (PyTorch's convention)", () => {
    const x = tensor([0, -0, 1, -1]);
    x.requiresGrad = true;
    sum(relu(x)).backward();
    assert.deepEqual(Array.from(x.grad!.data), [0, 0, 1, 0]);
  });
  await t.step("relu backward is dy · [y > 0 or NaN] for any bits, NaN and ±0 included", () => {
    // the bit trick in relu's backward against the float formula it replaces, on
    // arbitrary float32 bit patterns of x and dy (NaN, ±Infinity, ±0, subnormals)
    const special = [NaN, -NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 3, -3];
    const f32 = fc.oneof(
      fc.constantFrom(...special),
      fc.integer({ min: 0, max: 0xffffffff }).map((b) =>
        new Float32Array(Uint32Array.of(b).buffer)[0]
      ),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(f32, f32), { minLength: 1, maxLength: 40 }), (pairs) => {
        const x = tensor(pairs.map(([v]) => v));
        const dy = tensor(pairs.map(([, d]) => d));
        x.requiresGrad = true;
        relu(x).backward(dy);
        const want = pairs.map(([v, d]) => Math.fround(d * (v > 0 || v !== v ? 1 : 0)));
        assert.deepEqual(Array.from(x.grad!.data), want);
      }),
      { numRuns: 200 },
    );
  });
  for (const shape of [[6], [3, 4], [2, 2, 3]]) {
    await t.step(`swiglu ${JSON.stringify(shape)}`, () => {
      const n = sizeOf(shape);
      checkGradients(
        "swiglu",
        ([g, u]) => swiglu(g, u),
        ([g, u]) => g.map((v, i) => v * sig(v) * u[i]),
        [f32values(n, 40, -5, 5), f32values(n, 41, -2, 2)],
        [shape, shape],
      );
    });
  }
  await t.step("swiglu with the same tensor as gate and up adds both paths", () => {
    checkGradients("swiglu", ([x]) => swiglu(x, x), ([x]) => x.map((v) => v * v * sig(v)), [
      f32values(8, 42, -3, 3),
    ], [[2, 4]]);
  });
});

Deno.test("properties: softmax gradients sum to 0 per row; shape-op round trips pass dy through", async (t) => {
  await t.step(
    "Σ_j dx_j = 0 on every row (softmax is shift invariant), 0 at masked entries",
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 0, max: 1 << 30 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (rows, cols, seed, maskRate) => {
            const n = rows * cols;
            const logits = Float32Array.from(values(n, seed, -20, 20));
            const hide = values(n, seed + 1, 0, 1);
            for (let i = 0; i < n; i++) if (hide[i] < maskRate) logits[i] = -Infinity;
            const dy = new Tensor(Float32Array.from(values(n, seed + 2)), [rows, cols]);
            for (const op of [softmax, logSoftmax]) {
              const x = new Tensor(logits.slice(), [rows, cols]);
              x.requiresGrad = true;
              op(x).backward(dy);
              const g = x.grad!.data;
              for (let r = 0; r < rows; r++) {
                let total = 0, scale = 0;
                let masked = true;
                for (let j = 0; j < cols; j++) {
                  const i = r * cols + j;
                  total += g[i];
                  scale += Math.abs(g[i]) + Math.abs(dy.data[i]);
                  if (logits[i] !== -Infinity) masked = false;
                  // softmax: p = 0 there; logSoftmax passes dy through (PyTorch's formula)
                  if (logits[i] === -Infinity && op === softmax) assert.equal(Math.abs(g[i]), 0);
                }
                if (masked) assert.ok(g.subarray(r * cols, (r + 1) * cols).every((v) => v === 0));
                assert.ok(Math.abs(total) <= 1e-5 * Math.max(scale, 1e-30), `${op.name} row ${r}`);
              }
            }
          },
        ),
        { numRuns: 60 },
      );
    },
  );
  await t.step("concat(slices) and permute then its inverse: dx = dy exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 1 << 30 }),
        (shape, axisSeed, seed) => {
          const n = sizeOf(shape);
          const axis = axisSeed % shape.length;
          const cut = seed % (shape[axis] + 1);
          const dy = new Tensor(Float32Array.from(values(n, seed)), shape);
          const x = new Tensor(Float32Array.from(values(n, seed + 1)), shape);
          x.requiresGrad = true;
          concat([slice(x, axis, 0, cut), slice(x, axis, cut)], axis).backward(dy);
          assert.deepEqual(x.grad!.data, dy.data);
          // a rotation of the axes and its inverse
          const axes = shape.map((_, i) => (i + 1 + axis) % shape.length);
          const inverse = new Array<number>(shape.length);
          axes.forEach((a, i) => (inverse[a] = i));
          const z = new Tensor(x.data, shape);
          z.requiresGrad = true;
          permute(permute(z, axes), inverse).backward(dy);
          assert.deepEqual(z.grad!.data, dy.data);
        },
      ),
      { numRuns: 60 },
    );
  });
});
