// Tests of the generated tasks in tasks/: determinism, disjoint splits,
// coverage of every length and form, vocabulary round trips and errors.
import assert from "node:assert/strict";
import fc from "fast-check";
import { CharVocab } from "../tasks/_vocab.ts";
import { drawSplits } from "../tasks/_splits.ts";
import {
  REVERSE_MAX_LENGTH,
  reverseLengthCounts,
  reverseSplits,
  reverseVocab,
} from "../tasks/reverse.ts";

const SMALL = { train: 2000, validation: 200, test: 400 };

Deno.test("CharVocab: encode/decode round trip on random strings of its characters", () => {
  const v = new CharVocab("abc -");
  fc.assert(fc.property(fc.array(fc.constantFrom(..."abc -")), (chars) => {
    const text = chars.join("");
    const ids = v.encode(text);
    assert.equal(ids.length, chars.length);
    assert.ok(ids.every((id) => id >= 3 && id < v.size));
    assert.equal(v.decode([v.bos, ...ids, v.eos, v.pad, v.pad]), text);
  }));
});

Deno.test("CharVocab: errors name the character or id and the position", () => {
  assert.throws(() => reverseVocab.encode("a b C"), {
    name: "RangeError",
    message: /reverse\.encode: unknown character "C" at position 4 of "a b C"/,
  });
  assert.throws(
    () => reverseVocab.decode([3, 4, -1]),
    /reverse\.decode: unknown id -1 at position 2/,
  );
  assert.throws(() => reverseVocab.decode([3, 1.5]), /unknown id 1\.5 at position 1/);
  assert.throws(() => new CharVocab("aba"), /character "a" appears twice/);
});

Deno.test("drawSplits: equal seeds and bad sizes are refused; an exhausted space throws", () => {
  const draw = (rng: { int(n: number): number }) => rng.int(4);
  assert.throws(
    () => drawSplits("t", SMALL, { train: 1, validation: 2, test: 2 }, draw, String),
    /seeds must differ/,
  );
  assert.throws(
    () => drawSplits("t", { train: -1, validation: 1, test: 1 }, undefined, draw, String),
    /sizes\.train must be a non-negative integer, got -1/,
  );
  // Four values; the test split takes three distinct ones and validation cannot find two more.
  assert.throws(
    () => drawSplits("t", { train: 1, validation: 2, test: 3 }, undefined, draw, String, 200),
    /could not draw validation example 1/,
  );
});

Deno.test("reverse: the same seeds give the same splits; another seed other data", () => {
  const a = reverseSplits({ sizes: SMALL });
  const b = reverseSplits({ sizes: SMALL });
  assert.deepEqual(a, b);
  const c = reverseSplits({ sizes: SMALL, seeds: { train: 10 } });
  assert.deepEqual(c.test, a.test);
  assert.notDeepEqual(c.train, a.train);
});

Deno.test("reverse: splits have the asked sizes, are disjoint, and eval splits do not repeat", () => {
  const s = reverseSplits({ sizes: SMALL });
  assert.equal(s.train.length, SMALL.train);
  assert.equal(s.validation.length, SMALL.validation);
  assert.equal(s.test.length, SMALL.test);
  const train = new Set(s.train.map((e) => e.input));
  const validation = new Set(s.validation.map((e) => e.input));
  const test = new Set(s.test.map((e) => e.input));
  assert.equal(validation.size, SMALL.validation);
  assert.equal(test.size, SMALL.test);
  for (const x of test) assert.ok(!train.has(x) && !validation.has(x), x);
  for (const x of validation) assert.ok(!train.has(x), x);
});

Deno.test("reverse: every length 1-16 in every split, spread evenly in train", () => {
  const s = reverseSplits({ sizes: SMALL });
  for (const split of [s.train, s.validation, s.test]) {
    const counts = new Array(REVERSE_MAX_LENGTH + 1).fill(0);
    for (const e of split) counts[e.length]++;
    for (let n = 1; n <= REVERSE_MAX_LENGTH; n++) assert.ok(counts[n] > 0, `length ${n}`);
  }
  const counts = new Array(REVERSE_MAX_LENGTH + 1).fill(0);
  for (const e of s.train) counts[e.length]++;
  assert.ok(Math.max(...counts.slice(1)) - Math.min(...counts.slice(1)) <= 1);
  // Length 1 has 26 inputs: the two evaluation splits take 6 each, train keeps the other 14.
  const ones = new Set(s.train.filter((e) => e.length === 1).map((e) => e.input));
  assert.equal(ones.size, 14);
  assert.deepEqual(reverseLengthCounts(40, true).slice(0, 3), [3, 3, 3]);
});

Deno.test("reverse: inputs are a-z symbols separated by single spaces; targets reversed", () => {
  const s = reverseSplits({ sizes: SMALL });
  for (const e of [...s.train, ...s.validation, ...s.test]) {
    assert.match(e.input, /^[a-z]( [a-z])*$/);
    const symbols = e.input.split(" ");
    assert.equal(symbols.length, e.length);
    const target = e.target.split(" ");
    for (let i = 0; i < symbols.length; i++) {
      assert.equal(target[i], symbols[symbols.length - 1 - i]);
    }
    assert.equal(reverseVocab.decode(reverseVocab.encode(e.target)), e.target);
  }
});
