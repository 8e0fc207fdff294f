import assert from "node:assert/strict";
import fc from "fast-check";
import { additiveAttention } from "../lib/attention/additive.ts";
import { causalMask, maskToBias, paddingMask } from "../lib/attention/masks.ts";
import {
  dotProductAttention,
  scaledDotProductAttention,
} from "../lib/attention/scaled_dot_product.ts";
import { Mask, mask } from "../lib/tensor/mask.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn, Tensor, tensor } from "../lib/tensor/tensor.ts";
import { assertClose, maxAbsDiff, maxRelDiff } from "../lib/testing/assert_close.ts";
import { loadFixture, toMask } from "./_fixtures.ts";

/** Independent float64 reference: plain loops over one [Tq, Tk] problem. */
function reference64(
  q: number[][],
  k: number[][],
  v: number[][],
  allowed: (i: number, j: number) => boolean,
  scale = 1 / Math.sqrt(q[0].length),
): { output: number[][]; weights: number[][] } {
  const weights = q.map((qi, i) => {
    const s = k.map((kj, j) =>
      allowed(i, j) ? qi.reduce((acc, x, c) => acc + x * kj[c], 0) * scale : -Infinity
    );
    const max = Math.max(...s);
    if (max === -Infinity) return s.map(() => 0);
    const e = s.map((x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
  });
  const output = weights.map((w) =>
    v[0].map((_, c) => w.reduce((acc, wj, j) => acc + wj * v[j][c], 0))
  );
  return { output, weights };
}

const rows = (t: Tensor) => t.toArray() as number[][];

Deno.test("scaledDotProductAttention() matches PyTorch fixtures", async (t) => {
  const f = loadFixture("sdpa.safetensors");
  const names = [...new Set(Object.keys(f).map((k) => k.split(".")[0]))].sort();
  assert.ok(names.length >= 10, `expected at least 10 cases, found ${names.length}`);
  const report: string[] = [];
  for (const name of names) {
    await t.step(name, () => {
      const m = f[`${name}.mask`] ? toMask(f[`${name}.mask`]) : undefined;
      const scale = f[`${name}.scale`]?.data[0];
      const r = scaledDotProductAttention(
        f[`${name}.query`],
        f[`${name}.key`],
        f[`${name}.value`],
        {
          mask: m,
          bias: f[`${name}.bias`],
          scale,
          returnScores: true,
        },
      );
      const tol = { rtol: 1e-5, atol: 1e-6 };
      assertClose(r.output, f[`${name}.output`], tol);
      assertClose(r.weights, f[`${name}.weights`], tol);
      assertClose(r.scores!, f[`${name}.scores`], { ...tol, equalNan: true });
      assert.ok(r.output.data.every(Number.isFinite), "output has no NaN or Inf");
      const lean = scaledDotProductAttention(
        f[`${name}.query`],
        f[`${name}.key`],
        f[`${name}.value`],
        { mask: m, bias: f[`${name}.bias`], scale, needWeights: false },
      );
      assert.equal(lean.weights, undefined);
      assertClose(lean.output, f[`${name}.output`], tol);
      report.push(
        `${name}: max abs ${maxAbsDiff(r.output, f[`${name}.output`]).toExponential(2)}, rel ${
          maxRelDiff(r.output, f[`${name}.output`]).toExponential(2)
        }`,
      );
    });
  }
  if (Deno.env.get("REPORT_ERRORS")) console.log(report.join("\n"));
});

Deno.test("scaledDotProductAttention() agrees with a float64 loop", () => {
  const rng = new Rng(7);
  for (const [tq, tk, d] of [[1, 1, 1], [3, 5, 4], [7, 2, 9], [16, 16, 64]]) {
    const q = randn([tq, d], rng), k = randn([tk, d], rng), v = randn([tk, 3], rng);
    const allowed = (i: number, j: number) => (i * 7 + j * 3) % 4 !== 0;
    const m = new Mask(
      Uint8Array.from({ length: tq * tk }, (_, x) => (allowed(Math.floor(x / tk), x % tk) ? 1 : 0)),
      [tq, tk],
    );
    const got = scaledDotProductAttention(q, k, v, { mask: m });
    const want = reference64(rows(q), rows(k), rows(v), allowed);
    assertClose(got.weights, want.weights, { rtol: 1e-5, atol: 1e-6 });
    assertClose(got.output, want.output, { rtol: 1e-5, atol: 1e-6 });
  }
});

Deno.test("scaledDotProductAttention() numerics", async (t) => {
  await t.step("a fully masked row gives weights 0 and output 0, never NaN", () => {
    const x = tensor([[1, 2], [3, 4]]);
    const r = scaledDotProductAttention(x, x, x, { mask: mask([[false, false], [true, true]]) });
    assert.deepEqual(rows(r.weights)[0], [0, 0]);
    assert.deepEqual(rows(r.output)[0], [0, 0]);
    assert.ok(r.output.data.every(Number.isFinite));
  });
  await t.step("logits of ±1e4 stay finite", () => {
    const q = tensor([[1e2, -1e2], [-1e2, 1e2]]);
    const k = tensor([[1e2, 1e2], [1e2, -1e2]]);
    const r = scaledDotProductAttention(q, k, tensor([[1], [2]]), { scale: 0.5 });
    assert.ok(r.weights.data.every(Number.isFinite));
    assert.ok(r.output.data.every(Number.isFinite));
    assert.deepEqual(rows(r.weights), [[0, 1], [1, 0]]);
  });
  await t.step("-Infinity bias acts like a mask", () => {
    const rng = new Rng(3);
    const q = randn([4, 8], rng), k = randn([4, 8], rng), v = randn([4, 8], rng);
    const viaMask = scaledDotProductAttention(q, k, v, { mask: causalMask(4) });
    const viaBias = scaledDotProductAttention(q, k, v, { bias: maskToBias(causalMask(4)) });
    assert.deepEqual(viaBias.weights.data, viaMask.weights.data);
  });
  await t.step("dotProductAttention() uses scale 1", () => {
    const rng = new Rng(4);
    const q = randn([3, 16], rng), k = randn([5, 16], rng);
    const a = dotProductAttention(q, k, k);
    const b = scaledDotProductAttention(q, k, k, { scale: 1 });
    assert.deepEqual(a.weights.data, b.weights.data);
  });
  await t.step("dropout zeroes weights and rescales the rest, reproducibly", () => {
    const rng = new Rng(5);
    const q = randn([8, 4], rng), k = randn([8, 4], rng);
    const plain = scaledDotProductAttention(q, k, k);
    const a = scaledDotProductAttention(q, k, k, { dropout: 0.5, rng: new Rng(1) });
    const b = scaledDotProductAttention(q, k, k, { dropout: 0.5, rng: new Rng(1) });
    assert.deepEqual(a.weights.data, b.weights.data);
    let zeros = 0;
    a.weights.data.forEach((w, i) => {
      if (w === 0) zeros++;
      else assertClose(w, plain.weights.data[i] * 2, { rtol: 1e-6 });
    });
    assert.ok(zeros > 10 && zeros < 54, `about half dropped, got ${zeros} of 64`);
  });
});

Deno.test("scaledDotProductAttention() rejects bad input", async (t) => {
  const q = tensor([[1, 2]]);
  await t.step("feature sizes differ", () => {
    assert.throws(
      () => scaledDotProductAttention(q, tensor([[1, 2, 3]]), tensor([[1]])),
      (e: Error) =>
        e instanceof RangeError &&
        /query and key feature sizes differ: query=\[1, 2\], key=\[1, 3\]/.test(e.message),
    );
  });
  await t.step("key/value lengths differ", () => {
    assert.throws(
      () => scaledDotProductAttention(q, q, tensor([[1], [2]])),
      /key and value sequence lengths differ/,
    );
  });
  await t.step("mask does not broadcast", () => {
    assert.throws(
      () => scaledDotProductAttention(q, q, q, { mask: causalMask(3) }),
      (e: Error) =>
        e instanceof RangeError &&
        /mask=\[3, 3\] must broadcast against the scores \[Tq=1, Tk=1\]/.test(e.message),
    );
  });
  await t.step("mask of the wrong type", () => {
    assert.throws(
      () => scaledDotProductAttention(q, q, q, { mask: tensor([[1]]) as unknown as Mask }),
      TypeError,
    );
  });
  await t.step("batch dims that do not broadcast", () => {
    assert.throws(
      () =>
        scaledDotProductAttention(
          tensor([[[1]], [[2]]]),
          tensor([[[1]], [[2]], [[3]]]),
          tensor([[1]]),
        ),
      /cannot broadcast query batch=\[2\] with key batch=\[3\]/,
    );
  });
  await t.step("non-tensor, rank 1, bad scale, dropout without rng", () => {
    assert.throws(() => scaledDotProductAttention([[1]] as unknown as Tensor, q, q), TypeError);
    assert.throws(() => scaledDotProductAttention(tensor([1, 2]), q, q), /needs rank >= 2/);
    assert.throws(() => scaledDotProductAttention(q, q, q, { scale: NaN }), RangeError);
    assert.throws(() => scaledDotProductAttention(q, q, q, { dropout: 0.1 }), TypeError);
    assert.throws(() => scaledDotProductAttention(q, q, q, { dropout: 1 }), RangeError);
  });
});

// ---------------------------------------------------------------- properties

const dims = fc.record({
  tq: fc.integer({ min: 1, max: 6 }),
  tk: fc.integer({ min: 1, max: 6 }),
  d: fc.integer({ min: 1, max: 8 }),
  seed: fc.integer(),
});

function problem({ tq, tk, d, seed }: { tq: number; tk: number; d: number; seed: number }) {
  const rng = new Rng(seed);
  return { q: randn([tq, d], rng), k: randn([tk, d], rng), v: randn([tk, d], rng), rng };
}

Deno.test("scaledDotProductAttention() invariants (property tests)", async (t) => {
  await t.step(
    "weight rows sum to 1 (or 0 when fully masked); masked weights are exactly 0",
    () => {
      fc.assert(
        fc.property(dims, fc.array(fc.boolean(), { minLength: 36, maxLength: 36 }), (s, bits) => {
          const { q, k, v } = problem(s);
          const m = mask(bits.slice(0, s.tq * s.tk), [s.tq, s.tk]);
          const w = scaledDotProductAttention(q, k, v, { mask: m }).weights;
          for (let i = 0; i < s.tq; i++) {
            let sum = 0, any = false;
            for (let j = 0; j < s.tk; j++) {
              const x = w.data[i * s.tk + j];
              if (!m.data[i * s.tk + j]) assert.equal(x, 0);
              else any = true;
              sum += x;
            }
            assertClose(sum, any ? 1 : 0, { atol: 1e-5 });
          }
        }),
      );
    },
  );
  await t.step("adding a constant to a row of scores changes nothing", () => {
    fc.assert(
      fc.property(dims, fc.double({ min: -50, max: 50, noNaN: true }), (s, c) => {
        const { q, k, v } = problem(s);
        const bias = new Tensor(new Float32Array(s.tq * s.tk), [s.tq, s.tk]);
        for (let j = 0; j < s.tk; j++) bias.data[j] = c; // row 0 shifted by c
        const a = scaledDotProductAttention(q, k, v);
        const b = scaledDotProductAttention(q, k, v, { bias });
        assertClose(b.weights, a.weights, { rtol: 1e-4, atol: 1e-6 });
      }),
    );
  });
  await t.step("self-attention without positions is permutation-equivariant", () => {
    fc.assert(
      fc.property(dims, fc.integer(), (s, pseed) => {
        const { q: x } = problem({ ...s, tk: s.tq });
        const perm = [...Array(s.tq).keys()];
        const prng = new Rng(pseed);
        for (let i = perm.length - 1; i > 0; i--) {
          const j = prng.int(i + 1);
          [perm[i], perm[j]] = [perm[j], perm[i]];
        }
        const px = new Tensor(new Float32Array(x.size), x.shape);
        perm.forEach((p, i) => px.data.set(x.data.subarray(p * s.d, (p + 1) * s.d), i * s.d));
        const out = scaledDotProductAttention(x, x, x).output;
        const pout = scaledDotProductAttention(px, px, px).output;
        perm.forEach((p, i) => {
          assertClose(
            pout.data.subarray(i * s.d, (i + 1) * s.d),
            out.data.subarray(p * s.d, (p + 1) * s.d),
            { rtol: 1e-5, atol: 1e-6 },
          );
        });
      }),
    );
  });
  await t.step("under a causal mask output i ignores inputs after i", () => {
    fc.assert(
      fc.property(dims, fc.integer(), fc.nat(), (s, seed2, cut) => {
        const t = s.tq;
        const { q: x } = problem({ ...s, tk: t });
        const i = cut % t;
        const y = x.clone();
        const noise = randn([t, s.d], new Rng(seed2));
        for (let r = i + 1; r < t; r++) {
          for (let c = 0; c < s.d; c++) y.data[r * s.d + c] = noise.data[r * s.d + c];
        }
        const a = scaledDotProductAttention(x, x, x, { mask: causalMask(t) }).output;
        const b = scaledDotProductAttention(y, y, y, { mask: causalMask(t) }).output;
        assert.deepEqual(b.data.subarray(0, (i + 1) * s.d), a.data.subarray(0, (i + 1) * s.d));
      }),
    );
  });
  await t.step("padding keys never receive weight", () => {
    fc.assert(
      fc.property(dims, fc.nat(), (s, l) => {
        const { q, k, v } = problem(s);
        const len = l % (s.tk + 1);
        const w =
          scaledDotProductAttention(q.reshape([1, s.tq, s.d]), k.reshape([1, s.tk, s.d]), v, {
            mask: paddingMask([len], s.tk).reshape([1, 1, s.tk]),
          }).weights;
        for (let i = 0; i < s.tq; i++) {
          for (let j = len; j < s.tk; j++) assert.equal(w.data[i * s.tk + j], 0);
        }
      }),
    );
  });
});

Deno.test("additiveAttention() agrees with a float64 loop and masks", () => {
  const rng = new Rng(11);
  const q = randn([2, 3, 4], rng), k = randn([2, 5, 6], rng), v = randn([2, 5, 2], rng);
  const wQuery = randn([7, 4], rng), wKey = randn([7, 6], rng), vec = randn([7], rng);
  const m = causalMask(3, 5, { align: "bottom-right" });
  const r = additiveAttention(q, k, v, { wQuery, wKey, v: vec, mask: m });
  for (let b = 0; b < 2; b++) {
    for (let i = 0; i < 3; i++) {
      const e: number[] = [];
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let h = 0; h < 7; h++) {
          let a = 0;
          for (let c = 0; c < 4; c++) a += wQuery.get(h, c) * q.get(b, i, c);
          for (let c = 0; c < 6; c++) a += wKey.get(h, c) * k.get(b, j, c);
          s += vec.get(h) * Math.tanh(a);
        }
        e.push(m.data[i * 5 + j] ? s : -Infinity);
      }
      const max = Math.max(...e);
      const z = e.map((x) => Math.exp(x - max));
      const sum = z.reduce((x, y) => x + y);
      for (let j = 0; j < 5; j++) {
        assertClose(r.weights.get(b, i, j), z[j] / sum, { rtol: 1e-5, atol: 1e-7 });
      }
    }
  }
  assert.throws(
    () => additiveAttention(q, k, v, { wQuery: wKey, wKey, v: vec }),
    /wQuery must be \[hidden=7, Dq=4\], got \[7, 6\]/,
  );
});

Deno.test("scaledDotProductAttention({ needWeights: false }) returns the same output, no weights", () => {
  const rng = new Rng(11);
  // sizes on both sides of the WebAssembly threshold, with a causal and a padding mask
  for (const [tq, tk, d] of [[3, 5, 4], [70, 90, 32], [130, 130, 64]]) {
    const q = randn([2, tq, d], rng), k = randn([2, tk, d], rng), v = randn([2, tk, d], rng);
    for (const m of [undefined, causalMask(tq, tk), paddingMask([tk, tk - 2], tk)]) {
      const full = scaledDotProductAttention(q, k, v, { mask: m });
      const lean = scaledDotProductAttention(q, k, v, { mask: m, needWeights: false });
      assert.equal(lean.weights, undefined);
      assert.deepEqual(lean.output.shape, full.output.shape);
      assert.deepEqual(lean.output.data, full.output.data, `tq=${tq} tk=${tk} d=${d}`);
    }
  }
  const x = randn([4, 8], rng);
  assert.throws(
    // @ts-expect-error: a string is not a boolean
    () => scaledDotProductAttention(x, x, x, { needWeights: "no" }),
    (e: unknown) =>
      e instanceof TypeError &&
      /scaledDotProductAttention: needWeights must be a boolean/.test(e.message),
  );
});
