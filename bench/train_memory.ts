/**
 * Memory of one training step (T1 or T2, bench/README.md "Training step") in a fresh
 * process, and where a step's time goes.
 *
 *   deno run --allow-read --allow-env bench/train_memory.ts T1 [--steps 5]
 *
 * Builds the model and its Adam, runs one step (which also checks it, see
 * bench/_train.ts), then `--steps` timed steps. RSS (`Deno.memoryUsage().rss`) is read
 * before the first step and after each phase of it (forward, backward, Adam step);
 * `peakRssMiB` is the largest of those samples, the same points bench/pytorch_train.py
 * samples. With --allow-all, /proc/self/status's VmHWM (the kernel's exact peak) is
 * reported too; Deno lets no narrower permission read it. `phases` are medians over
 * the timed steps. Prints JSON, or `{ "skipped": reason }` while the library lacks
 * what the step needs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { libraryStep, type Workload } from "./_train.ts";
import { poolSize } from "../lib/kernels/threads.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { steps: { type: "string", default: "0" } },
});
const workload = positionals[0] as Workload;
if (workload !== "T1" && workload !== "T2") {
  throw new RangeError(`train_memory: the workload must be T1 or T2, got ${String(workload)}`);
}
const mib = (bytes: number) => bytes / 2 ** 20;
const rss = () => mib(Deno.memoryUsage().rss);

const before = rss();
const ours = libraryStep(workload); // builds the model; runs no step yet on failure
if (typeof ours === "string") {
  console.log(JSON.stringify({ workload, skipped: ours }));
} else {
  // libraryStep has run one checking step already; this fresh one is the one sampled
  const samples: Record<string, number> = {};
  const first = ours.timedStep((phase) => (samples[phase] = rss()));
  const steps = Number(values.steps);
  const runs: { forwardMs: number; backwardMs: number; stepMs: number }[] = [];
  for (let i = 0; i < steps; i++) runs.push(ours.timedStep());
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  let hwm: number | undefined;
  try {
    const kb = /VmHWM:\s*(\d+)/.exec(await Deno.readTextFile("/proc/self/status"))?.[1];
    if (kb) hwm = Number(kb) / 1024;
  } catch {
    // only --allow-all may read it
  }
  console.log(JSON.stringify({
    workload,
    threads: poolSize(),
    parameters: ours.numParameters,
    loss: first.loss,
    rssBeforeMiB: before,
    rssAfterMiB: samples,
    peakRssMiB: Math.max(...Object.values(samples)),
    vmHwmMiB: hwm,
    phases: steps > 0
      ? {
        steps,
        forwardMs: median(runs.map((r) => r.forwardMs)),
        backwardMs: median(runs.map((r) => r.backwardMs)),
        stepMs: median(runs.map((r) => r.stepMs)),
      }
      : undefined,
  }));
}
