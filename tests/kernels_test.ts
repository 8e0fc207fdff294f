/**
 * Every fast kernel against its readable reference, on random and ragged
 * shapes (sizes that are not multiples of the 4×8 WASM tile or the 4×4 JS tile),
 * 1×1, k = 1, k = 0, m = 0 and n = 0, with and without masks.
 *
 * Tolerances:
 * - gemm: |c − ref| ≤ 1e-5 · Σ_p |a_ip·b_pj| + 1e-30 (1e-5 relative to the sum of
 *   magnitudes, the scale of float32 rounding in a dot product).
 * - softmax, attention weights and outputs: |x − ref| ≤ 1e-5 · |ref| + 1e-6
 *   (1e-5 relative; the 1e-6 absolute floor covers entries that round to ~0).
 */

import fc from "fast-check";
import assert from "node:assert/strict";
import { gemm, type GemmArgs, gemmJs, gemmPacked, gemmReference } from "../lib/kernels/matmul.ts";
import { softmaxRows, softmaxRowsReference } from "../lib/kernels/softmax.ts";
import {
  attentionKernel,
  type AttentionKernelArgs,
  attentionKernels,
  attentionReference,
  type MatrixView,
} from "../lib/kernels/attention.ts";
import { flashAttentionJs, flashAttentionKernel } from "../lib/kernels/flash.ts";
import { gemmWasm, softmaxWasm, wasmReady } from "../lib/kernels/simd.ts";
import { PARALLEL_MIN_WORK, setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { traceKernels, withKernelPath } from "../lib/kernels/registry.ts";
import { poolSize, setThreads, shutdownWorkers } from "../lib/kernels/threads.ts";
import { tiledAttention } from "../lib/attention/tiled.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { causalMask, paddingMask } from "../lib/attention/masks.ts";
import { Tensor } from "../lib/tensor/tensor.ts";
import { matmul } from "../lib/tensor/matmul.ts";
import { add, div, sub } from "../lib/tensor/elementwise.ts";
import { relu } from "../lib/layers/activations.ts";
import { layerNorm } from "../lib/layers/layer_norm.ts";
import { randoms } from "./_randoms.ts";

function checkGemm(name: string, g: GemmArgs, got: Float32Array): void {
  const ref = new Float32Array(got.length);
  gemmReference({ ...g, c: ref });
  const { a, b, m, k, n, transposeB } = g;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let mag = 0;
      for (let p = 0; p < k; p++) {
        mag += Math.abs(a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]));
      }
      const d = Math.abs(got[i * n + j] - ref[i * n + j]);
      if (!(d <= 1e-5 * mag + 1e-30)) {
        assert.fail(
          `${name} [m=${m}, k=${k}, n=${n}, transposeB=${transposeB}] C[${i}, ${j}] = ${
            got[i * n + j]
          }, reference ${ref[i * n + j]}, |diff| ${d} > 1e-5 * ${mag}`,
        );
      }
    }
  }
}

function checkClose(what: string, got: ArrayLike<number>, ref: ArrayLike<number>): void {
  assert.equal(got.length, ref.length, `${what}: lengths differ`);
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= 1e-5 * Math.abs(ref[i]) + 1e-6) && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) {
      assert.fail(`${what}[${i}] = ${got[i]}, reference ${ref[i]}, |diff| ${d}`);
    }
  }
}

const KERNELS: [string, (g: GemmArgs) => void][] = [
  ["gemm", gemm],
  ["gemmJs", gemmJs],
  ["gemmPacked", gemmPacked],
  ...(wasmReady()
    ? [[
      "gemmWasm",
      (g: GemmArgs) => {
        if (g.k > 0) gemmWasm(g);
        else gemm(g); // the WebAssembly driver needs k > 0; the table never sends it k = 0
      },
    ] as [string, (g: GemmArgs) => void]]
    : []),
];

Deno.test("gemm kernels agree with gemmReference", async (t) => {
  await t.step("the WebAssembly SIMD kernels load without permissions", () => {
    assert.ok(wasmReady());
  });
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 1, 9],
    [7, 1, 5],
    [5, 3, 0],
    [0, 3, 5],
    [3, 0, 4],
    [4, 8, 8],
    [13, 29, 17],
    [65, 33, 9],
    [37, 300, 41], // k spans two 256-deep passes
    [9, 70, 200], // n spans two 16-panel blocks
    [6, 7, 9], // one full 6-row block of the product tile
    [12, 20, 16],
    [50, 33, 17], // 8 blocks of 6 and a ragged one: two chunks of the shared counter
  ];
  for (const [m, k, n] of shapes) {
    for (const transposeB of [false, true]) {
      await t.step(`edge and ragged shape m=${m} k=${k} n=${n} transposeB=${transposeB}`, () => {
        const a = randoms(m * k, m + 7 * k), b = randoms(k * n, n + 3);
        for (const [name, f] of KERNELS) {
          const c = new Float32Array(m * n).fill(NaN);
          const g = { a, aOffset: 0, b, bOffset: 0, c, cOffset: 0, m, k, n, transposeB };
          f(g);
          checkGemm(name, g, c);
        }
      });
    }
  }
  await t.step("random shapes (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 48 }),
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 48 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1e6 }),
        (m, k, n, transposeB, seed) => {
          const a = randoms(m * k, seed), b = randoms(k * n, seed + 1);
          for (const [name, f] of KERNELS) {
            const c = new Float32Array(m * n);
            const g = { a, aOffset: 0, b, bOffset: 0, c, cOffset: 0, m, k, n, transposeB };
            f(g);
            checkGemm(name, g, c);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
  await t.step("offsets into larger buffers are honoured", () => {
    const m = 6, k = 10, n = 11;
    const a = randoms(m * k + 5, 1), b = randoms(k * n + 3, 2);
    const c = new Float32Array(m * n + 4).fill(7);
    gemm({ a, aOffset: 5, b, bOffset: 3, c, cOffset: 4, m, k, n, transposeB: false });
    const ref = new Float32Array(m * n + 4).fill(7);
    gemmReference({ a, aOffset: 5, b, bOffset: 3, c: ref, cOffset: 4, m, k, n, transposeB: false });
    assert.deepEqual([...c.subarray(0, 4)], [7, 7, 7, 7]);
    checkClose("C", c, ref);
  });
});

Deno.test("softmaxRows() agrees with softmaxRowsReference", async (t) => {
  await t.step("random rows with -Infinity, a fully masked row and a +Infinity row", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 1e6 }),
        (rows, cols, seed) => {
          const x = randoms(rows * cols, seed).map((v, i) => i % 7 === 3 ? -Infinity : v * 30 // ±30: exp spans 26 orders of magnitude
          );
          x.fill(-Infinity, 0, cols); // row 0 fully masked
          if (rows > 2) x[2 * cols + (seed % cols)] = Infinity;
          const ref = x.slice();
          softmaxRowsReference(ref, 0, rows, cols);
          const fast = x.slice(), simd = x.slice();
          softmaxRows(fast, 0, rows, cols);
          softmaxWasm(simd, 0, rows, cols);
          checkClose("softmaxRows", fast, ref);
          checkClose("softmaxWasm", simd, ref);
          for (let j = 0; j < cols; j++) assert.equal(simd[j], 0);
        },
      ),
      { numRuns: 60 },
    );
  });
  await t.step("logits of ±1e4 are stable", () => {
    const x = Float32Array.of(1e4, 1e4 - 1, -1e4, 0, 1e4, 3, 2, 1);
    const ref = x.slice();
    softmaxRowsReference(ref, 0, 1, 8);
    softmaxWasm(x, 0, 1, 8);
    checkClose("softmaxWasm", x, ref);
  });
});

type MaskKind = "none" | "causal" | "random" | "padding" | "column" | "empty-rows";

/** A mask view of the given kind for [tq, tk] scores. */
function maskFor(kind: MaskKind, tq: number, tk: number, seed: number) {
  if (kind === "none") return null;
  if (kind === "padding") {
    const len = 1 + (seed % tk);
    const data = new Uint8Array(tk).map((_, j) => (j < len ? 1 : 0));
    return { data, offset: 0, rowStride: 0, colStride: 1 };
  }
  if (kind === "column") {
    const data = new Uint8Array(tq).map((_, i) => (i % 3 === 1 ? 0 : 1));
    return { data, offset: 0, rowStride: 1, colStride: 0 };
  }
  const data = new Uint8Array(tq * tk);
  const r = randoms(tq * tk, seed);
  for (let i = 0; i < tq; i++) {
    for (let j = 0; j < tk; j++) {
      const v = kind === "causal"
        ? j <= i + tk - tq // bottom-right aligned, as FlashAttention does for Tq != Tk
        : kind === "random"
        ? r[i * tk + j] > -0.3
        : i % 4 !== 1 && j <= i; // causal plus fully masked rows
      data[i * tk + j] = v ? 1 : 0;
    }
  }
  return { data, offset: 0, rowStride: tk, colStride: 1 };
}

function attentionArgs(
  tq: number,
  tk: number,
  dk: number,
  dv: number,
  seed: number,
  kind: MaskKind,
  extras: { bias?: boolean; scores?: boolean; dropout?: number } = {},
): (
  out: Float32Array,
  weights: Float32Array | null,
  scores: Float32Array | null,
) => AttentionKernelArgs {
  const q = randoms(tq * dk, seed).map((v) => v * 3);
  const k = randoms(tk * dk, seed + 1);
  const v = randoms(tk * dv, seed + 2);
  const mask = maskFor(kind, tq, tk, seed);
  const bias: MatrixView<Float32Array> | null = extras.bias
    ? { data: randoms(tk, seed + 3), offset: 0, rowStride: 0, colStride: 1 }
    : null;
  return (out, weights, scores) => {
    return {
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
      scale: 1 / Math.sqrt(dk),
      mask,
      bias,
      out,
      outOffset: 0,
      weights,
      weightsOffset: 0,
      scores,
      scoresOffset: 0,
      dropout: extras.dropout ?? 0,
      dropoutKey: extras.dropout ? { key: seed, call: 3, first: 0 } : null,
    };
  };
}

/**
 * `count` attention problems laid out one after another in shared q/k/v/out/weights
 * buffers (so offsets matter), each with its own mask of `kind` (same layout), as
 * the heads of one scaledDotProductAttention call.
 */
function attentionBatch(
  count: number,
  tq: number,
  tk: number,
  dk: number,
  dv: number,
  kind: MaskKind,
  seed: number,
  withWeights: boolean,
): AttentionKernelArgs[] {
  const q = randoms(count * tq * dk, seed).map((x) => x * 3);
  const k = randoms(count * tk * dk, seed + 1), v = randoms(count * tk * dv, seed + 2);
  const out = new Float32Array(count * tq * dv).fill(NaN);
  const weights = withWeights ? new Float32Array(count * tq * tk).fill(NaN) : null;
  return Array.from({ length: count }, (_, p) => ({
    q,
    qOffset: p * tq * dk,
    k,
    kOffset: p * tk * dk,
    v,
    vOffset: p * tk * dv,
    tq,
    tk,
    dk,
    dv,
    scale: 1 / Math.sqrt(dk),
    mask: maskFor(kind, tq, tk, seed + 7 * p),
    bias: null,
    out,
    outOffset: p * tq * dv,
    weights,
    weightsOffset: p * tq * tk,
    scores: null,
    scoresOffset: 0,
    dropout: 0,
    dropoutKey: null,
  }));
}

/** Runs attentionKernels on a batch and checks every problem against attentionReference. */
function checkBatch(batch: AttentionKernelArgs[], what: string): void {
  attentionKernels(batch);
  const { tq, tk, dv } = batch[0];
  for (const [p, a] of batch.entries()) {
    const ref = {
      ...a,
      out: new Float32Array(tq * dv),
      outOffset: 0,
      weights: new Float32Array(tq * tk),
      weightsOffset: 0,
    };
    attentionReference(ref);
    checkClose(
      `output ${what} problem ${p}`,
      a.out.subarray(p * tq * dv, (p + 1) * tq * dv),
      ref.out,
    );
    if (a.weights) {
      checkClose(
        `weights ${what} problem ${p}`,
        a.weights.subarray(p * tq * tk, (p + 1) * tq * tk),
        ref.weights,
      );
    }
  }
}

function compareAttention(
  tq: number,
  tk: number,
  dk: number,
  dv: number,
  seed: number,
  kind: MaskKind,
  extras: { bias?: boolean; scores?: boolean; dropout?: number } = {},
): void {
  const make = attentionArgs(tq, tk, dk, dv, seed, kind, extras);
  const what = `tq=${tq} tk=${tk} dk=${dk} dv=${dv} mask=${kind} ${JSON.stringify(extras)}`;
  const fast = make(
    new Float32Array(tq * dv),
    new Float32Array(tq * tk),
    extras.scores ? new Float32Array(tq * tk) : null,
  );
  const ref = make(
    new Float32Array(tq * dv),
    new Float32Array(tq * tk),
    extras.scores ? new Float32Array(tq * tk) : null,
  );
  attentionKernel(fast);
  attentionReference(ref);
  checkClose(`weights ${what}`, fast.weights!, ref.weights!);
  if (!extras.dropout) {
    // without weights (needWeights: false) the output is bit-identical
    const lean = make(
      new Float32Array(tq * dv),
      null,
      extras.scores ? new Float32Array(tq * tk) : null,
    );
    attentionKernel(lean);
    assert.deepEqual(lean.out, fast.out, `output without weights ${what}`);
  }
  checkClose(`output ${what}`, fast.out, ref.out);
  if (extras.scores) checkClose(`scores ${what}`, fast.scores!, ref.scores!);
  if (!extras.dropout && !extras.scores) {
    const flash = new Float32Array(tq * dv);
    for (const blockSize of [1, 7, 64]) {
      flash.fill(NaN);
      flashAttentionKernel({ ...fast, out: flash, outOffset: 0, blockSize });
      checkClose(`flash blockSize=${blockSize} ${what}`, flash, ref.out);
    }
  }
}

Deno.test("attentionKernel() and flashAttentionKernel() agree with attentionReference", async (t) => {
  const kinds: MaskKind[] = ["none", "causal", "random", "padding", "column", "empty-rows"];
  for (const kind of kinds) {
    await t.step(`ragged shapes, mask ${kind}`, () => {
      for (
        const [tq, tk, dk, dv] of [[1, 1, 1, 1], [1, 9, 1, 3], [37, 45, 16, 24], [70, 70, 64, 64]]
      ) {
        compareAttention(tq, tk, dk, dv, tq + tk, kind);
      }
    });
  }
  await t.step("bias, raw scores and dropout take the same values", () => {
    compareAttention(33, 50, 20, 12, 5, "causal", { bias: true });
    compareAttention(33, 50, 20, 12, 6, "random", { scores: true });
    compareAttention(40, 40, 16, 16, 7, "none", { dropout: 0.25 });
    compareAttention(40, 40, 16, 16, 8, "padding", { bias: true, scores: true, dropout: 0.1 });
  });
  await t.step("batches of problems (heads) run together agree per problem", () => {
    for (
      const kind of ["none", "causal", "random", "padding", "column", "empty-rows"] as MaskKind[]
    ) {
      for (
        const [count, tq, tk, dk, dv] of [[5, 37, 45, 16, 24], [3, 130, 70, 64, 40], [
          8,
          64,
          64,
          64,
          64,
        ], [2, 9, 5, 3, 2]]
      ) {
        for (const withWeights of [true, false]) {
          const what =
            `count=${count} tq=${tq} tk=${tk} dk=${dk} dv=${dv} mask=${kind} weights=${withWeights}`;
          checkBatch(attentionBatch(count, tq, tk, dk, dv, kind, count + tq, withWeights), what);
        }
      }
    }
  });
  await t.step("a batch gives the bits of one attentionKernel call per problem", () => {
    const batch = attentionBatch(6, 100, 90, 32, 32, "padding", 5, true);
    attentionKernels(batch);
    const single = attentionBatch(6, 100, 90, 32, 32, "padding", 5, true);
    for (const a of single) attentionKernel(a);
    assert.deepEqual(batch[0].out, single[0].out);
    assert.deepEqual(batch[0].weights, single[0].weights);
  });
  await t.step("fully masked rows give zero weights and zero output", () => {
    const make = attentionArgs(64, 64, 32, 32, 9, "empty-rows");
    const a = make(new Float32Array(64 * 32), new Float32Array(64 * 64), null);
    attentionKernel(a);
    for (let j = 0; j < 64; j++) assert.equal(a.weights![64 + j], 0);
    for (let d = 0; d < 32; d++) assert.equal(a.out[32 + d], 0);
  });
  await t.step("random shapes and masks (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 1e6 }),
        fc.constantFrom<MaskKind>(...kinds),
        (tq, tk, dk, dv, seed, kind) => compareAttention(tq, tk, dk, dv, seed, kind),
      ),
      { numRuns: 40 },
    );
  });
});

Deno.test("tiledAttention() matches scaledDotProductAttention()", async (t) => {
  await t.step("batched heads, causal mask, ragged blocks", () => {
    const q = new Tensor(randoms(2 * 3 * 45 * 16, 1), [2, 3, 45, 16]);
    const k = new Tensor(randoms(2 * 3 * 45 * 16, 2), [2, 3, 45, 16]);
    const v = new Tensor(randoms(2 * 3 * 45 * 8, 3), [2, 3, 45, 8]);
    const mask = causalMask(45);
    const full = scaledDotProductAttention(q, k, v, { mask }).output;
    for (const blockSize of [8, 13, 128]) {
      checkClose(
        `blockSize=${blockSize}`,
        tiledAttention(q, k, v, { mask, blockSize }).output.data,
        full.data,
      );
    }
  });
  await t.step("padding mask with an all-padding sequence gives zeros", () => {
    const q = new Tensor(randoms(2 * 10 * 4, 4), [2, 1, 10, 4]);
    const mask = paddingMask([6, 0], 10); // [2, 1, 1, 10]
    const full = scaledDotProductAttention(q, q, q, { mask }).output;
    const tiled = tiledAttention(q, q, q, { mask, blockSize: 4 }).output;
    checkClose("output", tiled.data, full.data);
    assert.ok(tiled.data.subarray(40).every((x) => x === 0));
  });
  await t.step("bad blockSize is a RangeError", () => {
    const x = new Tensor(new Float32Array(4), [2, 2]);
    assert.throws(() => tiledAttention(x, x, x, { blockSize: 0 }), RangeError);
    assert.throws(() => tiledAttention(x, x, x, { blockSize: 2.5 }), RangeError);
  });
});

Deno.test("public matmul() and scaledDotProductAttention() use the fast kernels correctly", async (t) => {
  await t.step("matmul with transposeB on a batch", () => {
    const a = new Tensor(randoms(3 * 50 * 33, 5), [3, 50, 33]);
    const b = new Tensor(randoms(3 * 41 * 33, 6), [3, 41, 33]);
    const c = matmul(a, b, { transposeB: true });
    for (let t = 0; t < 3; t++) {
      const g = {
        a: a.data,
        aOffset: t * 50 * 33,
        b: b.data,
        bOffset: t * 41 * 33,
        c: c.data.subarray(t * 50 * 41, (t + 1) * 50 * 41),
        cOffset: 0,
        m: 50,
        k: 33,
        n: 41,
        transposeB: true,
      };
      checkGemm("matmul", {
        ...g,
        a: a.data.subarray(t * 50 * 33),
        aOffset: 0,
        b: b.data.subarray(t * 41 * 33),
        bOffset: 0,
      }, g.c);
    }
  });
  await t.step("scaledDotProductAttention at n=130 with causal mask", () => {
    const q = new Tensor(randoms(130 * 64, 7), [130, 64]);
    const { output, weights } = scaledDotProductAttention(q, q, q, { mask: causalMask(130) });
    const make = attentionArgs(130, 130, 64, 64, 7, "causal");
    const ref = make(new Float32Array(130 * 64), new Float32Array(130 * 130), null);
    attentionReference({ ...ref, q: q.data, k: q.data, v: q.data });
    checkClose("weights", weights.data, ref.weights!);
    checkClose("output", output.data, ref.out);
  });
});

Deno.test("gemm() adds a bias row on every path", async (t) => {
  // small (JavaScript loop) and large (WebAssembly epilogue) products, ragged n
  for (const [m, k, n] of [[3, 5, 7], [37, 70, 45], [64, 64, 64]]) {
    for (const transposeB of [false, true]) {
      await t.step(`m=${m} k=${k} n=${n} transposeB=${transposeB}`, () => {
        const a = randoms(m * k, m), b = randoms(k * n, n), bias = randoms(n + 2, k);
        for (const [name, f] of [["gemm", gemm], ["gemmReference", gemmReference]] as const) {
          const c = new Float32Array(m * n).fill(NaN);
          f({
            a,
            aOffset: 0,
            b,
            bOffset: 0,
            c,
            cOffset: 0,
            m,
            k,
            n,
            transposeB,
            bias,
            biasOffset: 2,
          });
          // float64 sum + bias; tolerance 1e-5 of the magnitudes (as checkGemm, plus |bias|)
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let sum = bias[2 + j], mag = Math.abs(bias[2 + j]);
              for (let p = 0; p < k; p++) {
                const x = a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]);
                sum += x;
                mag += Math.abs(x);
              }
              const d = Math.abs(c[i * n + j] - sum);
              if (!(d <= 1e-5 * mag + 1e-30)) {
                assert.fail(`${name} C[${i}, ${j}] = ${c[i * n + j]}, float64 ${sum}, |diff| ${d}`);
              }
            }
          }
        }
      });
    }
  }
});

/**
 * Runs `f` once forced onto the WebAssembly path on one thread and once forced
 * onto the threaded path on two threads with no size threshold (packing split
 * too), checking that the second really ran a kernel on the threads.
 */
function onOneAndTwoThreads<T>(f: () => T): [T, T] {
  const threshold = PARALLEL_MIN_WORK;
  setThreads(1);
  const one = withKernelPath("wasm", f);
  setThreads(2);
  setParallelMinWork(0);
  try {
    const { result: two, calls } = traceKernels(() => withKernelPath("threaded", f));
    assert.equal(poolSize(), 2, "the worker pool did not start");
    assert.ok(
      calls.some((c) => c.backend === "threaded"),
      `no kernel ran on the threaded path: ${JSON.stringify(calls.slice(0, 4))}`,
    );
    return [one, two];
  } finally {
    setParallelMinWork(threshold);
  }
}

Deno.test("kernels split across worker threads give the single-thread bits", async (t) => {
  try {
    await t.step("gemm, ragged shapes, with and without bias", () => {
      for (const [m, k, n] of [[5, 3, 7], [37, 70, 45], [130, 33, 17], [9, 300, 200]]) {
        for (const transposeB of [false, true]) {
          const a = randoms(m * k, m + k), b = randoms(k * n, n), bias = randoms(n, 3);
          for (const withBias of [false, true]) {
            const [one, two] = onOneAndTwoThreads(() => {
              const c = new Float32Array(m * n);
              gemm({
                a,
                aOffset: 0,
                b,
                bOffset: 0,
                c,
                cOffset: 0,
                m,
                k,
                n,
                transposeB,
                bias: withBias ? bias : null,
              });
              return c;
            });
            assert.deepEqual(two, one, `m=${m} k=${k} n=${n} transposeB=${transposeB}`);
            if (!withBias) {
              checkGemm("2 threads", {
                a,
                aOffset: 0,
                b,
                bOffset: 0,
                c: two,
                cOffset: 0,
                m,
                k,
                n,
                transposeB,
              }, two);
            }
          }
        }
      }
    });
    await t.step("attention rows, ragged shapes and masks", () => {
      for (const kind of ["none", "causal", "random", "padding", "empty-rows"] as MaskKind[]) {
        for (const [tq, tk, dk, dv] of [[9, 5, 3, 2], [37, 45, 16, 24], [130, 70, 64, 40]]) {
          const make = attentionArgs(tq, tk, dk, dv, tq * tk, kind);
          const [one, two] = onOneAndTwoThreads(() => {
            const a = make(new Float32Array(tq * dv), new Float32Array(tq * tk), null);
            attentionKernel(a);
            return a;
          });
          const what = `tq=${tq} tk=${tk} dk=${dk} dv=${dv} mask=${kind}`;
          assert.deepEqual(two.out, one.out, `output ${what}`);
          assert.deepEqual(two.weights, one.weights, `weights ${what}`);
          const ref = make(new Float32Array(tq * dv), new Float32Array(tq * tk), null);
          attentionReference(ref);
          checkClose(`2 threads output ${what}`, two.out, ref.out);
        }
      }
    });
    await t.step("batches of heads, ragged shapes and masks", () => {
      for (const kind of ["none", "causal", "padding", "empty-rows"] as MaskKind[]) {
        for (const [count, tq, tk, dk, dv] of [[5, 37, 45, 16, 24], [3, 130, 70, 64, 40]]) {
          const [one, two] = onOneAndTwoThreads(() => {
            const batch = attentionBatch(count, tq, tk, dk, dv, kind, tq + count, true);
            attentionKernels(batch);
            return batch[0];
          });
          const what = `count=${count} tq=${tq} tk=${tk} mask=${kind}`;
          assert.deepEqual(two.out, one.out, `output ${what}`);
          assert.deepEqual(two.weights, one.weights, `weights ${what}`);
          checkBatch(
            attentionBatch(count, tq, tk, dk, dv, kind, tq + count, true),
            `2 threads ${what}`,
          );
        }
      }
    });
    await t.step("FlashAttention query blocks, ragged shapes, masks and block sizes", () => {
      for (const kind of ["none", "causal", "random", "padding", "empty-rows"] as MaskKind[]) {
        for (const [tq, tk, dk, dv] of [[9, 5, 3, 2], [37, 45, 16, 24], [130, 70, 64, 40]]) {
          const make = attentionArgs(tq, tk, dk, dv, tq + tk, kind);
          const ref = make(new Float32Array(tq * dv), new Float32Array(tq * tk), null);
          attentionReference(ref);
          for (const blockSize of [1, 7, 32, 128]) {
            const [one, two] = onOneAndTwoThreads(() => {
              const out = new Float32Array(tq * dv);
              flashAttentionKernel({ ...make(out, new Float32Array(0), null), blockSize });
              return out;
            });
            const what = `tq=${tq} tk=${tk} dk=${dk} dv=${dv} mask=${kind} blockSize=${blockSize}`;
            assert.deepEqual(two, one, what);
            checkClose(`2 threads ${what}`, two, ref.out);
            const js = new Float32Array(tq * dv);
            flashAttentionJs({ ...make(js, new Float32Array(0), null), blockSize });
            checkClose(`flashAttentionJs ${what}`, js, ref.out);
          }
        }
      }
    });
    await t.step("public ops on two threads: matmul, linear-sized products, tiledAttention", () => {
      const q = new Tensor(randoms(2 * 300 * 24, 11), [2, 300, 24]);
      const mask = causalMask(300);
      const [one, two] = onOneAndTwoThreads(() => [
        matmul(q, q, { transposeB: true }).data,
        scaledDotProductAttention(q, q, q, { mask }).output.data,
        tiledAttention(q, q, q, { mask, blockSize: 64 }).output.data,
      ]);
      assert.deepEqual(two, one);
      checkClose("tiled vs full", two[2], two[1]);
    });
  } finally {
    setThreads(navigator.hardwareConcurrency);
    await shutdownWorkers();
  }
});

Deno.test("elementwise and layer fast paths agree with plain loops", async (t) => {
  await t.step("row broadcast on either side, with leading 1s, ragged widths", () => {
    for (const [rows, w] of [[1, 1], [3, 7], [5, 130]]) {
      const x = new Tensor(randoms(rows * w, w), [1, rows, w]);
      const row = randoms(w, rows + 1);
      for (const rowShape of [[w], [1, w], [1, 1, w]]) {
        const r = new Tensor(row, rowShape);
        const sums = [add(x, r), add(r, x)], diffs = [sub(x, r), sub(r, x)], q = div(r, x);
        for (let i = 0; i < rows * w; i++) {
          const a = x.data[i], b = row[i % w];
          assert.equal(sums[0].data[i], Math.fround(a + b));
          assert.equal(sums[1].data[i], Math.fround(b + a));
          assert.equal(diffs[0].data[i], Math.fround(a - b));
          assert.equal(diffs[1].data[i], Math.fround(b - a));
          assert.equal(q.data[i], Math.fround(b / a));
        }
        assert.deepEqual(sums[0].shape, [1, rows, w]);
      }
    }
  });
  await t.step("relu keeps NaN and maps -0 and -Infinity to +0", () => {
    const x = Float32Array.of(-1, 2, -0, 0, NaN, -Infinity, Infinity, 1e-40, -1e-40, -NaN);
    const y = relu(new Tensor(x, [10])).data;
    assert.deepEqual([...y], [0, 2, 0, 0, NaN, 0, Infinity, Math.fround(1e-40), 0, NaN]);
    assert.ok(y.every((v) => !Object.is(v, -0)));
    // a view into a larger buffer is read from its own offset
    const view = new Float32Array(Float32Array.of(5, -3, 4).buffer, 4, 2);
    assert.deepEqual([...relu(new Tensor(view, [2])).data], [0, 4]);
  });
  await t.step("layerNorm with and without affine parameters", () => {
    const d = 33, x = new Tensor(randoms(4 * d, 3), [4, d]);
    const weight = new Tensor(randoms(d, 4), [d]), bias = new Tensor(randoms(d, 5), [d]);
    for (const opts of [{}, { weight }, { bias }, { weight, bias }]) {
      const y = layerNorm(x, opts).data;
      for (let r = 0; r < 4; r++) {
        let mean = 0, sq = 0;
        for (let i = 0; i < d; i++) mean += x.data[r * d + i] / d;
        for (let i = 0; i < d; i++) sq += (x.data[r * d + i] - mean) ** 2 / d;
        for (let i = 0; i < d; i++) {
          let e = (x.data[r * d + i] - mean) / Math.sqrt(sq + 1e-5);
          if ("weight" in opts) e *= weight.data[i];
          if ("bias" in opts) e += bias.data[i];
          assert.ok(Math.abs(y[r * d + i] - e) <= 1e-5 * Math.abs(e) + 1e-6, `row ${r} col ${i}`);
        }
      }
    }
  });
});
