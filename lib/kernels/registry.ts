/**
 * The kernel table: every kernel name maps to its implementations, one per
 * backend, and {@link runKernel} picks one per call. Not exported from the
 * package. The built-in implementations and the rules that choose between
 * them (size thresholds, WebAssembly availability, threads) are registered in
 * one place, `kernel_table.ts`; a later backend (native code through FFI,
 * WebGPU) calls {@link registerBackend} and {@link registerKernel} and no op
 * changes.
 *
 * Choosing, for one call: the implementations of the kernel, highest backend
 * priority first; the first whose `supports(args)` holds (it can compute these
 * operands here: layout, size limits, WebAssembly present) and whose
 * `preferred(args)` holds (it is worth it at this size) runs. With a forced
 * path ({@link withKernelPath}), the first implementation at or below the
 * forced backend's priority that supports the operands runs, whatever the
 * size: `"wasm"` runs WebAssembly on one thread even for a 2×2 product,
 * `"reference"` the readable loops. Where nothing at or below it supports the
 * operands (a FlashAttention bias has no WebAssembly kernel), the
 * lowest-priority implementation that does runs; {@link traceKernels} shows
 * which ran.
 *
 * This file imports no kernel (type imports only), so kernel files can call
 * {@link runKernel} for their sub-steps without an import cycle.
 *
 * @module
 */

import type { GemmArgs, StackedGemmArgs } from "./gemm_args.ts";
import type { AttentionKernelArgs } from "./attention.ts";
import type { AttentionBackwardArgs } from "./attention_backward.ts";
import type { FlashAttentionArgs } from "./flash.ts";
import type { ReduceArgs } from "./reduce.ts";
import type { BatchNormBackwardArgs, NormBackwardArgs } from "./layer_norm_backward.ts";
import type { SoftmaxBackwardArgs } from "./softmax_backward.ts";

/** The operands each kernel name takes (one object per call). */
export interface KernelArgs {
  /** C (+)= op(A)·op(B) (+ bias): `gemm_args.ts`. */
  gemm: GemmArgs;
  /** C = A·Bᵀ (+ bias) with B given as stacked row blocks (a self-attention's Q, K, V weights). */
  gemmStacked: StackedGemmArgs;
  /**
   * In-place row softmax of `rows` rows of `cols` floats from `offset`; `size`
   * (default rows·cols) is the size the choice of path is made for (a caller
   * working in chunks of rows passes the whole size, so every chunk takes one path).
   */
  softmaxRows: { x: Float32Array; offset: number; rows: number; cols: number; size?: number };
  /** dL/dx of row softmax or logSoftmax from the saved output and dL/d(output). */
  softmaxBackward: SoftmaxBackwardArgs;
  /** One attention problem (scores, mask, softmax, dropout, weights·V). */
  attention: AttentionKernelArgs;
  /** Several attention problems of one call (batch elements and heads). */
  attentionBatch: readonly AttentionKernelArgs[];
  /** Gradients of one attention problem from its saved row log-sum-exp (`attention_backward.ts`). */
  attentionBackward: AttentionBackwardArgs;
  /** The attention backward problems of one call (batch elements and heads). */
  attentionBackwardBatch: readonly AttentionBackwardArgs[];
  /** FlashAttention (online softmax, no `[tq, tk]` scores) for one problem. */
  flashAttention: FlashAttentionArgs;
  /** Σ over axes, into float32 (float64 accumulation). */
  sum: ReduceArgs;
  /** Mean over axes (NaN over an empty set). */
  mean: ReduceArgs;
  /** Maximum over axes (NaN when any reduced value is NaN). */
  max: ReduceArgs;
  /** LayerNorm / RMSNorm backward over rows, from the saved mean and rstd. */
  layerNormBackward: NormBackwardArgs;
  /** BatchNorm backward over channels, from the saved per-channel mean and rstd. */
  batchNormBackward: BatchNormBackwardArgs;
}

/** A kernel name of {@link KernelArgs}. */
export type KernelName = keyof KernelArgs;

/** One implementation of one kernel on one backend. */
export interface KernelRegistration<N extends KernelName = KernelName> {
  name: N;
  /** A backend known to {@link registerBackend} (built in: reference, js, packed, wasm, threaded). */
  backend: string;
  impl: (args: KernelArgs[N]) => void;
  /** Can compute these operands here (layout, limits, capability); default: always. */
  supports?: (args: KernelArgs[N]) => boolean;
  /** Worth choosing by default at this size; default: always. Ignored when a path is forced. */
  preferred?: (args: KernelArgs[N]) => boolean;
}

/** A backend name, or `"auto"`: the table's own choice. */
export type KernelPath = "auto" | string;

/** Backend priorities: higher is tried first. */
const backends = new Map<string, number>([
  ["reference", 0], // the readable loops, the oracle of the others
  ["js", 10], // fast JavaScript loops
  ["packed", 20], // packed, register-blocked JavaScript (where WebAssembly is missing)
  ["wasm", 30], // WebAssembly SIMD on the calling thread
  ["threaded", 40], // WebAssembly SIMD split across the worker threads
]);

// deno-lint-ignore no-explicit-any
const table = new Map<KernelName, KernelRegistration<any>[]>();
let forced: KernelPath = "auto";
let trace: { name: KernelName; backend: string }[] | null = null;

/**
 * Adds a backend with its priority (higher is tried first), or changes the
 * priority of a known one.
 *
 * @throws {RangeError} When `name` is empty or "auto", or `priority` is not finite.
 *
 * @example A backend between WebAssembly and threads
 * ```ts
 * import { registerBackend, kernelPathPriority } from "./registry.ts";
 * import assert from "node:assert/strict";
 * registerBackend("example-gpu", 35);
 * assert.equal(kernelPathPriority("example-gpu"), 35);
 * ```
 */
export function registerBackend(name: string, priority: number): void {
  if (typeof name !== "string" || name === "" || name === "auto") {
    throw new RangeError(`registerBackend: name must be a non-empty string other than "auto"`);
  }
  if (!Number.isFinite(priority)) {
    throw new RangeError(`registerBackend: priority must be finite, got ${String(priority)}`);
  }
  backends.set(name, priority);
  for (const list of table.values()) list.sort(byPriority);
}

/**
 * The priority of a backend (undefined when unknown).
 *
 * @example WebAssembly is tried before the JavaScript loops
 * ```ts
 * import { kernelPathPriority } from "./registry.ts";
 * import assert from "node:assert/strict";
 * assert.ok(kernelPathPriority("wasm")! > kernelPathPriority("js")!);
 * ```
 */
export function kernelPathPriority(backend: string): number | undefined {
  return backends.get(backend);
}

function byPriority(x: KernelRegistration, y: KernelRegistration): number {
  return backends.get(y.backend)! - backends.get(x.backend)!;
}

/**
 * Registers `reg` as kernel `reg.name` on `reg.backend`, replacing an earlier
 * registration of the same pair. Returns a function that removes it again.
 *
 * @throws {RangeError} When the backend is unknown (see {@link registerBackend}).
 *
 * @example A backend that doubles every sum (to show it is chosen)
 * ```ts
 * import { registerBackend, registerKernel, runKernel } from "./registry.ts";
 * import "./kernel_table.ts";
 * import assert from "node:assert/strict";
 * registerBackend("example-double", 100);
 * const remove = registerKernel({ name: "sum", backend: "example-double",
 *   impl: ({ x, out }) => { out[0] = 2 * x.reduce((s, v) => s + v, 0); } });
 * const out = new Float32Array(1);
 * runKernel("sum", { x: Float32Array.of(1, 2), shape: [2], axes: [0], out });
 * remove();
 * assert.equal(out[0], 6);
 * runKernel("sum", { x: Float32Array.of(1, 2), shape: [2], axes: [0], out });
 * assert.equal(out[0], 3);
 * ```
 */
export function registerKernel<N extends KernelName>(reg: KernelRegistration<N>): () => void {
  if (!backends.has(reg.backend)) {
    throw new RangeError(
      `registerKernel: backend "${reg.backend}" of kernel "${reg.name}" is unknown; known: ${
        [...backends.keys()].join(", ")
      } (registerBackend adds one)`,
    );
  }
  const list = table.get(reg.name) ?? [];
  const kept = list.filter((r) => r.backend !== reg.backend);
  kept.push(reg);
  kept.sort(byPriority);
  table.set(reg.name, kept);
  return () => {
    const now = table.get(reg.name);
    if (now) table.set(reg.name, now.filter((r) => r !== reg));
  };
}

/**
 * The backends registered for kernel `name`, highest priority first.
 *
 * @example
 * ```ts
 * import { kernelBackends } from "./registry.ts";
 * import "./kernel_table.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(kernelBackends("gemm"), ["threaded", "wasm", "packed", "js", "reference"]);
 * ```
 */
export function kernelBackends(name: KernelName): string[] {
  return (table.get(name) ?? []).map((r) => r.backend);
}

/**
 * The implementation {@link runKernel} would run for these operands now.
 *
 * @throws {Error} When no implementation of `name` is registered or none supports the operands.
 */
export function selectKernel<N extends KernelName>(
  name: N,
  args: KernelArgs[N],
): KernelRegistration<N> {
  const list = table.get(name) as KernelRegistration<N>[] | undefined;
  if (!list || list.length === 0) {
    throw new Error(`runKernel: no implementation of kernel "${name}" is registered`);
  }
  const ok = (r: KernelRegistration<N>) => !r.supports || r.supports(args);
  if (forced === "auto") {
    for (const r of list) if (ok(r) && (!r.preferred || r.preferred(args))) return r;
    for (const r of list) if (ok(r)) return r;
  } else {
    const limit = backends.get(forced)!;
    for (const r of list) if (backends.get(r.backend)! <= limit && ok(r)) return r;
    for (let i = list.length - 1; i >= 0; i--) if (ok(list[i])) return list[i];
  }
  throw new Error(`runKernel: no implementation of kernel "${name}" supports these operands`);
}

/**
 * Runs kernel `name` on `args` with the implementation {@link selectKernel} picks.
 *
 * @example A 2×2 product on the reference path
 * ```ts
 * import { runKernel, withKernelPath } from "./registry.ts";
 * import "./kernel_table.ts";
 * import assert from "node:assert/strict";
 * const c = new Float32Array(4);
 * withKernelPath("reference", () =>
 *   runKernel("gemm", { a: Float32Array.of(1, 2, 3, 4), aOffset: 0, b: Float32Array.of(1, 0, 0, 1),
 *     bOffset: 0, c, cOffset: 0, m: 2, k: 2, n: 2, transposeB: false }));
 * assert.deepEqual([...c], [1, 2, 3, 4]);
 * ```
 */
export function runKernel<N extends KernelName>(name: N, args: KernelArgs[N]): void {
  const r = selectKernel(name, args);
  trace?.push({ name, backend: r.backend });
  r.impl(args);
}

/** The path set by {@link setKernelPath} or {@link withKernelPath} (`"auto"` by default). */
export function kernelPath(): KernelPath {
  return forced;
}

/**
 * Forces every kernel call onto `path` (a backend name) or back to `"auto"`,
 * until changed again; returns the previous path. For tests, notebooks and
 * benchmarks; {@link withKernelPath} scopes it to one function.
 *
 * @throws {RangeError} When `path` is neither "auto" nor a known backend.
 *
 * @example
 * ```ts
 * import { kernelPath, setKernelPath } from "./registry.ts";
 * import assert from "node:assert/strict";
 * const before = setKernelPath("js");
 * assert.equal(kernelPath(), "js");
 * setKernelPath(before);
 * assert.equal(kernelPath(), "auto");
 * ```
 */
export function setKernelPath(path: KernelPath): KernelPath {
  if (path !== "auto" && !backends.has(path)) {
    throw new RangeError(
      `setKernelPath: path must be "auto" or one of ${[...backends.keys()].join(", ")}, got ${
        String(path)
      }`,
    );
  }
  const before = forced;
  forced = path;
  return before;
}

/**
 * Runs the synchronous `fn` with every kernel forced onto `path` (see the
 * module notes), then restores the previous path, also when `fn` throws.
 *
 * @throws {RangeError} When `path` is neither "auto" nor a known backend.
 *
 * @example Every path gives the same product
 * ```ts
 * import { withKernelPath } from "./registry.ts";
 * import { matmul } from "../tensor/matmul.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const a = tensor([[1, 2], [3, 4]]);
 * const ref = withKernelPath("reference", () => matmul(a, a)).toArray();
 * for (const path of ["js", "packed", "wasm", "threaded"]) {
 *   assert.deepEqual(withKernelPath(path, () => matmul(a, a)).toArray(), ref);
 * }
 * ```
 */
export function withKernelPath<T>(path: KernelPath, fn: () => T): T {
  const before = setKernelPath(path);
  try {
    return fn();
  } finally {
    forced = before;
  }
}

/**
 * Runs the synchronous `fn` and lists every kernel call it made, with the
 * backend that ran it (nested calls included, in order).
 *
 * @example A small product runs in JavaScript
 * ```ts
 * import { traceKernels } from "./registry.ts";
 * import { matmul } from "../tensor/matmul.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const { calls } = traceKernels(() => matmul(tensor([[1, 2]]), tensor([[3], [4]])));
 * assert.deepEqual(calls, [{ name: "gemm", backend: "js" }]);
 * ```
 */
export function traceKernels<T>(
  fn: () => T,
): { result: T; calls: { name: KernelName; backend: string }[] } {
  const outer = trace;
  const calls: { name: KernelName; backend: string }[] = [];
  trace = calls;
  try {
    const result = fn();
    return { result, calls };
  } finally {
    outer?.push(...calls);
    trace = outer;
  }
}
