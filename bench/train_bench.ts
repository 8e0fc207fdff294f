/**
 * Training steps (bench/README.md, "Training step"): T1 and T2, forward + backward +
 * Adam step, the library against tfjs-wasm in one `deno bench` run. PyTorch's step is
 * bench/pytorch_train.py, which `deno task bench:report` runs alternately with this file.
 *
 * A library row is left out, with one printed line naming what is missing, while an API
 * the step needs (Adam, a loss, a gradient) is not there yet: never a partial step.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { GROUPS, libraryStep, type Workload } from "./_train.ts";
import { tfjsStep } from "./_tfjs_train.ts";

const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
setWasmPaths(`${denoDir}/npm/registry.npmjs.org/@tensorflow/tfjs-backend-wasm/4.22.0/dist/`);
await tf.setBackend("wasm");
console.error(`tfjs-wasm: ${getThreadsCount()} thread(s)`);

/** Losses are summed into this so no engine can drop the work. */
let sink = 0;
globalThis.addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.error("train bench sink is NaN");
});

/** tfjs-wasm takes seconds per step: a handful of runs. */
const TFJS_RUNS: Record<Workload, { n: number; warmup: number }> = {
  T1: { n: 2, warmup: 1 },
  T2: { n: 3, warmup: 1 },
};

for (const workload of ["T1", "T2"] as const) {
  const group = GROUPS[workload];
  const ours = libraryStep(workload);
  if (typeof ours === "string") {
    console.error(`${workload}: attention-lab row skipped: ${ours}`);
  } else {
    Deno.bench({ name: "attention-lab", group, baseline: true, n: 10, warmup: 2 }, () => {
      sink += ours.step();
    });
  }
  let step: (() => number) | undefined;
  Deno.bench({ name: "tfjs-wasm", group, ...TFJS_RUNS[workload] }, async (b) => {
    // another bench file may have switched the backend; the variables live on wasm
    await tf.setBackend("wasm");
    step ??= tfjsStep(workload);
    b.start();
    sink += step();
    b.end();
  });
}
