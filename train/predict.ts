/**
 * `deno task predict <task> [input ...]`: one output line per input argument,
 * or per line of stdin when none is given, from the shipped checkpoint
 * (greedy decoding with the KV cache). Input outside the vocabulary or too
 * long is reported by character or limit, with exit code 2. For `induction`
 * an input is token names separated by spaces, and its line the greedy
 * continuation until the context is full (see `predictLM` below).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadCheckpoint, loadGPTCheckpoint, shippedCheckpoint } from "./checkpoint.ts";
import { continueTexts } from "./lm_trainer.ts";
import { getAnyTask, type LMTaskSpec } from "./tasks.ts";
import { predictTexts } from "./trainer.ts";

function fail(message: string): never {
  console.error(`predict: ${message}`);
  Deno.exit(2);
}

/** The checkpoint at --checkpoint, else the task's shipped one, by `load`; exit 2 naming it when it will not load. */
async function openCheckpoint<C>(taskName: string, load: (path: string) => Promise<C>): Promise<C> {
  const path = parsed!.values.checkpoint ?? shippedCheckpoint(taskName);
  try {
    return await load(path);
  } catch (e) {
    fail(`cannot load checkpoint ${path}: ${(e as Error).message}`);
  }
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
  task = getAnyTask(parsed.positionals[0]);
} catch (e) {
  fail((e as Error).message);
}
let inputs = parsed.positionals.slice(1);
if (inputs.length === 0) {
  const text = await new Response(Deno.stdin.readable).text();
  inputs = text.split("\n").map((l) => l.replace(/\r$/, ""));
  if (inputs.at(-1) === "") inputs.pop();
}
if ("kind" in task) {
  await predictLM(task, inputs);
  Deno.exit(0);
}
const checkpoint = await openCheckpoint(task.name, loadCheckpoint);
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

/**
 * A decoder-only task: each input is a prompt of token names separated by
 * spaces (`t0`..`t49` for `induction`; `<bos>` is put first by the CLI), and
 * its line is the greedy continuation (KV cache) until the model's context
 * (51 tokens for `induction`) is full: at most 49 input tokens, so at least
 * one is generated.
 */
async function predictLM(task: LMTaskSpec, inputs: string[]): Promise<void> {
  const checkpoint = await openCheckpoint(task.name, loadGPTCheckpoint);
  const vocab = checkpoint.vocabulary;
  const limit = checkpoint.model.config.blockSize - 2;
  const names = `${vocab.tokens[1]}..${vocab.tokens.at(-1)}`;
  const prompts = inputs.map((input, i) => {
    const where = `input ${i + 1} (${JSON.stringify(input)})`;
    const tokens = input.trim().split(/\s+/).filter((t) => t !== "");
    if (tokens.length === 0) fail(`${where} is empty; give tokens ${names} separated by spaces`);
    if (tokens.length > limit) {
      fail(
        `${where} has ${tokens.length} tokens; the limit is ${limit} (the context is ` +
          `${limit + 2} tokens: <bos>, the input and at least one new token)`,
      );
    }
    for (const [j, t] of tokens.entries()) {
      const id = vocab.tokens.indexOf(t);
      if (id < 1) {
        fail(
          `${where}: token ${JSON.stringify(t)} at position ${j} is not in the vocabulary ` +
            `(${names}, separated by spaces; <bos> is added first)`,
        );
      }
    }
    return tokens.join(" ");
  });
  for (const line of continueTexts(checkpoint.model, vocab, prompts)) console.log(line);
}
