/**
 * Numerics that never lie (issue 10, point 5), on every path: the JavaScript
 * steps (tiny sizes and `attentionReference`), the WebAssembly kernels on one
 * thread (`setThreads(1)`) and on several (`setParallelMinWork(0)`), batches of
 * heads (`attentionKernels`), the JavaScript hooks (bias, raw scores, a strided
 * mask) and FlashAttention (`flashAttentionKernel`, `flashAttentionJs`):
 *
 * - a NaN a query can see reaches its output, as in PyTorch;
 * - a value (or key) a query may not attend to never reaches it, NaN and ±∞ included;
 * - query rows in chunks give the unchunked bits, and the output-only path
 *   works under an arena limit far below a [Tq, Tk] matrix;
 * - one failed kernel call (a trap on the worker threads, a refused size, a
 *   re-entrant call) leaves the next call correct;
 * - a re-entrant call from a user callback is refused with a clear error.
 *
 * The oracle is a float64 loop that skips masked keys.
 *
 * @module
 */

import fc from "fast-check";
import assert from "node:assert/strict";
import { softmaxRows, softmaxRowsReference } from "../lib/kernels/softmax.ts";
import {
  attentionKernel,
  type AttentionKernelArgs,
  attentionKernels,
  attentionReference,
  setAttentionScratchBytes,
} from "../lib/kernels/attention.ts";
import { flashAttentionJs, flashAttentionKernel } from "../lib/kernels/flash.ts";
import { attentionWasm, failKernelForTest, setArenaLimit, wasmReady } from "../lib/kernels/simd.ts";
import { PARALLEL_MIN_WORK, setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { poolSize, setThreads, shutdownWorkers } from "../lib/kernels/threads.ts";
import { logSoftmax, softmax } from "../lib/tensor/softmax.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";
import { matmul } from "../lib/tensor/matmul.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { tiledAttention } from "../lib/attention/tiled.ts";
import { causalMask } from "../lib/attention/masks.ts";
import { randoms } from "./_randoms.ts";

/** Threads for the threaded path: at least 2, even on a one-core host. */
const THREADS = Math.max(2, Math.min(4, navigator.hardwareConcurrency));

function oneThread<T>(f: () => T): T {
  setThreads(1);
  try {
    return f();
  } finally {
    setThreads(navigator.hardwareConcurrency);
  }
}

/** Runs `f` with every call split across the threads (no size threshold). */
function threaded<T>(f: () => T): T {
  const threshold = PARALLEL_MIN_WORK;
  setThreads(THREADS);
  setParallelMinWork(0);
  try {
    const out = f();
    assert.equal(poolSize(), THREADS, "the worker pool did not start");
    return out;
  } finally {
    setParallelMinWork(threshold);
    setThreads(navigator.hardwareConcurrency);
  }
}

/** Runs `f` with query rows in chunks of 16. */
function inChunks<T>(tk: number, f: () => T): T {
  setAttentionScratchBytes(16 * 4 * Math.ceil(tk / 8) * 8);
  try {
    return f();
  } finally {
    setAttentionScratchBytes();
  }
}

/** One attention problem: inputs, a `[tq, tk]` 0/1 mask (null: none) and a `[tq, tk]` bias. */
interface Problem {
  tq: number;
  tk: number;
  dk: number;
  dv: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  mask: Uint8Array | null;
  bias: Float32Array | null;
}

type MaskKind = "none" | "causal" | "padding" | "random";

function makeMask(kind: MaskKind, tq: number, tk: number, seed: number): Uint8Array | null {
  if (kind === "none") return null;
  const r = randoms(tq * tk, seed + 7), len = Math.max(1, tk - 3);
  return Uint8Array.from({ length: tq * tk }, (_, e) => {
    const i = Math.floor(e / tk), j = e % tk;
    if (kind === "causal") return j <= i + tk - tq ? 1 : 0;
    if (kind === "padding") return j < len ? 1 : 0;
    return r[e] > -0.4 ? 1 : 0;
  });
}

function problem(
  tq: number,
  tk: number,
  dk: number,
  dv: number,
  kind: MaskKind,
  seed: number,
): Problem {
  return {
    tq,
    tk,
    dk,
    dv,
    q: randoms(tq * dk, seed).map((x) => 2 * x),
    k: randoms(tk * dk, seed + 1),
    v: randoms(tk * dv, seed + 2),
    mask: makeMask(kind, tq, tk, seed),
    bias: null,
  };
}

function copyProblem(p: Problem): Problem {
  return { ...p, q: p.q.slice(), k: p.k.slice(), v: p.v.slice() };
}

/** The float64 oracle: masked keys skipped, a NaN score makes its row NaN, no key gives 0. */
function oracle(p: Problem): { out: Float64Array; weights: Float64Array } {
  const { tq, tk, dk, dv, q, k, v, mask, bias } = p;
  const scale = 1 / Math.sqrt(dk);
  const out = new Float64Array(tq * dv), weights = new Float64Array(tq * tk);
  for (let i = 0; i < tq; i++) {
    const s = new Float64Array(tk);
    const allowed: number[] = [];
    for (let j = 0; j < tk; j++) {
      if (mask && mask[i * tk + j] === 0) continue;
      let dot = 0;
      for (let c = 0; c < dk; c++) dot += q[i * dk + c] * k[j * dk + c];
      s[j] = Math.fround(dot) * scale + (bias ? bias[i * tk + j] : 0);
      allowed.push(j);
    }
    if (allowed.length === 0) continue;
    if (allowed.some((j) => Number.isNaN(s[j]))) {
      weights.fill(NaN, i * tk, (i + 1) * tk);
      out.fill(NaN, i * dv, (i + 1) * dv);
      continue;
    }
    const max = Math.max(...allowed.map((j) => s[j]));
    let sum = 0;
    for (const j of allowed) sum += Math.exp(s[j] - max);
    for (const j of allowed) {
      const w = Math.exp(s[j] - max) / sum;
      weights[i * tk + j] = w;
      for (let d = 0; d < dv; d++) out[i * dv + d] += w * v[j * dv + d];
    }
  }
  return { out, weights };
}

/** Same NaNs and infinities as the oracle, finite values within 1e-5·|ref| + 1e-6. */
function checkAgainst(what: string, got: ArrayLike<number>, ref: ArrayLike<number>): void {
  assert.equal(got.length, ref.length, `${what}: lengths differ`);
  for (let i = 0; i < ref.length; i++) {
    const g = got[i], r = ref[i];
    const ok = Number.isNaN(r)
      ? Number.isNaN(g)
      : !Number.isFinite(r)
      ? g === r
      : Math.abs(g - r) <= 1e-5 * Math.abs(r) + 1e-6;
    if (!ok) assert.fail(`${what}[${i}] = ${g}, expected ${r}`);
  }
}

interface RunOptions {
  weights?: boolean;
  scores?: boolean;
  /** Force the JavaScript hook: a zero bias when the problem has none. */
  hook?: boolean;
  /** The mask stored transposed (a strided view: the JavaScript hook applies it). */
  strided?: boolean;
}

function kernelArgs(p: Problem, o: RunOptions = {}): AttentionKernelArgs {
  const { tq, tk, dk, dv } = p;
  let mask: AttentionKernelArgs["mask"] = null;
  if (p.mask && o.strided) {
    const t = new Uint8Array(tq * tk);
    for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) t[j * tq + i] = p.mask[i * tk + j];
    mask = { data: t, offset: 0, rowStride: 1, colStride: tq };
  } else if (p.mask) mask = { data: p.mask, offset: 0, rowStride: tk, colStride: 1 };
  const bias = p.bias
    ? { data: p.bias, offset: 0, rowStride: tk, colStride: 1 }
    : o.hook
    ? { data: new Float32Array(1), offset: 0, rowStride: 0, colStride: 0 }
    : null;
  return {
    q: p.q,
    qOffset: 0,
    k: p.k,
    kOffset: 0,
    v: p.v,
    vOffset: 0,
    tq,
    tk,
    dk,
    dv,
    scale: 1 / Math.sqrt(dk),
    mask,
    bias,
    out: new Float32Array(tq * dv).fill(-7),
    outOffset: 0,
    weights: o.weights ? new Float32Array(tq * tk).fill(-7) : null,
    weightsOffset: 0,
    scores: o.scores ? new Float32Array(tq * tk) : null,
    scoresOffset: 0,
    dropout: 0,
    dropoutKey: null,
  };
}

/** Three heads in shared buffers, `p` in the middle one between two clean heads; `p`'s output. */
function headsOutput(p: Problem): Float32Array {
  const heads = [
    problem(p.tq, p.tk, p.dk, p.dv, "none", 99),
    p,
    problem(p.tq, p.tk, p.dk, p.dv, "none", 98),
  ];
  const { tq, tk, dk, dv } = p;
  const cat = (f: (h: Problem) => Float32Array) => {
    const parts = heads.map(f), out = new Float32Array(parts.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of parts) {
      out.set(x, at);
      at += x.length;
    }
    return out;
  };
  const q = cat((h) => h.q), k = cat((h) => h.k), v = cat((h) => h.v);
  const mask = p.mask ?? undefined;
  const out = new Float32Array(3 * tq * dv).fill(-7);
  attentionKernels(heads.map((h, i) => ({
    ...kernelArgs(h),
    q,
    qOffset: i * tq * dk,
    k,
    kOffset: i * tk * dk,
    v,
    vOffset: i * tk * dv,
    mask: mask ? { data: mask, offset: 0, rowStride: tk, colStride: 1 } : null,
    out,
    outOffset: i * tq * dv,
  })));
  // the clean heads share p's mask here: compare them with the oracle under it
  for (const i of [0, 2]) {
    const ref = oracle({ ...heads[i], mask: p.mask });
    checkAgainst(`clean head ${i}`, out.subarray(i * tq * dv, (i + 1) * tq * dv), ref.out);
  }
  return out.slice(tq * dv, 2 * tq * dv);
}

function run(p: Problem, kernel: (a: AttentionKernelArgs) => void, o: RunOptions = {}) {
  const a = kernelArgs(p, o);
  kernel(a);
  return a;
}

function flash(p: Problem, blockSize: number, js = false): Float32Array {
  const a = kernelArgs(p);
  (js ? flashAttentionJs : flashAttentionKernel)({ ...a, blockSize });
  return a.out;
}

/** Every path's output for `p`. */
const PATHS: [string, (p: Problem) => Float32Array][] = [
  ["attentionReference", (p) => run(p, attentionReference).out],
  ["attentionKernel, one thread", (p) => oneThread(() => run(p, attentionKernel).out)],
  ["attentionKernel, threads", (p) => threaded(() => run(p, attentionKernel).out)],
  [
    "attentionKernel, 16-row chunks, threads",
    (p) => threaded(() => inChunks(p.tk, () => run(p, attentionKernel).out)),
  ],
  [
    "attentionKernel with weights, threads",
    (p) => threaded(() => run(p, attentionKernel, { weights: true }).out),
  ],
  ["attentionKernels, 3 heads, one thread", (p) => oneThread(() => headsOutput(p))],
  ["attentionKernels, 3 heads, threads", (p) => threaded(() => headsOutput(p))],
  [
    "attentionKernel, bias hook",
    (p) => oneThread(() => run(p, attentionKernel, { hook: true }).out),
  ],
  [
    "attentionKernel, raw scores hook",
    (p) => oneThread(() => run(p, attentionKernel, { scores: true }).out),
  ],
  [
    "attentionKernel, strided mask hook",
    (p) => oneThread(() => run(p, attentionKernel, { strided: true }).out),
  ],
  ["flashAttentionKernel, one thread", (p) => oneThread(() => flash(p, 16))],
  ["flashAttentionKernel, threads", (p) => threaded(() => flash(p, 32))],
  ["flashAttentionJs", (p) => flash(p, 16, true)],
];

/** Sizes that reach the JavaScript steps (tiny), the WebAssembly kernels, ragged tails. */
const SIZES: [number, number, number, number][] = [[5, 7, 3, 2], [64, 64, 16, 16], [
  37,
  45,
  16,
  24,
]];

Deno.test("a NaN logit makes its softmax row NaN (PyTorch), on the JS and WASM paths", async (t) => {
  await t.step("public softmax and logSoftmax", () => {
    for (const row of [[NaN, NaN, NaN], [NaN, 0, 1], [NaN, -Infinity], [Infinity, NaN, 0]]) {
      const p = softmax(tensor([row])).data, lp = logSoftmax(tensor([row])).data;
      assert.ok(p.every(Number.isNaN), `softmax([${row}]) = [${p}]`);
      assert.ok(lp.every(Number.isNaN), `logSoftmax([${row}]) = [${lp}]`);
    }
    // unchanged: a fully masked row is zeros (softmax) and stays -Infinity (logSoftmax)
    assert.deepEqual([...softmax(tensor([[-Infinity, -Infinity]])).data], [0, 0]);
    assert.deepEqual([...logSoftmax(tensor([[-Infinity, -Infinity]])).data], [
      -Infinity,
      -Infinity,
    ]);
  });
  await t.step("rows reaching the vector loop and the scalar tail (WASM from 256 entries)", () => {
    const cols = 37, rows = 12; // 9 vectors of 4 and a tail of 1
    const x = randoms(rows * cols, 5).map((v) => 4 * v);
    const set = (r: number, j: number, v: number) => (x[r * cols + j] = v);
    for (let j = 0; j < cols; j++) {
      set(0, j, NaN);
      set(3, j, -Infinity);
      set(4, j, -Infinity);
      set(6, j, -Infinity);
    }
    set(1, 5, NaN); // in a vector, finite neighbours
    set(2, 36, NaN); // in the tail
    set(3, 5, NaN); // NaN among -inf, vector
    set(4, 36, NaN); // NaN among -inf, tail
    set(5, 3, Infinity);
    set(5, 20, NaN); // +inf and NaN
    set(7, 2, Infinity);
    set(7, 9, Infinity); // +inf shares its weight: 1/2 each
    const fast = x.slice(), ref = x.slice();
    assert.ok(rows * cols >= 256);
    softmaxRows(fast, 0, rows, cols);
    softmaxRowsReference(ref, 0, rows, cols);
    const want = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = [...x.subarray(r * cols, (r + 1) * cols)];
      const o = r * cols;
      if (row.some(Number.isNaN)) want.fill(NaN, o, o + cols);
      else if (row.every((v) => v === -Infinity)) want.fill(0, o, o + cols);
      else if (row.includes(Infinity)) {
        const n = row.filter((v) => v === Infinity).length;
        row.forEach((v, j) => (want[o + j] = v === Infinity ? 1 / n : 0));
      } else {
        const m = Math.max(...row), s = row.reduce((a, v) => a + Math.exp(v - m), 0);
        row.forEach((v, j) => (want[o + j] = Math.exp(v - m) / s));
      }
    }
    if (wasmReady()) checkAgainst("softmaxRows (WASM)", fast, want);
    checkAgainst("softmaxRowsReference", ref, want);
  });
});

Deno.test("a NaN a query can see reaches its weights and output, on every path", async (t) => {
  try {
    await t.step("scaledDotProductAttention(tensor([[NaN, 0]]), k, k) and tiledAttention", () => {
      const q = tensor([[NaN, 0]]), k = tensor([[NaN, 0]]);
      const r = scaledDotProductAttention(q, k, k);
      assert.ok(r.weights.data.every(Number.isNaN), `weights ${r.weights.data}`);
      assert.ok(r.output.data.every(Number.isNaN), `output ${r.output.data}`);
      assert.ok(tiledAttention(q, k, k).output.data.every(Number.isNaN));
    });
    for (const [tq, tk, dk, dv] of SIZES) {
      for (const kind of ["none", "causal", "padding", "random"] as MaskKind[]) {
        const cases: [string, (p: Problem) => void][] = [
          ["NaN in query row 2", (p) => p.q.fill(NaN, 2 * dk, 3 * dk)],
          ["one NaN in query row 1", (p) => (p.q[dk + 1] = NaN)],
          ["NaN in key 0", (p) => p.k.fill(NaN, 0, dk)],
          ["NaN in the last key", (p) => (p.k[(tk - 1) * dk] = NaN)],
          ["NaN in the last value", (p) => (p.v[tk * dv - 1] = NaN)],
        ];
        for (const [name, poison] of cases) {
          const p = problem(tq, tk, dk, dv, kind, tq + tk + dk);
          poison(p);
          const ref = oracle(p);
          await t.step(`${tq}x${tk} d=${dk}/${dv} ${kind} mask, ${name}`, () => {
            for (const [path, f] of PATHS) checkAgainst(`${path} output`, f(p), ref.out);
            const w = threaded(() => run(p, attentionKernel, { weights: true }).weights!);
            checkAgainst("weights, threads", w, ref.weights);
            const w1 = run(p, attentionReference, { weights: true }).weights!;
            checkAgainst("weights, reference", w1, ref.weights);
          });
        }
      }
    }
  } finally {
    await shutdownWorkers();
  }
});

Deno.test("a value a query may not attend to never reaches its output, on every path", async (t) => {
  try {
    for (const n of [64, 512]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        await t.step(`causal n=${n}, ${bad} in the last value row: rows 0..n-2 untouched`, () => {
          const d = n === 512 ? 8 : 16;
          const clean = problem(n, n, d, d, "causal", n);
          const p = copyProblem(clean);
          p.v.fill(bad, (n - 1) * d, n * d);
          const ref = oracle(p);
          for (const [path, f] of PATHS) {
            if (n === 512 && path === "flashAttentionJs") continue; // its fallback is covered at 64
            const got = f(p), want = f(clean);
            const head = (x: Float32Array) => x.subarray(0, (n - 1) * d);
            assert.ok(head(got).every(Number.isFinite), `${path}: a hidden value leaked`);
            assert.deepEqual(head(got), head(want), `${path}: rows 0..n-2 changed`);
            checkAgainst(path, got, ref.out);
          }
        });
      }
      await t.step(`causal n=${n}, NaN in the last key row`, () => {
        const p = problem(n, n, 8, 8, "causal", n + 1);
        p.k.fill(NaN, (n - 1) * 8, n * 8);
        const ref = oracle(p);
        for (const [path, f] of PATHS) checkAgainst(path, f(p), ref.out);
      });
    }
    for (const [tq, tk, dk, dv] of SIZES) {
      for (const kind of ["padding", "random"] as MaskKind[]) {
        await t.step(`${kind} mask ${tq}x${tk}: NaN/Inf values and keys behind it stay out`, () => {
          const clean = problem(tq, tk, dk, dv, kind, tq * tk);
          const p = copyProblem(clean);
          // keys 1 and tk-1: masked for some queries (random) or all (padding)
          for (const [j, bad] of [[1, NaN], [tk - 1, Infinity], [tk - 2, -Infinity]]) {
            p.v.fill(bad, j * dv, (j + 1) * dv);
            if (kind === "padding" && j > 1) p.k.fill(NaN, j * dk, (j + 1) * dk);
          }
          const ref = oracle(p);
          for (const [path, f] of PATHS) checkAgainst(path, f(p), ref.out);
          if (kind === "padding") {
            // keys past the padding length are masked for every query: the bits of zeros there
            const zeroed = copyProblem(clean), hidden = copyProblem(clean);
            for (const j of [tk - 2, tk - 1]) {
              zeroed.v.fill(0, j * dv, (j + 1) * dv);
              zeroed.k.fill(0, j * dk, (j + 1) * dk);
              hidden.v.fill(NaN, j * dv, (j + 1) * dv);
              hidden.k.fill(Infinity, j * dk, (j + 1) * dk);
            }
            for (const [path, f] of PATHS) {
              const got = f(hidden);
              assert.ok(got.every(Number.isFinite), `${path}: a padded value leaked`);
              assert.deepEqual(got, f(zeroed), `${path}: padded keys changed the output`);
            }
          }
        });
      }
    }
    await t.step(
      "property: under a causal mask output i ignores inputs after i, NaN/Inf too",
      () => {
        const paths = PATHS.filter(([name]) => !name.includes("3 heads"));
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 70 }),
            fc.integer({ min: 1, max: 20 }),
            fc.integer({ min: 0, max: 1000 }),
            fc.constantFrom(NaN, Infinity, -Infinity, 1e30, 0.5),
            fc.constantFrom("q", "k", "v", "all"),
            (n, d, at, bad, which) => {
              const cut = at % n;
              const clean = problem(n, n, d, d, "causal", n * d + at);
              const p = copyProblem(clean);
              for (const name of which === "all" ? ["q", "k", "v"] as const : [which]) {
                p[name].fill(bad, (cut + 1) * d);
              }
              for (const [path, f] of paths) {
                const got = f(p).subarray(0, (cut + 1) * d),
                  want = f(clean).subarray(0, (cut + 1) * d);
                assert.deepEqual(
                  got,
                  want,
                  `${path}: n=${n} d=${d} rows after ${cut} set to ${bad}`,
                );
              }
            },
          ),
          { numRuns: 25, seed: 10 },
        );
      },
    );
    await t.step(
      "public ops: scaledDotProductAttention and tiledAttention, causal, NaN at the end",
      () => {
        const n = 64, d = 16;
        const x = randoms(n * d, 3);
        x.fill(NaN, (n - 1) * d);
        const t3 = new Tensor(x, [1, n, d]), mask = causalMask(n);
        for (
          const out of [
            scaledDotProductAttention(t3, t3, t3, { mask }).output,
            scaledDotProductAttention(t3, t3, t3, { mask, needWeights: false }).output,
            tiledAttention(t3, t3, t3, { mask, blockSize: 16 }).output,
          ]
        ) {
          assert.ok(out.data.subarray(0, (n - 1) * d).every(Number.isFinite));
          assert.ok(out.data.subarray((n - 1) * d).every(Number.isNaN));
        }
      },
    );
  } finally {
    await shutdownWorkers();
  }
});

Deno.test("attention rows in chunks give the unchunked bits, within a bounded arena", async (t) => {
  try {
    const cases: [number, number, number, MaskKind][] = [[40, 10, 8, "causal"], [
      100,
      70,
      16,
      "random",
    ]];
    for (const [tq, tk, d, kind] of cases) {
      await t.step(`${tq}x${tk} d=${d}, ${kind} mask, weights, scores, bias, dropout`, () => {
        const p = problem(tq, tk, d, d, kind, tq);
        p.bias = randoms(tq * tk, 4);
        const go = (chunk: boolean, threads: boolean) => {
          const body = () => {
            const a = kernelArgs(p, { weights: true, scores: true });
            const args = { ...a, dropout: 0.25, dropoutKey: { key: 9, call: 0, first: 0 } };
            const call = () => attentionKernel(args);
            if (chunk) inChunks(tk, call);
            else call();
            return [args.out, args.weights!, args.scores!];
          };
          return threads ? threaded(body) : oneThread(body);
        };
        const whole = go(false, false);
        assert.deepEqual(go(true, false), whole, "one thread");
        assert.deepEqual(go(true, true), whole, "threads");
        const ref = (() => {
          const a = kernelArgs(p, { weights: true, scores: true });
          attentionReference({ ...a, dropout: 0.25, dropoutKey: { key: 9, call: 0, first: 0 } });
          return a;
        })();
        checkAgainst("output vs attentionReference", whole[0], ref.out);
      });
    }
    await t.step("output only under an arena limit below the [Tq, Tk] scores", () => {
      if (!wasmReady()) return;
      const n = 1024, d = 8;
      const p = problem(n, n, d, d, "causal", 12);
      const want = oneThread(() => run(p, attentionKernel).out);
      setArenaLimit(2 << 20); // the scores alone would be 4 MiB
      try {
        // default chunk (16 MiB of scores): the call is refused before allocating
        assert.throws(() => oneThread(() => run(p, attentionKernel)), (e: unknown) => {
          assert.ok(e instanceof RangeError);
          assert.match(e.message, /^attention: tq=1024, tk=1024, dk=8, dv=8: needs \d+ bytes/);
          return true;
        });
        setAttentionScratchBytes(256 << 10);
        assert.deepEqual(oneThread(() => run(p, attentionKernel).out), want);
        assert.deepEqual(threaded(() => run(p, attentionKernel).out), want);
      } finally {
        setArenaLimit();
        setAttentionScratchBytes();
      }
      // the refusal left nothing behind
      assert.deepEqual(threaded(() => run(p, attentionKernel).out), want);
    });
  } finally {
    await shutdownWorkers();
  }
});

Deno.test("output-only attention at n = 23,170, d = 1 (2 GiB of scores unchunked) works", () => {
  const n = 23170;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const t = new Tensor(x, [n, 1]);
  const out = scaledDotProductAttention(t, t, t, { needWeights: false }).output.data;
  for (const i of [0, 1, 12345, n - 1]) {
    let max = -Infinity, sum = 0, acc = 0;
    for (let j = 0; j < n; j++) max = Math.max(max, x[i] * x[j]);
    for (let j = 0; j < n; j++) {
      const e = Math.exp(x[i] * x[j] - max);
      sum += e;
      acc += e * x[j];
    }
    checkAgainst(`row ${i}`, [out[i]], [acc / sum]);
  }
});

Deno.test("one failed kernel call does not break the next", async (t) => {
  if (!wasmReady()) return;
  try {
    const p = problem(130, 70, 64, 40, "causal", 5);
    const want = oneThread(() => run(p, attentionKernel, { weights: true }));
    const again = (what: string) => {
      const got = threaded(() => run(p, attentionKernel, { weights: true }));
      assert.deepEqual(got.out, want.out, `output after ${what}`);
      assert.deepEqual(got.weights, want.weights, `weights after ${what}`);
      const a = randoms(64 * 64, 2);
      const c = threaded(() => matmul(new Tensor(a, [64, 64]), new Tensor(a, [64, 64])).data);
      assert.deepEqual(
        c,
        oneThread(() => matmul(new Tensor(a, [64, 64]), new Tensor(a, [64, 64])).data),
      );
    };
    await t.step("a trap on every thread", () => {
      assert.throws(() => threaded(() => failKernelForTest()), WebAssembly.RuntimeError);
      again("a trap on the worker threads");
      assert.throws(() => oneThread(() => failKernelForTest()), WebAssembly.RuntimeError);
      again("a trap on one thread");
    });
    await t.step("a refused size", () => {
      setArenaLimit(1 << 16);
      try {
        assert.throws(() => threaded(() => run(p, attentionKernel)), RangeError);
      } finally {
        setArenaLimit();
      }
      again("a refused size");
    });
  } finally {
    await shutdownWorkers();
  }
});

Deno.test("a re-entrant call from a user callback is refused, and leaves the next call correct", async (t) => {
  const x = new Tensor(randoms(64 * 16, 8), [64, 16]);
  const a16 = new Tensor(randoms(16 * 16, 9), [16, 16]);
  await t.step("a kernel hook that calls the library (WebAssembly attention)", () => {
    if (!wasmReady()) return;
    const n = 64, d = 16, q = randoms(n * d, 3);
    assert.throws(
      () =>
        attentionWasm({
          q,
          qOffset: 0,
          k: q,
          kOffset: 0,
          v: q,
          vOffset: 0,
          tq: n,
          tk: n,
          dk: d,
          dv: d,
          scale: 0.25,
          mask: null,
          out: new Float32Array(n * d),
          outOffset: 0,
          weights: null,
          weightsOffset: 0,
          prepare: () => void matmul(a16, a16),
          after: null,
        }),
      /re-entrant call: the library was called from a callback \(such as a custom rng\)/,
    );
    const want = scaledDotProductAttention(x, x, x, { dropout: 0.2, rng: new Rng(1) });
    assert.ok(want.output.data.every(Number.isFinite));
    const again = scaledDotProductAttention(x, x, x, { dropout: 0.2, rng: new Rng(1) });
    assert.deepEqual(again.output.data, want.output.data);
    checkAgainst("matmul after", matmul(a16, a16).data, naiveProduct(a16.data, 16));
  });
  await t.step(
    "a custom rng runs before the kernel (one key per call): it may call the library",
    () => {
      /** An rng whose nextKey() runs a product big enough for the WebAssembly gemm. */
      const reentrant = (seed: number) => {
        const inner = new Rng(seed);
        return {
          nextKey() {
            matmul(a16, a16);
            return inner.nextKey();
          },
        } as unknown as Rng;
      };
      const small = new Tensor(randoms(4 * 2, 3), [4, 2]);
      for (const input of [x, small]) {
        const got = scaledDotProductAttention(input, input, input, {
          dropout: 0.5,
          rng: reentrant(2),
        });
        const want = scaledDotProductAttention(input, input, input, {
          dropout: 0.5,
          rng: new Rng(2),
        });
        assert.deepEqual(got.output.data, want.output.data);
        assert.deepEqual(got.weights.data, want.weights.data);
      }
    },
  );
});

function naiveProduct(a: Float32Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += a[i * n + p] * a[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}
