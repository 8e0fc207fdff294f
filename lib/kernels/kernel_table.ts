/**
 * The built-in kernel table: every implementation of every kernel, and the
 * one place where the library decides between them (size thresholds,
 * WebAssembly availability, worker threads). The mechanism (priorities,
 * forced paths, tracing) is `registry.ts`; the kernels live in their own
 * files and are registered here, so the files that compute never choose.
 *
 * Backends, highest priority first: `threaded` (WebAssembly SIMD split across
 * the worker pool), `wasm` (WebAssembly SIMD on the calling thread), `packed`
 * (register-blocked JavaScript, the fallback where WebAssembly is missing),
 * `js` (plain fast JavaScript loops, best for tiny sizes), `reference` (the
 * readable loops every test compares with).
 *
 * Imported for its effect by every file that exposes a dispatching kernel
 * entry point (`gemm`, `softmaxRows`, `attentionKernel`, ...).
 *
 * @module
 */

import { registerKernel } from "./registry.ts";
import { kernelPath } from "./registry.ts";
import type { GemmArgs } from "./gemm_args.ts";
import { gemmJs, gemmPacked, gemmReference, gemmStackedJs } from "./matmul.ts";
import {
  attentionBackwardBatchable,
  attentionBackwardBatchWasm,
  attentionBackwardWasm,
  BACKWARD_WHOLE_MAX,
  flashAttentionWasm,
  gemmWasm,
  gemmWasmFits,
  gemmWasmStacked,
  layerNormBackwardWasm,
  softmaxBackwardWasm,
  softmaxWasm,
  threadsAvailable,
  wasmReady,
  withThreadMode,
} from "./simd.ts";
import { softmaxRowsReference } from "./softmax.ts";
import { softmaxBackwardJs, softmaxBackwardReference } from "./softmax_backward.ts";
import {
  attentionBatchable,
  attentionBatchWasm,
  attentionJs,
  type AttentionKernelArgs,
  attentionReference,
  attentionWasmPath,
  contiguous,
  lseNeedsHook,
} from "./attention.ts";
import { flashAttentionJs } from "./flash.ts";
import {
  type AttentionBackwardArgs,
  attentionBackwardBlocked,
  attentionBackwardReference,
} from "./attention_backward.ts";
import { maxReference, meanReference, sumReference } from "./reduce.ts";
import { runKernel } from "./registry.ts";
import { batchNormBackwardReference, normBackwardReference } from "./layer_norm_backward.ts";

/**
 * Below this many multiply-adds (gemm: m·n·k; attention: tq·tk·max(dk, dv))
 * copying into WebAssembly memory costs more than it saves.
 */
const WASM_MIN_WORK = 4096;
/** Below this many entries a softmax's copy into WebAssembly memory is not worth it. */
const SOFTMAX_WASM_MIN = 256;

/**
 * Work (multiply-adds, m·n·k) from which a product is split across threads;
 * attention splits from a quarter of it (see {@link ATTENTION_SHARE}). Waking a
 * worker and waiting for it costs about 10-50 µs on the 2-core development
 * machine (more when it is loaded; a worker polls for a while after each task,
 * so calls that follow each other start at once), and the serial part (copies
 * into linear memory, packing) does not shrink. Measured there (deno bench,
 * threshold 2^22 against 2^20, three runs each): a 128³ product 179/124/187
 * against 109/116/178 µs, but 96×256×64 (three 36-row units for two threads)
 * 125/120/122 against 150/149/91 µs; 512³ gains 1.3-1.8×. So products keep 2^22
 * (about 0.25 ms of one core).
 */
export let PARALLEL_MIN_WORK = 1 << 22;
/**
 * Attention splits at `PARALLEL_MIN_WORK / ATTENTION_SHARE` multiply-adds,
 * tq·tk·(dk + dv): its units are 16 query rows, so even n = 128 has 8 to share.
 * Measured as above: W1 n = 128, d = 64 (2^21) took 219/171/181/195 µs on one
 * thread against 126/118/135/125 µs on two; the causal case (half the work) was
 * even, 155/114/108/112 against 99/118/113/111 µs; Q of 96 rows over 200 keys
 * 228/235/234 against 151/153/169 µs.
 */
const ATTENTION_SHARE = 4;

/**
 * Overrides {@link PARALLEL_MIN_WORK} (benchmarks and tests; 0 splits every call
 * with two or more work units, packing included). Returns the previous value.
 *
 * @example Split everything, then restore
 * ```ts
 * import { setParallelMinWork } from "./kernel_table.ts";
 * import assert from "node:assert/strict";
 * const before = setParallelMinWork(0);
 * assert.equal(setParallelMinWork(before), 0);
 * ```
 */
export function setParallelMinWork(work: number): number {
  if (!Number.isSafeInteger(work) || work < 0) {
    throw new RangeError(
      `setParallelMinWork: work must be a non-negative integer, got ${String(work)}`,
    );
  }
  const before = PARALLEL_MIN_WORK;
  PARALLEL_MIN_WORK = work;
  return before;
}

/** True when `work` multiply-adds over `units` work units are worth the worker threads. */
function worthThreads(work: number, units: number, share = 1): boolean {
  return work * share >= PARALLEL_MIN_WORK && units >= 2;
}

/** Runs `fn` on the worker threads: packing split too when threads are forced. */
function onThreads(fn: () => void): void {
  withThreadMode(kernelPath() === "threaded" || PARALLEL_MIN_WORK === 0 ? "forced" : "many", fn);
}

/** Runs `fn` on the calling thread only. */
function onOneThread(fn: () => void): void {
  withThreadMode("one", fn);
}

// --- gemm: C (+)= op(A)·op(B) (+ bias) ---

const gemmWork = (g: GemmArgs) => g.m * g.n * g.k;
const gemmFits = (g: GemmArgs) =>
  gemmWasmFits(g.m, g.k, g.n, g.transposeA ?? false, g.bias != null);

registerKernel({ name: "gemm", backend: "reference", impl: gemmReference, preferred: () => false });
registerKernel({ name: "gemm", backend: "js", impl: gemmJs });
registerKernel({
  name: "gemm",
  backend: "packed",
  impl: gemmPacked,
  preferred: (g) => gemmWork(g) >= WASM_MIN_WORK,
});
registerKernel({
  name: "gemm",
  backend: "wasm",
  impl: (g) => onOneThread(() => gemmWasm(g)),
  supports: gemmFits,
  preferred: (g) => gemmWork(g) >= WASM_MIN_WORK,
});
registerKernel({
  name: "gemm",
  backend: "threaded",
  impl: (g) => onThreads(() => gemmWasm(g)),
  supports: (g) => gemmFits(g) && threadsAvailable(),
  preferred: (g) => gemmWork(g) >= WASM_MIN_WORK && worthThreads(gemmWork(g), Math.ceil(g.m / 6)),
});

// --- gemmStacked: C = A·[B₁; …; Bₙ]ᵀ (+ bias) ---

registerKernel({ name: "gemmStacked", backend: "js", impl: gemmStackedJs });
const stackedN = (s: { parts: readonly { rows: number }[] }) =>
  s.parts.reduce((sum, p) => sum + p.rows, 0);
const stackedFits = (s: Parameters<typeof gemmWasmStacked>[0]) =>
  gemmWasmFits(s.m, s.k, stackedN(s), false, s.parts.some((p) => p.bias !== null));
registerKernel({
  name: "gemmStacked",
  backend: "wasm",
  impl: (s) => onOneThread(() => gemmWasmStacked(s)),
  supports: stackedFits,
  preferred: (s) => s.m * s.k * stackedN(s) >= WASM_MIN_WORK,
});
registerKernel({
  name: "gemmStacked",
  backend: "threaded",
  impl: (s) => onThreads(() => gemmWasmStacked(s)),
  supports: (s) => stackedFits(s) && threadsAvailable(),
  preferred: (s) =>
    s.m * s.k * stackedN(s) >= WASM_MIN_WORK &&
    worthThreads(s.m * s.k * stackedN(s), Math.ceil(s.m / 6)),
});

// --- softmaxRows ---

registerKernel({
  name: "softmaxRows",
  backend: "reference",
  impl: ({ x, offset, rows, cols }) => softmaxRowsReference(x, offset, rows, cols),
});
registerKernel({
  name: "softmaxRows",
  backend: "wasm",
  impl: ({ x, offset, rows, cols }) => onOneThread(() => softmaxWasm(x, offset, rows, cols)),
  supports: () => wasmReady(),
  preferred: ({ rows, cols, size }) => (size ?? rows * cols) >= SOFTMAX_WASM_MIN,
});

// --- softmaxBackward ---

registerKernel({
  name: "softmaxBackward",
  backend: "reference",
  impl: softmaxBackwardReference,
  preferred: () => false,
});
registerKernel({ name: "softmaxBackward", backend: "js", impl: softmaxBackwardJs });
registerKernel({
  name: "softmaxBackward",
  backend: "wasm",
  impl: (a) => onOneThread(() => softmaxBackwardWasm(a)),
  supports: () => wasmReady(),
  preferred: ({ rows, cols }) => rows * cols >= SOFTMAX_WASM_MIN,
});

// --- attention (one problem) and attentionBatch (the heads of one call) ---

/** Large enough for the WebAssembly kernels ({@link WASM_MIN_WORK}). */
const attentionWorth = (a: { tq: number; tk: number; dk: number; dv: number }) =>
  a.tq * a.tk * Math.max(a.dk, a.dv) >= WASM_MIN_WORK;
/** Multiply-adds of one problem (both products). */
const attentionWork = (a: { tq: number; tk: number; dk: number; dv: number }) =>
  a.tq * a.tk * (a.dk + a.dv);
/** Work units of one problem in `attention_rows`: chunks of 16 query rows. */
const attentionChunks = (a: { tq: number }) => (((a.tq + 3) >> 2) + 3) >> 2;
/** True when the WebAssembly path needs JavaScript hooks (then it runs on one thread). */
const attentionHooks = (a: AttentionKernelArgs) =>
  a.bias !== null || a.scores !== null || (a.dropout > 0 && a.dropoutKey !== null) ||
  (a.mask !== null && !contiguous(a.mask, a.tk)) || lseNeedsHook(a);

registerKernel({ name: "attention", backend: "reference", impl: attentionReference });
registerKernel({ name: "attention", backend: "js", impl: attentionJs });
registerKernel({
  name: "attention",
  backend: "wasm",
  impl: (a) => onOneThread(() => attentionWasmPath(a)),
  supports: () => wasmReady(),
  preferred: attentionWorth,
});
registerKernel({
  name: "attention",
  backend: "threaded",
  impl: (a) => onThreads(() => attentionWasmPath(a)),
  supports: (a) => wasmReady() && !attentionHooks(a) && threadsAvailable(),
  preferred: (a) =>
    attentionWorth(a) && worthThreads(attentionWork(a), attentionChunks(a), ATTENTION_SHARE),
});

registerKernel({
  name: "attentionBatch",
  backend: "js",
  // one problem at a time, each through the table
  impl: (list) => {
    for (const a of list) runKernel("attention", a);
  },
});
const batchable = (list: readonly AttentionKernelArgs[]) =>
  list.length > 1 && wasmReady() && attentionBatchable(list);
registerKernel({
  name: "attentionBatch",
  backend: "wasm",
  impl: (list) => onOneThread(() => attentionBatchWasm(list)),
  supports: batchable,
  preferred: (list) => attentionWorth(list[0]),
});
registerKernel({
  name: "attentionBatch",
  backend: "threaded",
  impl: (list) => onThreads(() => attentionBatchWasm(list)),
  supports: (list) => batchable(list) && threadsAvailable(),
  preferred: (list) =>
    attentionWorth(list[0]) &&
    worthThreads(
      list.length * attentionWork(list[0]),
      list.length * attentionChunks(list[0]),
      ATTENTION_SHARE,
    ),
});

// --- flashAttention ---

registerKernel({ name: "flashAttention", backend: "js", impl: flashAttentionJs });
/** flash_rows reads a mask with a contiguous key axis itself; a bias needs JavaScript. */
const flashWasmable = (a: Parameters<typeof flashAttentionJs>[0]) =>
  wasmReady() && a.bias === null && (a.mask === null || contiguous(a.mask, a.tk)) &&
  (a.lse ?? null) === null;
/** Query blocks of flash_rows (its work units). */
const flashBlocks = (a: { tq: number; blockSize: number }) =>
  Math.ceil(((a.tq + 3) >> 2) / Math.max(1, Math.ceil(a.blockSize / 4)));
registerKernel({
  name: "flashAttention",
  backend: "wasm",
  impl: (a) => onOneThread(() => flashAttentionWasm(a)),
  supports: flashWasmable,
  preferred: attentionWorth,
});
registerKernel({
  name: "flashAttention",
  backend: "threaded",
  impl: (a) => onThreads(() => flashAttentionWasm(a)),
  supports: (a) => flashWasmable(a) && threadsAvailable(),
  preferred: (a) =>
    attentionWorth(a) && worthThreads(attentionWork(a), flashBlocks(a), ATTENTION_SHARE),
});

// --- attentionBackward: the readable loops, or blocks through gemm (which picks its own path) ---

registerKernel({
  name: "attentionBackward",
  backend: "reference",
  impl: attentionBackwardReference,
  preferred: () => false,
});
registerKernel({ name: "attentionBackward", backend: "js", impl: attentionBackwardBlocked });
registerKernel({
  name: "attentionBackward",
  backend: "wasm",
  impl: attentionBackwardWasm,
  supports: (a) =>
    wasmReady() && a.blockRows === undefined && a.blockKeys === undefined &&
    a.tq * a.tk <= BACKWARD_WHOLE_MAX,
  // below WASM_MIN_WORK the blocked path's products run as JavaScript loops anyway
  preferred: attentionWorth,
});

// --- attentionBackwardBatch: one call's problems, one at a time or in one WebAssembly call ---

registerKernel({
  name: "attentionBackwardBatch",
  backend: "js",
  impl: (list) => {
    for (const a of list) runKernel("attentionBackward", a);
  },
});
const backwardBatchable = (list: readonly AttentionBackwardArgs[]) =>
  list.length > 1 && wasmReady() && attentionBackwardBatchable(list);
/** Multiply-adds of one problem's backward (its four products of tq·tk·d). */
const backwardWork = (a: AttentionBackwardArgs) => 2 * attentionWork(a);
/**
 * Per-problem backward work (multiply-adds) from which the problems of a call
 * are shared by the threads. Measured inside the training steps on the 2-core
 * AMD EPYC while another session loaded it: T1's 64 problems of 64×64×64 (2^20
 * each) took 8.3 ms threaded against 13.3 ms one problem at a time; T2's 128
 * of 16×16×32 (2^15) 5.4 against 3.0 ms (a worker descheduled on the busy
 * core holds the whole short call), and 2.4 against 1.9 ms in one batched call
 * on one thread, so small problems stay one at a time.
 */
const BACKWARD_THREAD_MIN = 1 << 18;
registerKernel({
  name: "attentionBackwardBatch",
  backend: "threaded",
  impl: (list) => onThreads(() => attentionBackwardBatchWasm(list)),
  supports: (list) => backwardBatchable(list) && threadsAvailable(),
  preferred: (list) =>
    backwardWork(list[0]) >= BACKWARD_THREAD_MIN &&
    worthThreads(list.length * backwardWork(list[0]), list.length, ATTENTION_SHARE),
});

// --- reductions ---

registerKernel({ name: "sum", backend: "reference", impl: sumReference });
registerKernel({ name: "mean", backend: "reference", impl: meanReference });
registerKernel({ name: "max", backend: "reference", impl: maxReference });

// --- normalisation backward (from the forward's saved mean and rstd) ---

registerKernel({ name: "layerNormBackward", backend: "reference", impl: normBackwardReference });
registerKernel({
  name: "layerNormBackward",
  backend: "wasm",
  impl: (a) => onOneThread(() => layerNormBackwardWasm(a)),
  supports: () => wasmReady(),
  preferred: ({ rows, d }) => rows * d >= SOFTMAX_WASM_MIN,
});
registerKernel({
  name: "batchNormBackward",
  backend: "reference",
  impl: batchNormBackwardReference,
});
