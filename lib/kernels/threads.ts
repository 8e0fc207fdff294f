/**
 * A small pool of Workers that run row ranges of one WebAssembly kernel call
 * on the same shared memory as the main thread, so a synchronous op can use
 * several cores (by default the logical CPU count, at most 4: see
 * {@link setThreads}). Not exported from the package; `simd.ts` is the only user.
 *
 * How one parallel call goes: the main thread writes one task (an export of
 * `kernels.wat` and its arguments) per worker into the control block at the
 * start of linear memory, bumps a generation counter and wakes the workers
 * (`Atomics.notify`), runs its own share, then blocks in `Atomics.wait` until
 * every worker has counted itself done. Tasks write disjoint rows, so the
 * result is bit-for-bit the single-thread one.
 *
 * - Workers are `node:worker_threads` Workers from source text (`eval`): no
 *   permission and no file is read. They are `unref()`'d, so a script whose
 *   last call used them still exits at once, and `deno test`'s sanitizers do
 *   not see them (web Workers keep the process alive, even after
 *   `terminate()` while blocked in `Atomics.wait`).
 * - Nothing happens at import: the pool starts on the first call big enough
 *   for it (and waits, once, a few ms for the workers to compile the module).
 * - Where `node:worker_threads`, shared memory or `Atomics.wait` on the main
 *   thread is missing, {@link poolSize} is 1 and everything runs on one thread.
 *   A browser is such a host: `node:worker_threads` is looked up at run time
 *   (`process.getBuiltinModule`, absent there), never imported, so the library
 *   bundled for a page imports nothing and needs no permission.
 *
 * @module
 */

/** One task for one thread: `OPS[op]`'s export called with `args`. */
export interface Task {
  op: number;
  args: number[];
}

/**
 * The exports a worker may run and their signatures (`i` i32, `f` f32), in the
 * order of `Task.op`.
 */
export const OPS: readonly (readonly [string, string])[] = [
  ["gemm_blocked", "iiiiiiiiiii"],
  ["attention_rows", "iiiiiiiiiiiii" + "f" + "iiii"],
  ["pack", "iiiiii"],
  ["flash_rows", "iiiiiiiiiiiiiiiii" + "f" + "iiii"],
  ["attention_batch", "iiiiiiiiii" + "f" + "ii"],
  ["attention_backward_batch", "iiiiii" + "f" + "iii"],
];

/** Bytes at the start of linear memory kept for the control block; the arena starts after. */
export const CONTROL_BYTES = 1024;

// Control block, as i32 indices: generation, pool epoch, tasks done, error flag, then one
// 32-slot record per worker: op + 1 (0: nothing this round), args..., and in its last
// entry the epoch the worker started in (its "ready" flag). A worker leaves as soon as it
// sees another epoch, so workers being stopped never take a task of the next pool.
const GEN = 0, EPOCH = 1, DONE = 2, ERROR = 3, SLOTS = 16, SLOT = 32, READY = SLOT - 1;
/** Most threads the control block has room for (main + 7 workers). */
const MAX_THREADS = 1 + Math.floor((CONTROL_BYTES / 4 - SLOTS) / SLOT);

/**
 * Polls of a shared word before a thread sleeps in `Atomics.wait` (about 20-50 µs).
 * Waking a sleeping thread took 50-300 µs on the loaded 2-core machine, more than a
 * whole W1 n = 128 call; a short spin hides it for calls that follow each other.
 */
const SPIN = 20000;

/**
 * The worker's whole program (run by `eval`). It reaches `node:worker_threads`
 * as the main thread does, through `process.getBuiltinModule`, not `require`:
 * the library bundled for a browser then holds no `require(` anywhere.
 */
const WORKER_SOURCE = `
const { workerData } = process.getBuiltinModule("node:worker_threads");
const { memory, bytes, ops, slot, epoch } = workerData;
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
const fns = ops.map((o) => instance.exports[o[0]]);
const i32 = new Int32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
const f32 = new Float32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
const base = ${SLOTS} + slot * ${SLOT};
let gen = Atomics.load(i32, ${GEN});
Atomics.store(i32, base + ${READY}, epoch);
Atomics.notify(i32, base + ${READY});
for (;;) {
  // spin a little before sleeping: back-to-back calls (heads, layers) then start at once
  for (let spin = 0; spin < ${SPIN} && Atomics.load(i32, ${GEN}) === gen; spin++);
  Atomics.wait(i32, ${GEN}, gen);
  if (Atomics.load(i32, ${EPOCH}) !== epoch) break;
  const g = Atomics.load(i32, ${GEN});
  if (g === gen) continue;
  gen = g;
  const op = i32[base] - 1;
  if (op >= 0) {
    const sig = ops[op][1], args = [];
    for (let i = 0; i < sig.length; i++) args.push(sig[i] === "f" ? f32[base + 1 + i] : i32[base + 1 + i]);
    try { fns[op](...args); } catch { Atomics.store(i32, ${ERROR}, 1); }
  }
  Atomics.add(i32, ${DONE}, 1);
  Atomics.notify(i32, ${DONE});
}
`;

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
}
type WorkerCtor = new (
  src: string,
  opts: { eval: boolean; workerData: unknown },
) => NodeWorker;

let wanted = defaultThreads();
let workers: NodeWorker[] = [];
let control: Int32Array | null = null;
let controlF32: Float32Array | null = null;
/** Set when starting the pool failed: stay on one thread. */
let broken = false;
/** Whether the host has `node:worker_threads` (a browser has not), looked up at first need. */
let hostHasWorkers: boolean | undefined;

function defaultThreads(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return Math.max(1, Math.min(typeof n === "number" ? n : 1, 4));
}

/**
 * Sets how many threads (main included) large kernel calls use; 1 keeps them
 * on the calling thread. Workers already started stay (idle ones just count
 * themselves done); {@link shutdownWorkers} stops them. Default: the logical
 * CPU count, at most 4. For benchmarks and tests.
 *
 * @example One thread, then back to the default
 * ```ts
 * import { poolSize, setThreads } from "./threads.ts";
 * import assert from "node:assert/strict";
 * setThreads(1);
 * assert.equal(poolSize(), 1);
 * setThreads(navigator.hardwareConcurrency);
 * ```
 */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`setThreads: n must be a positive integer, got ${String(n)}`);
  }
  wanted = Math.min(n, MAX_THREADS);
}

/**
 * Threads a parallel call will use now (1 when the pool is off or unavailable).
 *
 * @example At least one
 * ```ts
 * import { poolSize } from "./threads.ts";
 * import assert from "node:assert/strict";
 * assert.ok(poolSize() >= 1);
 * ```
 */
export function poolSize(): number {
  if (broken) return 1;
  hostHasWorkers ??= workerClass() !== null;
  return hostHasWorkers ? wanted : 1;
}

/** The Worker constructor of `node:worker_threads`, or null where the host has none. */
function workerClass(): WorkerCtor | null {
  const proc = (globalThis as {
    process?: { getBuiltinModule?: (id: string) => { Worker?: WorkerCtor } | undefined };
  }).process;
  try {
    return proc?.getBuiltinModule?.("node:worker_threads")?.Worker ?? null;
  } catch {
    return null;
  }
}

/**
 * Starts workers until there are `threads - 1`; returns how many to use now
 * (0: run on one thread). `memory` must be shared; `bytes` is the module the
 * workers run.
 */
export function ensureWorkers(memory: WebAssembly.Memory, bytes: Uint8Array): number {
  if (broken || wanted <= 1) return 0;
  if (workers.length >= wanted - 1) return wanted - 1;
  const Worker = workerClass();
  if (!Worker || !(memory.buffer instanceof SharedArrayBuffer)) {
    broken = true;
    return 0;
  }
  if (!control) {
    control = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
    controlF32 = new Float32Array(memory.buffer, 0, CONTROL_BYTES / 4);
  }
  const c = control;
  const epoch = Atomics.load(c, EPOCH);
  try {
    for (let w = workers.length; w < wanted - 1; w++) {
      Atomics.store(c, SLOTS + w * SLOT, 0);
      Atomics.store(c, SLOTS + w * SLOT + READY, epoch - 1);
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { memory, bytes, ops: OPS, slot: w, epoch },
      });
      worker.unref();
      workers.push(worker);
    }
    // one-time start: each worker compiles the module (a few ms), then flags its slot
    const deadline = performance.now() + 5000;
    for (let w = 0; w < workers.length; w++) {
      const at = SLOTS + w * SLOT + READY;
      for (;;) {
        const seen = Atomics.load(c, at);
        if (seen === epoch) break;
        const left = deadline - performance.now();
        if (left <= 0) throw new Error("workers did not start");
        Atomics.wait(c, at, seen, left);
      }
    }
  } catch {
    // e.g. Atomics.wait is not allowed on this thread: stay single-threaded
    void shutdownWorkers();
    broken = true;
    return 0;
  }
  return wanted - 1;
}

/**
 * Runs `tasks[0]` on this thread through `runLocal` and `tasks[1..]` on the
 * workers (at most {@link ensureWorkers}'s count), returning when all are done.
 * Tasks may be one call shared by all threads that takes its chunks from an
 * atomic counter (dynamic scheduling).
 */
export function runTasks(tasks: readonly Task[], runLocal: (t: Task) => void): void {
  const c = control!, f = controlF32!;
  const done0 = Atomics.load(c, DONE);
  for (let w = 0; w < workers.length; w++) {
    const base = SLOTS + w * SLOT;
    const t = tasks[w + 1];
    if (!t) {
      c[base] = 0;
      continue;
    }
    c[base] = t.op + 1;
    const sig = OPS[t.op][1];
    for (let i = 0; i < sig.length; i++) {
      if (sig[i] === "f") f[base + 1 + i] = t.args[i];
      else c[base + 1 + i] = t.args[i];
    }
  }
  Atomics.add(c, GEN, 1);
  Atomics.notify(c, GEN);
  let localError: unknown = null;
  try {
    runLocal(tasks[0]);
  } catch (e) {
    localError = e;
  }
  // block until every worker has counted itself done (idle ones too)
  const target = done0 + workers.length; // every worker counts itself, idle or not
  for (let spin = 0; spin < SPIN && Atomics.load(c, DONE) - target < 0; spin++);
  for (;;) {
    const d = Atomics.load(c, DONE);
    if (d - target >= 0) break;
    Atomics.wait(c, DONE, d, 1000);
  }
  // clear the workers' flag whatever happened here, so one failed call leaves the next clean
  const workerFailed = Atomics.exchange(c, ERROR, 0) !== 0;
  if (localError) throw localError;
  if (workerFailed) throw new Error("A WebAssembly kernel failed on a worker thread");
}

/**
 * Stops and terminates the workers (the next large call starts them again).
 * Workers never keep a process alive; tests call this to start from a clean state.
 *
 * @example Stop the pool after a forced threaded product
 * ```ts
 * import { shutdownWorkers } from "./threads.ts";
 * import { setParallelMinWork } from "./kernel_table.ts";
 * import { matmul } from "../tensor/matmul.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * setParallelMinWork(0); // split even this small product (4 row blocks of 4)
 * const n = 16;
 * const a = tensor(Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => i + j)));
 * const c = matmul(a, a);
 * setParallelMinWork(1 << 22);
 * await shutdownWorkers();
 * assert.equal(c.get(15, 15), 8440); // Σ_j (15 + j)², j = 0..15
 * ```
 */
export async function shutdownWorkers(): Promise<void> {
  const ws = workers;
  workers = [];
  if (ws.length === 0) return;
  if (control) {
    // a new epoch: every worker of this one leaves at its next wake-up
    Atomics.add(control, EPOCH, 1);
    Atomics.add(control, GEN, 1);
    Atomics.notify(control, GEN);
  }
  await Promise.all(ws.map((w) => w.terminate()));
}
