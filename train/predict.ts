/**
 * `deno task predict <task> [input ...]`: one output line per input argument,
 * or per line of stdin when none is given, from the shipped checkpoint
 * (greedy decoding with the KV cache). Input outside the vocabulary or too
 * long is reported by character or limit, with exit code 2.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadCheckpoint, shippedCheckpoint } from "./checkpoint.ts";
import { getTask } from "./tasks.ts";
import { predictTexts } from "./trainer.ts";

function fail(message: string): never {
  console.error(`predict: ${message}`);
  Deno.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { checkpoint: { type: "string" } },
  });
} catch (e) {
  fail((e as Error).message);
}
if (parsed.positionals.length < 1) {
  fail("usage: deno task predict <task> [input ...] (inputs from stdin, one a line, when none)");
}
let task;
try {
  task = getTask(parsed.positionals[0]);
} catch (e) {
  fail((e as Error).message);
}
let inputs = parsed.positionals.slice(1);
if (inputs.length === 0) {
  const text = await new Response(Deno.stdin.readable).text();
  inputs = text.split("\n").map((l) => l.replace(/\r$/, ""));
  if (inputs.at(-1) === "") inputs.pop();
}
const path = parsed.values.checkpoint ?? shippedCheckpoint(task.name);
let checkpoint;
try {
  checkpoint = await loadCheckpoint(path);
} catch (e) {
  fail(`cannot load checkpoint ${path}: ${(e as Error).message}`);
}
const vocab = checkpoint.charVocab;
for (const [i, input] of inputs.entries()) {
  const where = `input ${i + 1} (${JSON.stringify(input)})`;
  if (input.length === 0) fail(`${where} is empty`);
  const chars = [...input];
  if (chars.length > task.maxInputChars) {
    fail(`${where} has ${chars.length} characters; the limit is ${task.maxInputChars}`);
  }
  for (const [j, c] of chars.entries()) {
    if (vocab.tokens.indexOf(c) < 3) {
      fail(
        `${where}: character ${JSON.stringify(c)} at position ${j} is not in the vocabulary ` +
          `${JSON.stringify(vocab.chars)}`,
      );
    }
  }
}
for (const line of predictTexts(checkpoint.model, vocab, inputs, task.maxOutputChars)) {
  console.log(line);
}
