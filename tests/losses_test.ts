/**
 * The losses (crossEntropy, nllLoss, mseLoss): forward and gradient against
 * independent float64 loops and their finite differences, against PyTorch's
 * F.cross_entropy (tests/fixtures/make_optim_fixtures.py), and their edge cases:
 * ignoreIndex, labelSmoothing, the three reductions, [..., C] shapes, extreme
 * and non-finite logits, and the argument errors.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkGradients, values } from "./_gradcheck.ts";
import { loadFixture } from "./_fixtures.ts";
import { crossEntropy } from "../lib/layers/cross_entropy.ts";
import { nllLoss } from "../lib/layers/nll_loss.ts";
import { mseLoss } from "../lib/layers/mse_loss.ts";
import { logSoftmax } from "../lib/tensor/softmax.ts";
import { readSafetensorsMetadata } from "../lib/io/safetensors.ts";
import { assertClose } from "../lib/testing/assert_close.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";

type Reduction = "mean" | "sum" | "none";

/** Float64 cross-entropy, written from the definition with log-softmax by a plain loop. */
function crossEntropy64(
  z: Float64Array,
  y: readonly number[],
  c: number,
  { ignoreIndex = -100, eps = 0, reduction = "mean" as Reduction } = {},
): Float64Array {
  const n = y.length;
  const rows = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === ignoreIndex) continue;
    count++;
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, z[i * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(z[i * c + j] - m);
    const logZ = m + Math.log(s);
    let loss = 0;
    for (let j = 0; j < c; j++) {
      const q = (j === y[i] ? 1 - eps : 0) + eps / c; // the smoothed target distribution
      loss -= q * (z[i * c + j] - logZ);
    }
    rows[i] = loss;
  }
  if (reduction === "none") return rows;
  const total = rows.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === "mean" ? total / count : total);
}

function targets(n: number, c: number, seed: number, ignoreAt: number[] = [], ignore = -100) {
  const u = values(n, seed, 0, c);
  const y = Array.from(u, (v) => Math.floor(v));
  for (const i of ignoreAt) y[i] = ignore;
  return y;
}

Deno.test("crossEntropy: gradients match finite differences for every reduction and smoothing", () => {
  for (const reduction of ["mean", "sum", "none"] as const) {
    for (const eps of [0, 0.1, 1]) {
      const [n, c] = [5, 4];
      const y = targets(n, c, 3, [2]);
      checkGradients(
        `crossEntropy ${reduction} ε=${eps}`,
        ([z]) => crossEntropy(z, y, { reduction, labelSmoothing: eps }),
        ([z]) => crossEntropy64(z, y, c, { reduction, eps }),
        [values(n * c, 7, -3, 3)],
        [[n, c]],
      );
    }
  }
});

Deno.test("crossEntropy: [B, T, C] logits with a Tensor target equal the flattened [N, C] loss", () => {
  const [b, t, c] = [2, 3, 5];
  const y = targets(b * t, c, 4, [1, 4]);
  const z = values(b * t * c, 9, -2, 2);
  const target = new Tensor(Float32Array.from(y), [b, t]);
  checkGradients(
    "crossEntropy [B, T, C]",
    ([x]) => crossEntropy(x, target, { labelSmoothing: 0.2 }),
    ([x]) => crossEntropy64(x, y, c, { eps: 0.2 }),
    [z],
    [[b, t, c]],
  );
  const none3 = crossEntropy(new Tensor(Float32Array.from(z), [b, t, c]), Int32Array.from(y), {
    reduction: "none",
  });
  assert.deepEqual(none3.shape, [b, t]);
  const none2 = crossEntropy(new Tensor(Float32Array.from(z), [b * t, c]), y, {
    reduction: "none",
  });
  assert.deepEqual([...none3.data], [...none2.data]);
  // logits [C] take one target, a scalar loss
  const one = crossEntropy(tensor([1, 2, 3]), [2]);
  assertClose(one.data, Float32Array.from(crossEntropy64(Float64Array.of(1, 2, 3), [2], 3)), {
    rtol: 1e-6,
  });
});

Deno.test("crossEntropy: an ignoreIndex that is a class index ignores that class's rows", () => {
  const [n, c] = [6, 3];
  const y = [0, 1, 2, 1, 2, 0];
  checkGradients(
    "crossEntropy ignoreIndex=1",
    ([z]) => crossEntropy(z, y, { ignoreIndex: 1, labelSmoothing: 0.05 }),
    ([z]) => crossEntropy64(z, y, c, { ignoreIndex: 1, eps: 0.05 }),
    [values(n * c, 5, -2, 2)],
    [[n, c]],
  );
});

Deno.test("crossEntropy matches PyTorch F.cross_entropy (loss and gradient)", () => {
  const fx = loadFixture("optim.safetensors");
  const meta = JSON.parse(
    readSafetensorsMetadata(
      Deno.readFileSync(new URL("./fixtures/optim.safetensors", import.meta.url)),
    )
      .cases,
  );
  const cases = Object.keys(meta).filter((k) => k.startsWith("ce."));
  assert.equal(cases.length, 7);
  for (const p of cases) {
    const o = meta[p] as { ignore_index?: number; label_smoothing?: number; reduction?: Reduction };
    const logits = fx[`${p}.logits`];
    logits.requiresGrad = true;
    const loss = crossEntropy(logits, fx[`${p}.target`].reshape(logits.shape.slice(0, -1)), {
      ignoreIndex: o.ignore_index,
      labelSmoothing: o.label_smoothing,
      reduction: o.reduction,
    });
    const want = fx[`${p}.loss`];
    assert.deepEqual(loss.shape, want.shape, p);
    const tol = (t: Tensor) => ({
      rtol: 1e-3,
      atol: 1e-4 * Math.max(...Array.from(t.data, Math.abs)),
    });
    assertClose(loss.data, want.data, tol(want));
    if (loss.shape.length === 0) loss.backward();
    else loss.backward(fx[`${p}.upstream`]);
    try {
      assertClose(logits.grad!.data, fx[`${p}.grad`].data, tol(fx[`${p}.grad`]));
    } catch (e) {
      throw new Error(`${p} gradient: ${(e as Error).message}`);
    }
  }
});

Deno.test("crossEntropy: extreme logits stay finite; NaN reaches a counted row and never an ignored one", () => {
  const z = tensor([[1e30, -1e30, 0], [-3e38, 3e38, 1]]);
  z.requiresGrad = true;
  const loss = crossEntropy(z, [1, 1], { reduction: "none" });
  assert.deepEqual([...loss.data], [Math.fround(2e30), 0]);
  loss.backward(tensor([1, 1]));
  assert.deepEqual(z.grad!.toArray(), [[1, -1, 0], [0, 0, 0]]);
  // −Infinity for a class other than the target is a probability of 0, not a NaN
  assert.ok(Math.abs(crossEntropy(tensor([[-Infinity, 0, 0]]), [1]).data[0] - Math.LN2) < 1e-6);
  // label smoothing puts mass on a −Infinity class: the loss is honestly infinite
  assert.equal(
    crossEntropy(tensor([[-Infinity, 0]]), [1], { labelSmoothing: 0.1 }).data[0],
    Infinity,
  );
  const withNaN = tensor([[NaN, 0], [1, 2]]);
  withNaN.requiresGrad = true;
  assert.ok(Number.isNaN(crossEntropy(withNaN, [0, 1]).data[0]));
  const hidden = crossEntropy(withNaN, [-100, 1], { labelSmoothing: 0.3 });
  assert.ok(Number.isFinite(hidden.data[0]));
  hidden.backward();
  assert.deepEqual([...withNaN.grad!.data.slice(0, 2)], [0, 0]);
  assert.ok(withNaN.grad!.data.slice(2).every(Number.isFinite));
  // every row ignored: "mean" is 0/0 = NaN as in PyTorch, "sum" is 0
  assert.ok(Number.isNaN(crossEntropy(tensor([[1, 2]]), [-100]).data[0]));
  assert.equal(crossEntropy(tensor([[1, 2]]), [-100], { reduction: "sum" }).data[0], 0);
});

Deno.test("crossEntropy equals nllLoss(logSoftmax(z)) without smoothing", () => {
  const [n, c] = [7, 6];
  const z = new Tensor(Float32Array.from(values(n * c, 21, -4, 4)), [n, c]);
  const y = targets(n, c, 22, [3]);
  for (const reduction of ["mean", "sum", "none"] as const) {
    assertClose(
      crossEntropy(z, y, { reduction }).data,
      nllLoss(logSoftmax(z), y, { reduction }).data,
      {
        rtol: 1e-6,
        atol: 1e-6,
      },
    );
  }
});

Deno.test("crossEntropy: each counted gradient row sums to 0 and ignored rows are 0 (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 7 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 1000 }),
      (n, c, eps, seed) => {
        const y = targets(n, c, seed, [0]);
        const z = new Tensor(Float32Array.from(values(n * c, seed + 1, -5, 5)), [n, c]);
        z.requiresGrad = true;
        crossEntropy(z, y, { labelSmoothing: eps, reduction: "sum" }).backward();
        const g = z.grad!.data;
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < c; j++) s += g[i * c + j];
          if (y[i] === -100) assert.ok(g.slice(i * c, i * c + c).every((v) => v === 0));
          else assert.ok(Math.abs(s) < 1e-5, `row ${i} sums to ${s}`);
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("crossEntropy and nllLoss: bad targets and options are errors naming the index and value", () => {
  const z = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.throws(
    () => crossEntropy(z, [0, 3]),
    /crossEntropy: target\[1\] = 3 is not a class index in \[0, 3\)/,
  );
  assert.throws(() => crossEntropy(z, [0, -1]), /target\[1\] = -1 .*ignoreIndex -100/);
  assert.throws(() => crossEntropy(z, [0.5, 1]), /target\[0\] = 0.5/);
  assert.throws(() => nllLoss(z, Int32Array.of(7, 0)), /nllLoss: target\[0\] = 7/);
  assert.throws(
    () => crossEntropy(z, [0]),
    /target has 1 class indices, but input \[2, 3\] has 2 rows/,
  );
  assert.throws(() => crossEntropy(z, tensor([0, 1, 2])), /target has shape \[3\].*shape \[2\]/);
  assert.throws(() => crossEntropy(z, "01" as never), TypeError);
  assert.throws(
    () => crossEntropy(z, [0, 1], { labelSmoothing: 1.5 }),
    /labelSmoothing must be a number in \[0, 1\], got 1.5/,
  );
  assert.throws(
    () => crossEntropy(z, [0, 1], { reduction: "avg" as never }),
    /reduction must be one of/,
  );
  assert.throws(() => crossEntropy(z, [0, 1], { ignoreIndex: "x" as never }), TypeError);
  assert.throws(() => crossEntropy(tensor(1), []), /logits must be \[\.\.\., C\]/);
  assert.throws(
    () => mseLoss(z, tensor([1, 2, 3])),
    /mseLoss: input \[2, 3\] and target \[3\] must have the same shape/,
  );
});

/** Float64 NLL of log-probabilities. */
function nll64(x: Float64Array, y: number[], c: number, reduction: Reduction): Float64Array {
  const rows = new Float64Array(y.length);
  let count = 0;
  y.forEach((t, i) => {
    if (t === -100) return;
    count++;
    rows[i] = -x[i * c + t];
  });
  if (reduction === "none") return rows;
  const s = rows.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === "mean" ? s / count : s);
}

Deno.test("nllLoss: forward and gradient match finite differences", () => {
  const [n, c] = [6, 4];
  const y = targets(n, c, 31, [4]);
  for (const reduction of ["mean", "sum", "none"] as const) {
    checkGradients(
      `nllLoss ${reduction}`,
      ([x]) => nllLoss(x, y, { reduction }),
      ([x]) => nll64(x, y, c, reduction),
      [values(n * c, 32, -3, 0)],
      [[n, c]],
    );
  }
});

Deno.test("mseLoss: forward and the gradients of both arguments match finite differences", () => {
  const shape = [3, 4];
  for (const reduction of ["mean", "sum", "none"] as const) {
    checkGradients(
      `mseLoss ${reduction}`,
      ([x, y]) => mseLoss(x, y, { reduction }),
      ([x, y]) => {
        const sq = x.map((v, i) => (v - y[i]) ** 2);
        if (reduction === "none") return sq;
        const s = sq.reduce((a, b) => a + b, 0);
        return Float64Array.of(reduction === "mean" ? s / sq.length : s);
      },
      [values(12, 41), values(12, 42)],
      [shape, shape],
    );
  }
});
