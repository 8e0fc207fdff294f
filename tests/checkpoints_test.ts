// The shipped seq2seq checkpoints: each loads with one call and scores its whole test split
// (greedy decoding with the KV cache, batched as predict does), and the dates predict CLI.
import assert from "node:assert/strict";

import { DATE_FORMS, datesSplits } from "../tasks/dates.ts";
import { REVERSE_MAX_LENGTH, REVERSE_MIN_LENGTH } from "../tasks/reverse.ts";
import { loadCheckpoint, shippedCheckpoint } from "../train/checkpoint.ts";
import { datesTask, reverseTask, type TaskSpec } from "../train/tasks.ts";
import { exactMatch } from "../train/trainer.ts";
import { predict } from "./_cli.ts";

/** Scores `task`'s shipped checkpoint on its test split; prints and returns the groups. */
async function scoreShipped(
  task: TaskSpec,
): Promise<Map<string, { right: number; total: number }>> {
  const ck = await loadCheckpoint(shippedCheckpoint(task.name));
  assert.equal(ck.task, task.name);
  assert.equal(ck.charVocab.chars, task.vocab.chars);
  const test = task.splits().test;
  const { accuracy, byGroup } = exactMatch(ck.model, ck.charVocab, test, task.maxOutputChars);
  const groups = [...byGroup].map(([g, { right, total }]) =>
    `${g} ${(100 * right / total).toFixed(1)}% (${right}/${total})`
  );
  console.log(
    `${task.name}: test exact match ${(100 * accuracy).toFixed(2)}% over ${test.length}; ` +
      groups.join(", "),
  );
  return byGroup;
}

Deno.test("the shipped reverse checkpoint: >= 99% exact match at every length 1-16", async () => {
  const byGroup = await scoreShipped(reverseTask);
  const lengths = REVERSE_MAX_LENGTH - REVERSE_MIN_LENGTH + 1;
  assert.equal(byGroup.size, lengths);
  for (let n = REVERSE_MIN_LENGTH; n <= REVERSE_MAX_LENGTH; n++) {
    const g = byGroup.get(String(n));
    assert.ok(g && g.total > 0, `no test examples of length ${n}`);
    assert.ok(g.right / g.total >= 0.99, `length ${n}: ${g.right}/${g.total}`);
  }
});

Deno.test("the shipped dates checkpoint: >= 99% exact match in every form", async () => {
  const byGroup = await scoreShipped(datesTask);
  assert.deepEqual([...byGroup.keys()].sort(), [...DATE_FORMS].sort());
  for (const form of DATE_FORMS) {
    const g = byGroup.get(form)!;
    assert.ok(g.total >= 100, `${form}: only ${g.total} test examples`);
    assert.ok(g.right / g.total >= 0.99, `${form}: ${g.right}/${g.total}`);
  }
});

Deno.test("datesTask: the input limit covers every split, and the test split is scored by form", () => {
  const s = datesSplits();
  const longest = Math.max(...[...s.train, ...s.validation, ...s.test].map((e) => e.input.length));
  assert.ok(longest <= datesTask.maxInputChars, `${longest} > ${datesTask.maxInputChars}`);
  const pairs = datesTask.splits().test;
  assert.deepEqual(pairs.map((p) => p.group), s.test.map((e) => e.form));
  assert.deepEqual(pairs.map((p) => p.target), s.test.map((e) => e.target));
});

Deno.test("predict dates: one ISO line per input or stdin line; bad input exits 2 naming it", async () => {
  const args = await predict(["dates", "3 May 1998", "Sunday, 3 May 1998", "SEP 3, 1998"]);
  assert.equal(args.code, 0, args.err);
  assert.equal(args.out, "1998-05-03\n1998-05-03\n1998-09-03\n");

  const lines = await predict(["dates"], "03.05.1998\r\n3rd may 1998\n2099/12/31\n");
  assert.equal(lines.code, 0, lines.err);
  assert.equal(lines.out, "1998-05-03\n1998-05-03\n2099-12-31\n");

  const unknown = await predict(["dates", "3 May 1998", "3 Mai 1998!"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.out, "");
  assert.match(unknown.err, /input 2 .*character "!" at position 10 is not in the vocabulary/);
  assert.doesNotMatch(unknown.err, /\bat .*\.ts:\d+/); // no stack trace

  const long = await predict(["dates", "Wednesday, 27 September 2000 "]);
  assert.equal(long.code, 2);
  assert.equal(long.out, "");
  assert.match(long.err, /has 29 characters; the limit is 28/);
});
