/**
 * Peak resident memory of W4: tiledAttention at n = 16384, d = 64 in a fresh
 * process, as Deno.memoryUsage().rss right after the call. That is the peak of
 * the run: WebAssembly memory never shrinks and the inputs and output are still
 * live (/proc/self/status's VmHWM would be exact, but Deno lets only
 * --allow-all read it). The scores alone would take n²·4 B = 1 GiB. Prints JSON.
 *
 * @module
 */

import { tiledAttention } from "../lib/attention/tiled.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn } from "../lib/tensor/tensor.ts";
import { poolSize } from "../lib/kernels/threads.ts";

const n = 16384, d = 64;
const rng = new Rng(1);
const q = randn([n, d], rng), k = randn([n, d], rng), v = randn([n, d], rng);
const before = Deno.memoryUsage().rss;
const t0 = performance.now();
const { output } = tiledAttention(q, k, v);
const ms = performance.now() - t0;
const peak = Deno.memoryUsage().rss;
console.log(JSON.stringify({
  n,
  d,
  ms,
  rssBeforeMiB: before / 2 ** 20,
  rssPeakMiB: peak / 2 ** 20,
  peakRssMiB: peak / 2 ** 20,
  threads: poolSize(),
  scoresWouldBeMiB: (n * n * 4) / 2 ** 20,
  check: output.data[0] + output.data[output.data.length - 1],
}));
