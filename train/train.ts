/**
 * `deno task train <task> [--steps N] [--seed S] [--out PATH]`: trains a task
 * model and writes its checkpoint (default `checkpoints/<task>.safetensors`),
 * with a progress bar on stderr.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { trainLMTask } from "./lm_trainer.ts";
import { getAnyTask } from "./tasks.ts";
import { type StepProgress, trainTask } from "./trainer.ts";

function fail(message: string): never {
  console.error(`train: ${message}`);
  Deno.exit(2);
}

function integer(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got ${value}`);
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { steps: { type: "string" }, seed: { type: "string" }, out: { type: "string" } },
  });
} catch (e) {
  fail((e as Error).message);
}
if (parsed.positionals.length !== 1) {
  fail("usage: deno task train <task> [--steps N] [--seed S] [--out PATH]");
}
let task;
try {
  task = getAnyTask(parsed.positionals[0]);
} catch (e) {
  fail((e as Error).message);
}
const steps = integer(parsed.values.steps, "steps", task.steps, 1);
const seed = integer(parsed.values.seed, "seed", 0, 0);
const out = parsed.values.out ?? `checkpoints/${task.name}.safetensors`;
// Asked before training, so a run is never lost to a write it may not make.
const dir = out.replace(/[^/]*$/, "") || ".";
if (Deno.permissions.querySync({ name: "write", path: out }).state !== "granted") {
  fail(
    `--out ${out}: this run may not write there (\`deno task train\` writes under checkpoints/ only); ` +
      `pick a path under checkpoints/, or run \`deno run --allow-read --allow-env ` +
      `--allow-write=${dir} train/train.ts ...\``,
  );
}

const encoder = new TextEncoder();
// Wall time for the tokens/s display only; it never reaches the checkpoint.
const start = performance.now();
let tokensSeen = 0;
let line = "";
function bar(p: StepProgress): string {
  const width = 24;
  const filled = Math.round((p.step / p.steps) * width);
  const seconds = (performance.now() - start) / 1000;
  return `${task!.name} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
    `${p.step}/${p.steps} loss ${p.loss.toFixed(4)} acc ${(100 * p.accuracy).toFixed(1)}% ` +
    `${Math.round(tokensSeen / seconds)} tok/s ${seconds.toFixed(1)}s`;
}
function onProgress(p: StepProgress) {
  tokensSeen += p.tokens;
  line = bar(p);
  Deno.stderr.writeSync(encoder.encode(`\r${line}\x1b[K`));
}
// For `induction` the accuracy is on the repeat after its first token (the predictable targets).
const { bytes, info } = "kind" in task
  ? trainLMTask(task, { steps, seed, onProgress })
  : trainTask(task, { steps, seed, onProgress });
Deno.stderr.writeSync(encoder.encode(`\r${line}\x1b[K\n`));
const seconds = (performance.now() - start) / 1000;
try {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(out, bytes);
} catch (e) {
  fail(`could not write ${out}: ${(e as Error).message}`);
}
console.error(
  `train: wrote ${out} (${bytes.length} bytes) in ${
    seconds.toFixed(1)
  } s; validation exact match ` +
    `${(100 * info.training.validationAccuracy).toFixed(2)}%`,
);
