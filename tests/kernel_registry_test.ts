/**
 * The kernel table (lib/kernels/registry.ts, kernel_table.ts): how it chooses,
 * forced paths and tracing; then every gemm path (reference, js, packed, wasm,
 * threaded) against a float64 loop with transposeA / transposeB / accumulate /
 * bias, IEEE special values placed on every path and size, and the WebAssembly
 * driver's split of a product whose scratch passes the limit.
 *
 * Tolerance for finite outputs: |c − ref| ≤ 1e-5 · (Σ_p |a_ip·b_pj| + |bias_j| + |c0|)
 * + 1e-30 (float32 rounding of a dot product, as in kernels_test.ts). Non-finite
 * outputs must match the float64 loop's class exactly (NaN, +∞ or −∞).
 */

import fc from "fast-check";
import assert from "node:assert/strict";
import {
  kernelBackends,
  kernelPath,
  registerBackend,
  registerKernel,
  runKernel,
  selectKernel,
  setKernelPath,
  traceKernels,
  withKernelPath,
} from "../lib/kernels/registry.ts";
import { setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { gemm, type GemmArgs, gemmStacked } from "../lib/kernels/matmul.ts";
import {
  gemmBlocks,
  gemmWasmFits,
  setArenaLimit,
  threadsAvailable,
  wasmReady,
} from "../lib/kernels/simd.ts";
import { setThreads, shutdownWorkers } from "../lib/kernels/threads.ts";
import { matmul } from "../lib/tensor/matmul.ts";
import { softmax } from "../lib/tensor/softmax.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";
import { transpose } from "../lib/tensor/transpose.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { tiledAttention } from "../lib/attention/tiled.ts";
import { causalMask } from "../lib/attention/masks.ts";
import { randoms } from "./_randoms.ts";

const PATHS = ["reference", "js", "packed", "wasm", "threaded"] as const;

/** Runs `f` with two threads in the pool (so the threaded path can run), then restores. */
async function withTwoThreads(f: () => void | Promise<void>): Promise<void> {
  setThreads(2);
  try {
    await f();
  } finally {
    setThreads(navigator.hardwareConcurrency);
    await shutdownWorkers();
  }
}

interface Case {
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
  accumulate: boolean;
  bias: boolean;
}

/** Operands of one case: A, B, C0 (the accumulator) and the bias, all seeded. */
function operands(c: Case, seed: number) {
  return {
    a: randoms(c.m * c.k, seed),
    b: randoms(c.k * c.n, seed + 1),
    c0: randoms(c.m * c.n, seed + 2),
    bias: randoms(c.n, seed + 3),
  };
}

/** op(A)[i, p] and op(B)[p, j] of a case's buffers. */
function at(c: Case, a: Float32Array, b: Float32Array) {
  return {
    A: (i: number, p: number) => (c.transposeA ? a[p * c.m + i] : a[i * c.k + p]),
    B: (p: number, j: number) => (c.transposeB ? b[j * c.k + p] : b[p * c.n + j]),
  };
}

/** Runs gemm for a case on the current path into a copy of c0 (or a NaN-filled C). */
function run(c: Case, o: ReturnType<typeof operands>): Float32Array {
  const out = c.accumulate ? o.c0.slice() : new Float32Array(c.m * c.n).fill(NaN);
  gemm({
    a: o.a,
    aOffset: 0,
    b: o.b,
    bOffset: 0,
    c: out,
    cOffset: 0,
    m: c.m,
    k: c.k,
    n: c.n,
    transposeA: c.transposeA,
    transposeB: c.transposeB,
    accumulate: c.accumulate,
    bias: c.bias ? o.bias : null,
  });
  return out;
}

function kind(x: number): string {
  return Number.isNaN(x) ? "NaN" : x === Infinity ? "+Inf" : x === -Infinity ? "-Inf" : "finite";
}

/** Compares `got` with a float64 loop: same class for non-finite, tolerance for finite. */
function check(what: string, c: Case, o: ReturnType<typeof operands>, got: Float32Array): void {
  const { A, B } = at(c, o.a, o.b);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = 0, mag = 0;
      for (let p = 0; p < c.k; p++) {
        s += A(i, p) * B(p, j);
        mag += Math.abs(A(i, p) * B(p, j));
      }
      if (c.bias) s += o.bias[j], mag += Math.abs(o.bias[j]);
      if (c.accumulate) s += o.c0[i * c.n + j], mag += Math.abs(o.c0[i * c.n + j]);
      const g = got[i * c.n + j];
      if (kind(s) !== "finite" || kind(g) !== "finite") {
        if (kind(g) !== kind(s)) {
          assert.fail(`${what} ${JSON.stringify(c)} C[${i}, ${j}] = ${g}, float64 ${s}`);
        }
      } else if (!(Math.abs(g - s) <= 1e-5 * mag + 1e-30)) {
        assert.fail(`${what} ${JSON.stringify(c)} C[${i}, ${j}] = ${g}, float64 ${s}`);
      }
    }
  }
}

/** Runs `f` forced onto `path` and checks that gemm really ran there when it supports the case. */
function onPath<T>(path: string, f: () => T, expectGemmOn: boolean): T {
  const { result, calls } = traceKernels(() => withKernelPath(path, f));
  if (expectGemmOn) {
    assert.ok(
      calls.some((x) => x.name === "gemm" && x.backend === path),
      `gemm did not run on ${path}: ${JSON.stringify(calls)}`,
    );
  }
  return result;
}

/** True when `path` can run this gemm here (WebAssembly paths need k > 0, threads need a pool). */
function pathRuns(path: string, c: Case): boolean {
  if (path === "wasm") return gemmWasmFits(c.m, c.k, c.n, c.transposeA, c.bias);
  if (path === "threaded") {
    return gemmWasmFits(c.m, c.k, c.n, c.transposeA, c.bias) && threadsAvailable();
  }
  return true;
}

const SHAPES: [number, number, number][] = [
  [1, 2, 1],
  [1, 1, 9],
  [3, 0, 4],
  [7, 1, 5],
  [13, 29, 17],
  [37, 70, 45],
  [64, 64, 64],
  [50, 300, 17], // k spans two 256-deep passes; 9 row blocks of 6
  [9, 70, 200], // n spans two 16-panel blocks
];

function allCases(): Case[] {
  const cases: Case[] = [];
  for (const [m, k, n] of SHAPES) {
    for (let flags = 0; flags < 16; flags++) {
      cases.push({
        m,
        k,
        n,
        transposeA: (flags & 1) !== 0,
        transposeB: (flags & 2) !== 0,
        accumulate: (flags & 4) !== 0,
        bias: (flags & 8) !== 0,
      });
    }
  }
  return cases;
}

Deno.test("the kernel table chooses, forces and traces", async (t) => {
  await t.step("every kernel of the library is registered; gemm on all five backends", () => {
    assert.deepEqual(kernelBackends("gemm"), ["threaded", "wasm", "packed", "js", "reference"]);
    for (
      const name of [
        "gemmStacked",
        "softmaxRows",
        "attention",
        "attentionBatch",
        "flashAttention",
        "sum",
        "mean",
        "max",
      ] as const
    ) {
      assert.ok(kernelBackends(name).length >= 1, name);
    }
  });
  await t.step("sizes choose: tiny products in JavaScript, real ones in WebAssembly", () => {
    const g = (m: number, k: number, n: number): GemmArgs => ({
      a: new Float32Array(m * k),
      aOffset: 0,
      b: new Float32Array(k * n),
      bOffset: 0,
      c: new Float32Array(m * n),
      cOffset: 0,
      m,
      k,
      n,
      transposeB: false,
    });
    assert.equal(selectKernel("gemm", g(2, 2, 2)).backend, "js");
    assert.equal(selectKernel("gemm", g(3, 0, 4)).backend, "js");
    if (wasmReady()) assert.equal(selectKernel("gemm", g(64, 64, 64)).backend, "wasm");
    // the reference path is never chosen by size, only when forced
    assert.equal(
      withKernelPath("reference", () => selectKernel("gemm", g(64, 64, 64))).backend,
      "reference",
    );
    // a forced path the operands do not support falls back to the next one below it
    assert.equal(withKernelPath("wasm", () => selectKernel("gemm", g(3, 0, 4))).backend, "packed");
  });
  await t.step("a forced path with nothing at or below it takes the lowest that supports", () => {
    const args = {
      q: new Float32Array(4),
      qOffset: 0,
      k: new Float32Array(4),
      kOffset: 0,
      v: new Float32Array(4),
      vOffset: 0,
      tq: 2,
      tk: 2,
      dk: 2,
      dv: 2,
      scale: 1,
      mask: null,
      bias: { data: new Float32Array(4), offset: 0, rowStride: 2, colStride: 1 },
      out: new Float32Array(4),
      outOffset: 0,
      blockSize: 2,
    };
    // FlashAttention has no reference kernel, and its WebAssembly kernel takes no bias
    assert.equal(
      withKernelPath("reference", () => selectKernel("flashAttention", args)).backend,
      "js",
    );
    assert.equal(
      withKernelPath("threaded", () => selectKernel("flashAttention", args)).backend,
      "js",
    );
  });
  await t.step("a new backend registers without touching any op, and leaves again", () => {
    registerBackend("test-backend", 1000);
    let calls = 0;
    const remove = registerKernel({
      name: "gemm",
      backend: "test-backend",
      impl: (g) => {
        calls++;
        g.c.fill(42, g.cOffset, g.cOffset + g.m * g.n);
      },
      supports: (g) => g.n === 3,
    });
    try {
      assert.deepEqual(matmul(tensor([[1, 2]]), tensor([[1, 2, 3], [4, 5, 6]])).toArray(), [[
        42,
        42,
        42,
      ]]);
      // not supported (n = 2): the built-in choice
      assert.deepEqual(matmul(tensor([[1, 2]]), tensor([[1, 0], [0, 1]])).toArray(), [[1, 2]]);
      assert.equal(calls, 1);
    } finally {
      remove();
    }
    assert.deepEqual(matmul(tensor([[1, 2]]), tensor([[1, 2, 3], [4, 5, 6]])).toArray(), [[
      9,
      12,
      15,
    ]]);
    assert.throws(
      () => registerKernel({ name: "sum", backend: "no-such-backend", impl: () => {} }),
      /registerKernel: backend "no-such-backend" of kernel "sum" is unknown/,
    );
  });
  await t.step("paths are validated and restored, also when the function throws", () => {
    assert.throws(
      () => setKernelPath("gpu-of-the-future"),
      /setKernelPath: path must be "auto" or one of/,
    );
    assert.throws(() =>
      withKernelPath("js", () => {
        throw new Error("inside");
      }), /inside/);
    assert.equal(kernelPath(), "auto");
  });
  await t.step("traces nest: an attention call lists its gemm and softmax sub-kernels", () => {
    const q = tensor([[1, 0], [0, 1]]);
    const { calls } = traceKernels(() =>
      withKernelPath("reference", () => scaledDotProductAttention(q, q, q))
    );
    assert.deepEqual(calls.map((c) => `${c.name}:${c.backend}`), [
      "attentionBatch:js",
      "attention:reference",
    ]);
    const js = traceKernels(() => withKernelPath("js", () => scaledDotProductAttention(q, q, q)));
    assert.deepEqual(js.calls.map((c) => `${c.name}:${c.backend}`), [
      "attentionBatch:js",
      "attention:js",
      "gemm:js",
      "softmaxRows:reference",
      "gemm:js",
    ]);
  });
});

Deno.test("every gemm path agrees with a float64 loop: transposes, accumulate, bias", async () => {
  await withTwoThreads(() => {
    const before = setParallelMinWork(0);
    try {
      for (const [ci, c] of allCases().entries()) {
        const o = operands(c, 17 + ci);
        const results = PATHS.map((path) => onPath(path, () => run(c, o), pathRuns(path, c)));
        for (const [pi, got] of results.entries()) check(PATHS[pi], c, o, got);
        // threads split rows, never the arithmetic: bit-identical to one thread
        if (pathRuns("threaded", c)) assert.deepEqual(results[4], results[3], JSON.stringify(c));
      }
    } finally {
      setParallelMinWork(before);
    }
  });
});

Deno.test("accumulate is exactly C + the product of the same path", async () => {
  await withTwoThreads(() => {
    for (const [m, k, n] of [[5, 7, 3], [37, 70, 45], [64, 64, 64]]) {
      for (const path of PATHS) {
        for (const transposeA of [false, true]) {
          const c: Case = {
            m,
            k,
            n,
            transposeA,
            transposeB: !transposeA,
            accumulate: false,
            bias: true,
          };
          const o = operands(c, m + k);
          const product = onPath(path, () => run(c, o), false);
          const summed = onPath(path, () => run({ ...c, accumulate: true }, o), false);
          const expected = o.c0.map((x, i) => Math.fround(x + product[i]));
          assert.deepEqual(
            summed,
            expected,
            `${path} m=${m} k=${k} n=${n} transposeA=${transposeA}`,
          );
        }
      }
    }
  });
});

Deno.test("IEEE special values reach the same outputs on every path and size", async (t) => {
  await t.step("matmul([[0, 1]], [[Infinity], [1]]) is NaN on every path, and inside 64×64", () => {
    for (const path of PATHS) {
      const small = withKernelPath(path, () => matmul(tensor([[0, 1]]), tensor([[Infinity], [1]])));
      assert.ok(Number.isNaN(small.get(0, 0)), `${path}: got ${small.get(0, 0)}`);
    }
    const a = new Float32Array(64 * 64).fill(0.5), b = new Float32Array(64 * 64).fill(0.25);
    a[0] = 0; // A[0, 0] = 0 meets B[0, 0] = ∞
    b[0] = Infinity;
    for (const path of PATHS) {
      const c = withKernelPath(
        path,
        () => matmul(new Tensor(a, [64, 64]), new Tensor(b, [64, 64])),
      );
      assert.ok(Number.isNaN(c.get(0, 0)), `${path}: C[0, 0] = ${c.get(0, 0)}`);
      assert.equal(c.get(1, 0), Infinity, path); // 0.5·∞
      assert.equal(c.get(0, 1), 63 * 0.5 * 0.25, path); // row 0 elsewhere is finite
    }
  });
  await t.step("0·∞, ∞ and NaN in A, B, C0 and the bias, all flags, all paths", async () => {
    await withTwoThreads(() => {
      const before = setParallelMinWork(0);
      try {
        for (const [ci, c] of allCases().entries()) {
          if (c.k === 0) continue;
          const o = operands(c, 5 + ci);
          const { m, k, n } = c;
          const idxA = (i: number, p: number) => (c.transposeA ? p * m + i : i * k + p);
          const idxB = (p: number, j: number) => (c.transposeB ? j * k + p : p * n + j);
          // 0·∞ at C[i0, j0]; ±∞ down column j0; NaN along row i1; NaN at C0[i2, j2]
          const i0 = m - 1, j0 = n - 1, p0 = k - 1, i1 = Math.floor(m / 2), p1 = 0;
          o.a[idxA(i0, p0)] = 0;
          o.b[idxB(p0, j0)] = Infinity;
          if (i1 !== i0) o.a[idxA(i1, p1)] = NaN;
          o.c0[0] = NaN;
          if (n > 1) o.bias[0] = -Infinity;
          const results = PATHS.map((path) => onPath(path, () => run(c, o), pathRuns(path, c)));
          for (const [pi, got] of results.entries()) check(PATHS[pi], c, o, got);
        }
      } finally {
        setParallelMinWork(before);
      }
    });
  });
});

Deno.test("matmul: transposeA and transposeB with PyTorch batch broadcasting", async (t) => {
  await t.step("equals matmul of the explicit transposes, on every path", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom([[2, 1], [3]], [[1], [2, 3]], [[], [2]], [[4, 1], [1, 2]]),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 1e6 }),
        (m, k, n, [batchA, batchB], tA, tB, seed) => {
          const sa = [...batchA, ...(tA ? [k, m] : [m, k])];
          const sb = [...batchB, ...(tB ? [n, k] : [k, n])];
          const a = new Tensor(randoms(sa.reduce((x, y) => x * y, 1), seed), sa);
          const b = new Tensor(randoms(sb.reduce((x, y) => x * y, 1), seed + 1), sb);
          const ref = withKernelPath(
            "reference",
            () => matmul(tA ? transpose(a) : a, tB ? transpose(b) : b),
          );
          for (const path of PATHS) {
            const got = withKernelPath(
              path,
              () => matmul(a, b, { transposeA: tA, transposeB: tB }),
            );
            assert.deepEqual(got.shape, ref.shape);
            for (let i = 0; i < ref.size; i++) {
              assert.ok(Math.abs(got.data[i] - ref.data[i]) <= 1e-5 * k, `${path} [${i}]`);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
  await t.step("shape errors name the transposed operand; options are type-checked", () => {
    assert.throws(
      () => matmul(tensor([[1, 2, 3], [4, 5, 6]]), tensor([[1], [2], [3]]), { transposeA: true }),
      /matmul: inner sizes differ: a=\[2, 3\] \(transposed\) has K=2, b=\[3, 1\] has K=3/,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => matmul(tensor([[1]]), tensor([[1]]), { transposeA: "yes" as any }),
      /matmul: options.transposeA must be a boolean, got "yes" \(a string\)/,
    );
  });
});

Deno.test("every path of the other kernels gives the same answer", async () => {
  await withTwoThreads(() => {
    const before = setParallelMinWork(0);
    try {
      const x = new Tensor(randoms(3 * 70 * 16, 9), [3, 70, 16]);
      const mask = causalMask(70);
      const ref = withKernelPath("reference", () => ({
        soft: softmax(x).data,
        sdpa: scaledDotProductAttention(x, x, x, { mask }).output.data,
        tiled: tiledAttention(x, x, x, { mask, blockSize: 16 }).output.data,
      }));
      for (const path of PATHS) {
        const got = withKernelPath(path, () => ({
          soft: softmax(x).data,
          sdpa: scaledDotProductAttention(x, x, x, { mask }).output.data,
          tiled: tiledAttention(x, x, x, { mask, blockSize: 16 }).output.data,
        }));
        for (const key of ["soft", "sdpa", "tiled"] as const) {
          for (let i = 0; i < ref[key].length; i++) {
            const d = Math.abs(got[key][i] - ref[key][i]);
            assert.ok(d <= 1e-5 * Math.abs(ref[key][i]) + 1e-6, `${path} ${key}[${i}]: ${d}`);
          }
        }
      }
    } finally {
      setParallelMinWork(before);
    }
  });
});

Deno.test("a product whose WebAssembly scratch passes the limit is split, bit-identically", async (t) => {
  if (!wasmReady()) return;
  const limit = 64 * 1024; // bytes: forces blocks of rows, then of columns too
  await t.step("the plan splits rows (B kept whole), then columns, then refuses", () => {
    setArenaLimit(limit);
    try {
      const rows = gemmBlocks(500, 30, 40, false, false)!;
      assert.ok(rows.mr < 500 && rows.mr % 6 === 0 && rows.nr === 40, JSON.stringify(rows));
      const both = gemmBlocks(200, 200, 300, false, true)!;
      assert.ok(both.nr < 300 && both.nr % 8 === 0 && both.mr % 6 === 0, JSON.stringify(both));
      assert.equal(gemmBlocks(6, 20000, 8, false, false), null);
      assert.equal(gemmWasmFits(6, 20000, 8, false, false), false);
      // too deep for any block: the table runs the packed JavaScript kernel instead
      const g = {
        a: new Float32Array(6 * 20000),
        aOffset: 0,
        b: new Float32Array(20000 * 8),
        bOffset: 0,
        c: new Float32Array(48),
        cOffset: 0,
        m: 6,
        k: 20000,
        n: 8,
        transposeB: false,
      };
      assert.equal(selectKernel("gemm", g).backend, "packed");
    } finally {
      setArenaLimit();
    }
  });
  await t.step("split and whole products have the same bits, on one and two threads", async () => {
    await withTwoThreads(() => {
      for (const [m, k, n] of [[500, 30, 40], [200, 200, 300], [97, 120, 61]]) {
        for (let flags = 0; flags < 16; flags++) {
          const c: Case = {
            m,
            k,
            n,
            transposeA: (flags & 1) !== 0,
            transposeB: (flags & 2) !== 0,
            accumulate: (flags & 4) !== 0,
            bias: (flags & 8) !== 0,
          };
          const o = operands(c, m + flags);
          for (const path of ["wasm", "threaded"]) {
            const whole = onPath(path, () => run(c, o), pathRuns(path, c));
            setArenaLimit(limit);
            try {
              const blocks = gemmBlocks(m, k, n, c.transposeA, c.bias)!;
              assert.ok(blocks.mr < m || blocks.nr < n, `not split: ${JSON.stringify(c)}`);
              const split = onPath(path, () => run(c, o), pathRuns(path, c));
              assert.deepEqual(split, whole, `${path} ${JSON.stringify(c)}`);
            } finally {
              setArenaLimit();
            }
          }
        }
      }
    });
  });
  await t.step("a stacked product splits the same way", () => {
    const m = 300, k = 64;
    const parts = [
      { data: randoms(50 * k, 1), offset: 0, rows: 50, bias: randoms(50, 2) },
      { data: randoms(70 * k, 3), offset: 0, rows: 70, bias: null },
      { data: randoms(30 * k, 4), offset: 0, rows: 30, bias: randoms(30, 5) },
    ];
    const a = randoms(m * k, 6);
    const product = () => {
      const c = new Float32Array(m * 150);
      withKernelPath("wasm", () => gemmStacked(a, 0, parts, c, 0, m, k));
      return c;
    };
    const whole = product();
    setArenaLimit(limit);
    try {
      assert.ok(gemmBlocks(m, k, 150, false, true)!.nr < 150);
      assert.deepEqual(product(), whole);
    } finally {
      setArenaLimit();
    }
  });
});

Deno.test("runKernel without a registration names the kernel", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => runKernel("no-such-kernel" as any, {} as any),
    /runKernel: no implementation of kernel "no-such-kernel" is registered/,
  );
});
