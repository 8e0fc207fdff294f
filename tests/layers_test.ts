/**
 * lib/layers against independent float64 loops written here, plus property
 * tests (fast-check). Golden PyTorch comparisons are in layers_pytorch_test.ts,
 * positional encodings in positional_encoding_test.ts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { assertClose } from "../lib/testing/assert_close.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn, type Tensor, tensor, zeros } from "../lib/tensor/tensor.ts";
import { scale } from "../lib/tensor/elementwise.ts";
import { erf, erfc } from "../lib/layers/erf.ts";
import { gelu, relu, silu, swiglu, tanh } from "../lib/layers/activations.ts";
import { LayerNorm, layerNorm } from "../lib/layers/layer_norm.ts";
import { RMS_NORM_DEFAULT_EPS, RMSNorm, rmsNorm } from "../lib/layers/rms_norm.ts";
import { Dropout, dropout } from "../lib/layers/dropout.ts";
import { FeedForward, type FeedForwardActivation } from "../lib/layers/feed_forward.ts";
import { AddNorm, addNorm } from "../lib/layers/add_norm.ts";
import { Embedding, embedding } from "../lib/layers/embedding.ts";
import { linear, linearStacked } from "../lib/layers/linear.ts";

// ---------------------------------------------------------------------------
// Float64 references, written from the formulas (not from the library).

/** erf by its Maclaurin series, Σ (-1)^n x^(2n+1) / (n! (2n+1)): cancellation stays below 1e-14 for |x| <= 3. */
function erfSeriesReference(x: number): number {
  let term = x; // (-1)^n x^(2n+1) / n!
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-18) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** erfc(x) for x > 3 as (2/√π) ∫_x^{x+12} e^{-t²} dt by Simpson's rule, h = 2.5e-4 (error < 1e-14). */
function erfcTailReference(x: number): number {
  const n = 48000, h = 12 / n;
  let s = Math.exp(-x * x) + Math.exp(-((x + 12) ** 2));
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((x + i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

function erfReference(x: number): number {
  if (Math.abs(x) <= 3) return erfSeriesReference(x);
  return Math.sign(x) * (1 - erfcTailReference(Math.abs(x)));
}

function erfcReference(x: number): number {
  return x > 3 ? erfcTailReference(x) : 1 - erfReference(x);
}

/** Rows of the last axis of a tensor, as float64 arrays. */
function rows(x: Tensor): number[][] {
  const d = x.shape[x.rank - 1];
  const out: number[][] = [];
  for (let r = 0; r < x.size; r += d) out.push(Array.from(x.data.subarray(r, r + d)));
  return out;
}

/** y = x Wᵀ + b on one row, float64. */
function linearRow(x: number[], w: Tensor, b: Tensor | null): number[] {
  const [outF, inF] = w.shape;
  return Array.from({ length: outF }, (_, o) => {
    let s = b ? b.data[o] : 0;
    for (let i = 0; i < inF; i++) s += x[i] * w.data[o * inF + i];
    return s;
  });
}

function layerNormRow(
  x: number[],
  w: ArrayLike<number> | null,
  b: ArrayLike<number> | null,
  eps: number,
) {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) =>
    ((v - mean) / Math.sqrt(variance + eps)) * (w ? w[i] : 1) + (b ? b[i] : 0)
  );
}

const geluExact = (v: number) => 0.5 * v * erfcReference(-v / Math.SQRT2);
const geluTanh = (v: number) =>
  0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const siluRef = (v: number) => v / (1 + Math.exp(-v));

/** A random tensor with a seed, scaled. */
const rnd = (shape: number[], seed: number, s = 1) => scale(randn(shape, new Rng(seed)), s);

// ---------------------------------------------------------------------------

Deno.test("erf()", async (t) => {
  await t.step("erf() matches a float64 series and quadrature to 1e-13 on [-6, 6]", () => {
    let worst = 0;
    for (let i = -6000; i <= 6000; i += Math.abs(i) <= 3000 ? 1 : 25) {
      const x = i / 1000;
      worst = Math.max(worst, Math.abs(erf(x) - erfReference(x)));
    }
    assert.ok(worst < 1e-13, `worst |erf - series| = ${worst}`);
  });

  await t.step("erf() matches Python's math.erf at reference points", () => {
    // /usr/bin/python3 -c "import math; print([math.erf(x) for x in ...])"
    const points: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2.4999, 0.9995928300996666],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [-1.5, -0.9661051464753108],
    ];
    for (const [x, e] of points) {
      assert.ok(Math.abs(erf(x) - e) < 2e-15, `erf(${x}) = ${erf(x)}, expected ${e}`);
    }
  });

  await t.step("erfc() keeps relative precision in the tail", () => {
    // math.erfc(4) and math.erfc(10)
    assert.ok(Math.abs(erfc(4) / 1.541725790028002e-8 - 1) < 1e-11);
    assert.ok(Math.abs(erfc(10) / 2.088487583762545e-45 - 1) < 1e-11);
    assert.ok(Math.abs(erfc(-3) - (1 - erf(-3))) < 1e-15);
  });

  await t.step("erfc() matches Simpson quadrature to 1e-10 relative on (3, 9]", () => {
    for (let x = 3.05; x <= 9; x += 0.05) {
      const r = erfc(x) / erfcTailReference(x) - 1;
      assert.ok(Math.abs(r) < 1e-10, `erfc(${x}) relative error ${r}`);
    }
  });

  await t.step("erf() is odd and handles NaN and infinities", () => {
    for (const x of [0.3, 1.7, 2.6, 4.2]) assert.equal(erf(-x), -erf(x));
    assert.ok(Number.isNaN(erf(NaN)) && Number.isNaN(erfc(NaN)));
    assert.deepEqual([erf(Infinity), erf(-Infinity), erfc(Infinity), erfc(-Infinity)], [
      1,
      -1,
      0,
      2,
    ]);
  });
});

Deno.test("activations", async (t) => {
  const x = tensor([
    ...Array.from({ length: 401 }, (_, i) => (i - 200) / 20),
    ...rnd([200], 1, 4).data,
  ]);
  const cases: [string, (x: Tensor) => Tensor, (v: number) => number][] = [
    ["relu", relu, (v) => Math.max(0, v)],
    ["gelu", gelu, geluExact],
    ["gelu tanh", (x) => gelu(x, { approximate: "tanh" }), geluTanh],
    ["silu", silu, siluRef],
    ["tanh", tanh, Math.tanh],
  ];
  for (const [name, f, ref] of cases) {
    await t.step(`${name}() matches a float64 loop`, () => {
      const y = f(x);
      assert.deepEqual(y.shape, x.shape);
      assertClose(y, Array.from(x.data, ref), { rtol: 1e-6, atol: 1e-12 });
    });
  }

  await t.step("gelu() tail stays accurate, relative to x·Φ(x)", () => {
    // x·Φ(x) for x = -6, -8: 6 · 9.8658765e-10, 8 · 6.2209606e-16
    const y = gelu(tensor([-6, -8])).data;
    assert.ok(Math.abs(y[0] / (-6 * 9.865876450377012e-10) - 1) < 1e-6);
    assert.ok(Math.abs(y[1] / (-8 * 6.220960574271819e-16) - 1) < 1e-6);
  });

  await t.step("activations propagate NaN and survive extreme inputs", () => {
    const big = 3.4e38;
    const extreme = tensor([NaN, -big, big, -1000, 1000]);
    for (const [name, f] of cases) {
      const y = f(extreme).data;
      assert.ok(Number.isNaN(y[0]), `${name}(NaN) should be NaN`);
      assert.ok(y.slice(1).every(Number.isFinite), `${name} gave ${y}`);
    }
    assert.deepEqual(Array.from(gelu(extreme).data.slice(1), Math.abs), [
      0,
      Math.fround(big),
      0,
      1000,
    ]);
  });

  await t.step("gelu() rejects an unknown approximation", () => {
    assert.throws(
      () => gelu(x, { approximate: "erf" as never }),
      /gelu: approximate must be "none" or "tanh", got "erf" \(a string\)/,
    );
  });

  await t.step("swiglu() matches a float64 loop and checks shapes", () => {
    const g = rnd([3, 5], 2, 3), u = rnd([3, 5], 3);
    assertClose(swiglu(g, u), Array.from(g.data, (v, i) => siluRef(v) * u.data[i]), {
      rtol: 1e-6,
      atol: 1e-12,
    });
    assert.throws(
      () => swiglu(g, zeros([5, 3])),
      /swiglu: gate and up must have the same shape, got gate=\[3, 5\], up=\[5, 3\]/,
    );
  });
});

Deno.test("layerNorm()", async (t) => {
  await t.step("layerNorm() matches a float64 loop", () => {
    const x = rnd([3, 4, 7], 4, 5);
    const w = rnd([7], 5), b = rnd([7], 6);
    for (const eps of [1e-5, 0.1]) {
      const expected = rows(x).flatMap((r) => layerNormRow(r, w.data, b.data, eps));
      assertClose(layerNorm(x, { weight: w, bias: b, eps }), expected, { rtol: 1e-6, atol: 1e-6 });
    }
  });

  await t.step("layerNorm() keeps its digits under a large offset", () => {
    const x = tensor(Array.from(rnd([4, 32], 7).data, (v) => 1e4 + v), [4, 32]);
    assertClose(layerNorm(x), rows(x).flatMap((r) => layerNormRow(r, null, null, 1e-5)), {
      rtol: 1e-5,
      atol: 1e-5,
    });
  });

  await t.step("layerNorm() output has mean 0 and variance 1 without affine (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 64 }),
        (values) => {
          const r = tensor(values).data;
          const m = r.reduce((s, v) => s + v, 0) / r.length;
          const variance = r.reduce((s, v) => s + (v - m) ** 2, 0) / r.length;
          fc.pre(variance > 1e-2); // eps = 1e-5 is negligible next to it
          const y = layerNorm(tensor(values)).data;
          const mean = y.reduce((s, v) => s + v, 0) / y.length;
          const v2 = y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length;
          return Math.abs(mean) < 1e-5 && Math.abs(v2 - 1) < 1e-3;
        },
      ),
    );
  });

  await t.step("layerNorm() maps a constant row to the bias", () => {
    assert.deepEqual(layerNorm(tensor([[7, 7, 7]]), { bias: tensor([1, 2, 3]) }).toArray(), [[
      1,
      2,
      3,
    ]]);
  });

  await t.step("layerNorm() rejects mismatched parameters and bad eps", () => {
    const x = zeros([2, 4]);
    assert.throws(
      () => layerNorm(x, { weight: zeros([3]) }),
      /layerNorm: weight must have shape \[4\] to match the last axis of x=\[2, 4\], got \[3\]/,
    );
    assert.throws(() => layerNorm(x, { eps: -1 }), RangeError);
    assert.throws(() => layerNorm(zeros([])), /layerNorm: x needs rank >= 1/);
    assert.throws(() => layerNorm([1, 2] as never), TypeError);
  });

  await t.step("LayerNorm has PyTorch's parameters and defaults", () => {
    const norm = new LayerNorm(5);
    assert.deepEqual(Object.keys(norm.stateDict()), ["weight", "bias"]);
    assert.deepEqual(norm.weight!.toArray(), [1, 1, 1, 1, 1]);
    assert.equal(norm.eps, 1e-5);
    assert.equal(new LayerNorm(5, { elementwiseAffine: false }).numParameters(), 0);
    assert.throws(() => new LayerNorm(0), /LayerNorm: dim must be a positive integer, got 0/);
    assert.throws(() => norm.forward(zeros([2, 4])), /must have shape \[4\]/);
  });
});

Deno.test("rmsNorm()", async (t) => {
  await t.step("rmsNorm() matches a float64 loop", () => {
    const x = rnd([2, 3, 6], 8, 3), w = rnd([6], 9);
    const expected = rows(x).flatMap((r) => {
      const rms = Math.sqrt(r.reduce((s, v) => s + v * v, 0) / r.length + 1e-6);
      return r.map((v, i) => (v / rms) * w.data[i]);
    });
    assertClose(rmsNorm(x, { weight: w }), expected, { rtol: 1e-6, atol: 1e-7 });
  });

  await t.step("RMSNorm defaults to eps 1e-6 and has one parameter", () => {
    const norm = new RMSNorm(4);
    assert.equal(norm.eps, RMS_NORM_DEFAULT_EPS);
    assert.equal(RMS_NORM_DEFAULT_EPS, 1e-6);
    assert.deepEqual(Object.keys(norm.stateDict()), ["weight"]);
    assert.deepEqual(norm.forward(zeros([1, 4])).toArray(), [[0, 0, 0, 0]]); // no NaN
    assert.throws(
      () => rmsNorm(zeros([2, 4]), { weight: zeros([2]) }),
      /rmsNorm: weight must have shape \[4\]/,
    );
  });
});

Deno.test("dropout()", async (t) => {
  await t.step("dropout() is the identity in eval mode and for p = 0", () => {
    const x = rnd([10], 10);
    assert.equal(dropout(x, 0.3, { training: false }), x);
    assert.equal(dropout(x, 0, { rng: new Rng(1) }), x);
    assert.equal(dropout(x, 0), x);
  });

  await t.step("dropout() keeps survivors scaled by 1/(1-p) and the expectation (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 0.9, noNaN: true }), fc.integer(), (p, seed) => {
        const n = 20000;
        const x = tensor(new Float32Array(n).fill(1));
        const y = dropout(x, p, { rng: new Rng(seed) }).data;
        const keep = Math.fround(1 / (1 - p));
        if (!y.every((v) => v === 0 || v === keep)) return false;
        const mean = y.reduce((s, v) => s + v, 0) / n;
        const sd = Math.sqrt(p / (1 - p) / n); // standard error of the mean
        return Math.abs(mean - 1) < 6 * sd;
      }),
      { numRuns: 30 },
    );
  });

  await t.step("dropout() with p = 1 gives zeros, and needs an rng to train", () => {
    assert.deepEqual(dropout(tensor([1, 2]), 1, { rng: new Rng(0) }).toArray(), [0, 0]);
    assert.throws(
      () => dropout(tensor([1]), 0.5),
      /dropout: training with p=0.5 needs a key or an rng/,
    );
    assert.throws(
      () => dropout(tensor([1]), 1.5, { rng: new Rng(0) }),
      /dropout: p must be a probability in \[0, 1\], got 1.5/,
    );
  });

  await t.step("Dropout follows the module's training flag and its seed", () => {
    const x = rnd([100], 11);
    const a = new Dropout(0.5, { seed: 3 }), b = new Dropout(0.5, { seed: 3 });
    assert.equal(a.forward(x), x); // modules start in eval mode
    a.train();
    b.train();
    assert.deepEqual(a.forward(x).data, b.forward(x).data);
    assert.notDeepEqual(a.forward(x).data, x.data);
    assert.equal(a.eval().forward(x), x);
    assert.equal(a.numParameters(), 0);
  });
});

Deno.test("FeedForward", async (t) => {
  const x = rnd([2, 3, 4], 12, 2);
  const acts: [FeedForwardActivation, (v: number) => number][] = [
    ["relu", (v) => Math.max(0, v)],
    ["gelu", geluExact],
    ["gelu-tanh", geluTanh],
  ];
  for (const [activation, act] of acts) {
    await t.step(`FeedForward(${activation}) matches a float64 loop`, () => {
      const ffn = new FeedForward({ dModel: 4, dFF: 10, activation, seed: 5 });
      const expected = rows(x).flatMap((r) =>
        linearRow(
          linearRow(r, ffn.linear1.weight, ffn.linear1.bias).map(act),
          ffn.linear2.weight,
          ffn.linear2.bias,
        )
      );
      const { output, hidden, preActivation } = ffn.forward(x, { trace: true });
      assertClose(output, expected, { rtol: 1e-5, atol: 1e-6 });
      assert.deepEqual(hidden.shape, [2, 3, 10]);
      assert.deepEqual(preActivation.shape, [2, 3, 10]);
      assert.deepEqual(ffn.forward(x).data, output.data);
    });
  }

  await t.step(
    "FeedForward(swiglu) matches a float64 loop with LLaMA's w1/w2/w3 as linear1/2/3",
    () => {
      const ffn = new FeedForward({
        dModel: 4,
        dFF: 6,
        activation: "swiglu",
        bias: false,
        seed: 6,
      });
      assert.deepEqual(Object.keys(ffn.stateDict()), [
        "linear1.weight",
        "linear2.weight",
        "linear3.weight",
      ]);
      assert.deepEqual(ffn.linear3!.weight.shape, [6, 4]);
      const expected = rows(x).flatMap((r) => {
        const g = linearRow(r, ffn.linear1.weight, null),
          u = linearRow(r, ffn.linear3!.weight, null);
        return linearRow(g.map((v, i) => siluRef(v) * u[i]), ffn.linear2.weight, null);
      });
      const trace = ffn.forward(x, { trace: true });
      assertClose(trace.output, expected, { rtol: 1e-5, atol: 1e-6 });
      assert.deepEqual(trace.up?.shape, [2, 3, 6]);
    },
  );

  await t.step("FeedForward initialises like nn.Linear from its seed", () => {
    const a = new FeedForward({ dModel: 16, dFF: 64, seed: 1 });
    const b = new FeedForward({ dModel: 16, dFF: 64, seed: 1 });
    assert.deepEqual(a.linear1.weight.data, b.linear1.weight.data);
    assert.ok(a.linear1.weight.data.every((v) => Math.abs(v) <= 1 / 4)); // 1/√16
    assert.ok(a.linear2.bias!.data.every((v) => Math.abs(v) <= 1 / 8)); // 1/√64
    assert.ok(a.linear1.bias!.data.some((v) => v !== 0));
    assert.deepEqual(Object.keys(a.stateDict()), [
      "linear1.weight",
      "linear1.bias",
      "linear2.weight",
      "linear2.bias",
    ]);
  });

  await t.step("FeedForward applies hidden dropout only in training", () => {
    const ffn = new FeedForward({ dModel: 4, dFF: 32, dropout: 0.5, seed: 2 });
    const evalOut = ffn.forward(x);
    const trainOut = ffn.train().forward(x, { trace: true });
    assert.notDeepEqual(trainOut.output.data, evalOut.data);
    assert.deepEqual(ffn.eval().forward(x).data, evalOut.data);
  });

  await t.step("FeedForward rejects bad configs and inputs", () => {
    assert.throws(
      () => new FeedForward({ dModel: 0, dFF: 4 }),
      /FeedForward: dModel must be a positive integer, got 0/,
    );
    assert.throws(
      () => new FeedForward({ dModel: 4, dFF: 4, activation: "swish" as never }),
      /activation must be one of "relu", "gelu", "gelu-tanh", "swiglu", got "swish" \(a string\)/,
    );
    const ffn = new FeedForward({ dModel: 4, dFF: 4 });
    assert.throws(
      () => ffn.forward(zeros([2, 5])),
      /FeedForward.forward: x=\[2, 5\] must end in dModel=4/,
    );
  });
});

Deno.test("addNorm()", async (t) => {
  const x = rnd([2, 3, 4], 13, 2);
  const norm = new LayerNorm(4);
  norm.loadStateDict({ weight: rnd([4], 14), bias: rnd([4], 15) });
  const sub = (v: Tensor) => scale(v, -0.5);

  await t.step("addNorm() post-norm matches a float64 loop", () => {
    const expected = rows(x).flatMap((r) =>
      layerNormRow(r.map((v) => v - 0.5 * v), norm.weight!.data, norm.bias!.data, 1e-5)
    );
    assertClose(addNorm(x, sub, norm), expected, { rtol: 1e-5, atol: 1e-6 });
  });

  await t.step("addNorm() pre-norm matches a float64 loop", () => {
    const expected = rows(x).flatMap((r) => {
      const n = layerNormRow(r, norm.weight!.data, norm.bias!.data, 1e-5);
      return r.map((v, i) => v - 0.5 * n[i]);
    });
    assertClose(addNorm(x, sub, norm, { normFirst: true }), expected, { rtol: 1e-5, atol: 1e-6 });
  });

  await t.step("addNorm() applies dropout to the sublayer output, before the add", () => {
    let seen: Tensor | null = null;
    const zeroOut = (v: Tensor) => {
      seen = v;
      return zeros(v.shape as number[]);
    };
    const y = addNorm(x, sub, (v: Tensor) => v, { dropout: zeroOut });
    assert.deepEqual(seen!.data, sub(x).data);
    assert.deepEqual(y.data, x.data); // x + 0
  });

  await t.step("AddNorm owns its norm and dropout", () => {
    const block = new AddNorm(4, { normFirst: true, dropout: 0.1 });
    assert.deepEqual(Object.keys(block.stateDict()), ["norm.weight", "norm.bias"]);
    assertClose(block.forward(x, sub), addNorm(x, sub, block.norm, { normFirst: true }));
  });

  await t.step("addNorm() rejects a sublayer that changes the shape", () => {
    assert.throws(
      () => addNorm(x, () => zeros([2, 3, 5]), norm),
      /addNorm: the sublayer must keep the residual stream's shape: x=\[2, 3, 4\], sublayer output=\[2, 3, 5\]/,
    );
    assert.throws(
      () => addNorm(x, 3 as never, norm),
      /addNorm: sublayer must be a function of a Tensor or an object with a forward\(x\) method/,
    );
  });
});

Deno.test("embedding()", async (t) => {
  const weight = rnd([7, 3], 16);

  await t.step("embedding() matches a float64 lookup loop", () => {
    const ids = [[0, 6, 2], [2, 2, 5]];
    const expected = ids.flat().flatMap((id) =>
      Array.from(weight.data.subarray(id * 3, id * 3 + 3))
    );
    const y = embedding(ids, weight);
    assert.deepEqual(y.shape, [2, 3, 3]);
    assert.deepEqual(Array.from(y.data), expected);
    assert.deepEqual(embedding(new Int32Array([6, 0]), weight).shape, [2, 3]);
    assert.deepEqual(embedding(tensor([[1, 2]]), weight).shape, [1, 2, 3]);
    assert.deepEqual(embedding(4, weight).shape, [3]);
  });

  await t.step("embedding() names a bad id, its position and the vocabulary size", () => {
    assert.throws(
      () => embedding([[0, 1], [2, 7]], weight),
      (e) => e instanceof RangeError && /id 7 at ids\[1\]\[1\].*vocabulary size 7/.test(e.message),
    );
    assert.throws(() => embedding([1.5], weight), /id 1.5 at ids\[0\]/);
    assert.throws(() => embedding([-1], weight), /id -1 at ids\[0\]/);
    assert.throws(() => embedding(tensor([[0, 9]]), weight), /id 9 at ids\[0\]\[1\]/);
    assert.throws(() => embedding([[1, 2], [3]], weight), /ids are ragged/);
  });

  await t.step("Embedding scales by √dim and zeroes the padding row", () => {
    const emb = new Embedding(7, 4, { scaleByDModel: true, paddingIdx: -1, seed: 3 });
    assert.equal(emb.paddingIdx, 6);
    assert.deepEqual(Array.from(emb.weight.data.subarray(24, 28)), [0, 0, 0, 0]);
    const plain = embedding([[1, 6]], emb.weight);
    assertClose(emb.forward([[1, 6]]), Array.from(plain.data, (v) => v * 2));
    assert.throws(
      () => emb.forward([9]),
      /Embedding.forward: id 9 at ids\[0\] is not an integer in \[0, 7\)/,
    );
    assert.throws(
      () => new Embedding(7, 4, { paddingIdx: 7 }),
      /paddingIdx must be an integer in \[-7, 7\)/,
    );
  });

  await t.step("Embedding draws N(0, 1) weights from its seed", () => {
    const w = new Embedding(1000, 10, { seed: 4 }).weight.data;
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const variance = w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length;
    assert.ok(
      Math.abs(mean) < 0.05 && Math.abs(variance - 1) < 0.05,
      `mean ${mean}, variance ${variance}`,
    );
    assert.deepEqual(
      new Embedding(3, 2, { seed: 4 }).weight.data,
      new Embedding(3, 2, { seed: 4 }).weight.data,
    );
  });
});

Deno.test("linearStacked() equals the concatenated linear() outputs", async (t) => {
  const rng = new Rng(31);
  // small shapes take the JavaScript kernel, the larger ones the WebAssembly one
  const cases: [number, number, number[]][] = [
    [3, 4, [2, 5]],
    [37, 64, [64, 64, 64]],
    [128, 96, [40, 8, 72]],
  ];
  for (const [rows, inF, outs] of cases) {
    await t.step(`rows=${rows} in=${inF} outs=${outs}`, () => {
      const x = randn([1, rows, inF], rng);
      const ws = outs.map((o) => randn([o, inF], rng));
      const bs = outs.map((o, i) => (i === 1 ? null : randn([o], rng)));
      const y = linearStacked(x, ws, bs);
      const total = outs.reduce((a, b) => a + b, 0);
      assert.deepEqual(y.shape, [1, rows, total]);
      const parts = ws.map((w, i) => linear(x, w, bs[i]));
      // column block i of y is linear(x, W_i, b_i)
      let col = 0;
      for (const [i, p] of parts.entries()) {
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < outs[i]; j++) {
            const got = y.data[r * total + col + j], want = p.data[r * outs[i] + j];
            assert.ok(Math.abs(got - want) <= 1e-6 * (1 + Math.abs(want)), `${i} ${r} ${j}`);
          }
        }
        col += outs[i];
      }
    });
  }
  await t.step("bad input names the rule", () => {
    const x = randn([2, 4], rng);
    assert.throws(
      () => linearStacked(x, [randn([3, 4], rng), randn([3, 5], rng)], [null, null]),
      /linearStacked: weights\[1\] must be \[out, 4\] like weights\[0\], got \[3, 5\]/,
    );
    assert.throws(
      () => linearStacked(x, [randn([3, 4], rng)], [randn([2], rng)]),
      /linearStacked: biases\[0\] must be \[3\] to match weights\[0\]=\[3, 4\], got \[2\]/,
    );
    assert.throws(() => linearStacked(x, [randn([3, 4], rng)], []), TypeError);
    assert.throws(
      () => linearStacked(randn([2, 5], rng), [randn([3, 4], rng)], [null]),
      /linearStacked: x=\[2, 5\] must end in in_features=4/,
    );
  });
});
