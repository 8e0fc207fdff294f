/**
 * The autograd core: recording, the backward walk, accumulation, noGrad, graph
 * release, and the gradients of the tensor-core ops (broadcast arithmetic,
 * matmul with transposes and batch broadcasting, sum/mean/max, reshape) against
 * float64 finite differences of independent loops.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkGradients, values } from "./_gradcheck.ts";
import { add, div, map, mul, scale, sub } from "../lib/tensor/elementwise.ts";
import { matmul } from "../lib/tensor/matmul.ts";
import { max, mean, sum } from "../lib/tensor/reduce.ts";
import { noGrad } from "../lib/tensor/autograd.ts";
import { broadcastIndex, broadcastShapes, sizeOf } from "../lib/tensor/shape.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";

/** A float64 broadcasting binary op (the reference of add/sub/mul/div). */
function broadcast64(
  f: (x: number, y: number) => number,
  sa: number[],
  sb: number[],
): (xs: Float64Array[]) => Float64Array {
  const shape = broadcastShapes(sa, sb, "test");
  const ia = broadcastIndex(sa, shape), ib = broadcastIndex(sb, shape);
  return ([a, b]) => {
    const out = new Float64Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = f(a[ia[i]], b[ib[i]]);
    return out;
  };
}

/** Float64 batched matmul with optional transposes, batch dims broadcast (the reference of matmul). */
function matmul64(
  sa: number[],
  sb: number[],
  tA: boolean,
  tB: boolean,
): (xs: Float64Array[]) => Float64Array {
  const [ra, ca] = sa.slice(-2), [rb, cb] = sb.slice(-2);
  const m = tA ? ca : ra, k = tA ? ra : ca, n = tB ? rb : cb;
  const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2), "test");
  const ia = broadcastIndex(sa.slice(0, -2), batch), ib = broadcastIndex(sb.slice(0, -2), batch);
  return ([a, b]) => {
    const out = new Float64Array(sizeOf(batch) * m * n);
    for (let t = 0; t < ia.length; t++) {
      const ao = ia[t] * m * k, bo = ib[t] * k * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) {
            const av = tA ? a[ao + p * m + i] : a[ao + i * k + p];
            const bv = tB ? b[bo + j * k + p] : b[bo + p * n + j];
            s += av * bv;
          }
          out[t * m * n + i * n + j] = s;
        }
      }
    }
    return out;
  };
}

/** Float64 reduction over `axes` of `shape` (the reference of sum/mean/max). */
function reduce64(
  kind: "sum" | "mean" | "max",
  shape: number[],
  axes: number[],
): (xs: Float64Array[]) => Float64Array {
  const kept = shape.map((s, d) => (axes.includes(d) ? 1 : s));
  const idx = broadcastIndex(kept, shape);
  const count = axes.reduce((c, d) => c * shape[d], 1);
  return ([x]) => {
    const out = new Float64Array(sizeOf(kept)).fill(kind === "max" ? -Infinity : 0);
    for (let i = 0; i < x.length; i++) {
      out[idx[i]] = kind === "max" ? Math.max(out[idx[i]], x[i]) : out[idx[i]] + x[i];
    }
    if (kind === "mean") { for (let i = 0; i < out.length; i++) out[i] /= count; }
    return out;
  };
}

Deno.test("broadcast arithmetic: gradients reduce to each input's shape", async (t) => {
  const cases: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
    ["add", add, (x, y) => x + y],
    ["sub", sub, (x, y) => x - y],
    ["mul", mul, (x, y) => x * y],
    ["div", div, (x, y) => x / y],
  ];
  const shapes: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[2, 3], [3]],
    [[4, 1, 3], [2, 1]],
    [[1], [2, 2]],
    [[], [3, 2]],
    [[3, 2], []],
    [[3], [2, 3]],
  ];
  for (const [name, op, f] of cases) {
    for (const [sa, sb] of shapes) {
      await t.step(`${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => {
        const a = values(sizeOf(sa), 1);
        // keep divisors away from 0, where finite differences are meaningless
        const b = name === "div" ? values(sizeOf(sb), 2, 0.5, 2) : values(sizeOf(sb), 2);
        checkGradients(name, ([x, y]) => op(x, y), broadcast64(f, sa, sb), [a, b], [sa, sb]);
      });
    }
  }
  await t.step("scale", () => {
    checkGradients("scale", ([x]) => scale(x, -2.5), ([x]) => x.map((v) => -2.5 * v), [
      values(6, 3),
    ], [[2, 3]]);
  });
  await t.step("a number operand gets no gradient and needs none", () => {
    const x = tensor([1, 2]);
    x.requiresGrad = true;
    sum(mul(3, add(x, 1))).backward();
    assert.deepEqual(x.grad!.toArray(), [3, 3]);
  });
});

Deno.test("matmul: gradients for every transpose and broadcast batch dims", async (t) => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[3, 4], [4, 5], false, false],
    [[3, 4], [5, 4], false, true],
    [[4, 3], [4, 5], true, false],
    [[4, 3], [5, 4], true, true],
    [[2, 3, 4], [4, 2], false, false],
    [[3, 4], [2, 2, 4, 5], false, false],
    [[2, 1, 4, 3], [3, 5, 4], true, true],
  ];
  for (const [sa, sb, tA, tB] of cases) {
    await t.step(
      `${JSON.stringify(sa)}${tA ? "ᵀ" : ""} x ${JSON.stringify(sb)}${tB ? "ᵀ" : ""}`,
      () => {
        checkGradients(
          "matmul",
          ([a, b]) => matmul(a, b, { transposeA: tA, transposeB: tB }),
          matmul64(sa, sb, tA, tB),
          [values(sizeOf(sa), 4), values(sizeOf(sb), 5)],
          [sa, sb],
        );
      },
    );
  }
  await t.step("a product large enough for the WebAssembly kernels", () => {
    const sa = [48, 40], sb = [40, 36];
    checkGradients(
      "matmul",
      ([a, b]) => matmul(a, b),
      matmul64(sa, sb, false, false),
      [values(sizeOf(sa), 6), values(sizeOf(sb), 7)],
      [sa, sb],
    );
  });
});

Deno.test("sum, mean and max: gradients over axes, with and without keepDims", async (t) => {
  const shape = [2, 3, 4];
  const axesCases: (number[] | undefined)[] = [
    undefined,
    [0],
    [1],
    [2],
    [0, 1],
    [1, 2],
    [0, 2],
    [-1],
  ];
  for (const kind of ["sum", "mean", "max"] as const) {
    for (const axes of axesCases) {
      for (const keepDims of [false, true]) {
        await t.step(`${kind} axes ${JSON.stringify(axes)} keepDims ${keepDims}`, () => {
          const op = { sum, mean, max }[kind];
          const resolved = axes === undefined ? [0, 1, 2] : axes.map((a) => (a + 3) % 3);
          checkGradients(
            kind,
            ([x]) => op(x, axes, { keepDims }),
            reduce64(kind, shape, resolved),
            [values(24, 8)],
            [shape],
          );
        });
      }
    }
  }
  await t.step("max shares the gradient between tied maxima, as torch.amax", () => {
    const x = tensor([[1, 3, 3], [2, 0, 1]]);
    x.requiresGrad = true;
    max(x, 1).backward(tensor([1, 10]));
    assert.deepEqual(x.grad!.toArray(), [[0, 0.5, 0.5], [10, 0, 0]]);
  });
});

Deno.test("reshape passes the gradient back in the input's shape", () => {
  checkGradients(
    "reshape",
    ([x]) => mul(x.reshape([3, 2]), tensor([[1], [2], [3]])),
    ([x]) => x.map((v, i) => v * (Math.floor(i / 2) + 1)),
    [values(6, 9)],
    [[2, 3]],
  );
});

Deno.test("backward() accumulates into .grad, as PyTorch does", () => {
  const w = tensor([1, 2, 3]);
  w.requiresGrad = true;
  const x = tensor([4, 5, 6]);
  sum(mul(w, x)).backward();
  sum(mul(w, x)).backward();
  assert.deepEqual(w.grad!.toArray(), [8, 10, 12]);
  // a tensor used twice in one graph gets both contributions: d(Σ w²)/dw = 2w
  const v = tensor([1, -2]);
  v.requiresGrad = true;
  sum(mul(v, v)).backward();
  assert.deepEqual(v.grad!.toArray(), [2, -4]);
});

Deno.test("noGrad() and inputs without requiresGrad record nothing", () => {
  const w = tensor([1, 2]);
  const y = mul(w, 2);
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  w.requiresGrad = true;
  const z = noGrad(() => matmul(w.reshape([1, 2]), w.reshape([2, 1])));
  assert.equal(z.requiresGrad, false);
  assert.equal(z.gradFn, null);
  assert.equal(mul(w, 2).gradFn, "mul");
  assert.throws(() => noGrad(() => Promise.resolve(1)), TypeError);
});

Deno.test("the graph is released after backward() unless retainGraph", () => {
  const w = tensor([1, 2]);
  w.requiresGrad = true;
  const loss = sum(mul(w, w));
  loss.backward(undefined, { retainGraph: true });
  loss.backward();
  assert.deepEqual(w.grad!.toArray(), [4, 8]);
  assert.throws(() => loss.backward(), /freed by an earlier backward\(\)/);
});

Deno.test("a chain of 100,000 ops backpropagates without recursion", () => {
  const w = tensor([1]);
  w.requiresGrad = true;
  let y: Tensor = w;
  for (let i = 0; i < 100_000; i++) y = add(y, 1e-5);
  sum(y).backward();
  assert.deepEqual(w.grad!.toArray(), [1]);
});

Deno.test("autograd errors say what went wrong", () => {
  const w = tensor([1, 2]);
  assert.throws(() => sum(w).backward(), /does not require grad/);
  assert.throws(() => {
    w.requiresGrad = "true" as unknown as boolean;
  }, TypeError);
  w.requiresGrad = true;
  const y = mul(w, 3);
  assert.throws(() => y.backward(), /one-element output/);
  assert.throws(() => y.backward(tensor([1, 2, 3])), /gradient has shape \[3\]/);
  assert.throws(() => {
    y.requiresGrad = false;
  }, /only a leaf/);
  assert.throws(() => map(w, (v) => v * v), /map: no gradient is defined/);
  assert.equal(w.detach().requiresGrad, false);
});

Deno.test("property: the gradient of Σ(a·b) is b for any broadcastable shapes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 1000 }),
      (shape, seed) => {
        const a = new Tensor(Float32Array.from(values(sizeOf(shape), seed)), shape);
        const b = new Tensor(Float32Array.from(values(sizeOf(shape), seed + 1)), shape);
        a.requiresGrad = true;
        sum(mul(a, b)).backward();
        assert.deepEqual(a.grad!.data, b.data);
      },
    ),
    { numRuns: 50 },
  );
});
