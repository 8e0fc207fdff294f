// Tests of the generated tasks in tasks/: determinism, disjoint splits,
// coverage of every length and form, vocabulary round trips and errors.
import assert from "node:assert/strict";
import fc from "fast-check";
import { CharVocab } from "../tasks/_vocab.ts";
import { getAnyTask, getTask } from "../train/tasks.ts";
import { drawSplits } from "../tasks/_splits.ts";
import {
  REVERSE_MAX_LENGTH,
  reverseLengthCounts,
  reverseSplits,
  reverseVocab,
} from "../tasks/reverse.ts";
import {
  DATE_FORMS,
  dateFromDays,
  DATES_DAY_COUNT,
  datesSplits,
  datesVocab,
  daysInMonth,
  daysSince1900,
  formatDate,
  isLeapYear,
  NAME_CASES,
  NAMED_FORMS,
  ordinal,
  weekday,
  WEEKDAYS,
} from "../tasks/dates.ts";
import {
  inductionExample,
  inductionSplits,
  inductionTargets,
  InductionVocab,
} from "../tasks/induction.ts";
import { Rng } from "../mod.ts";

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

Deno.test("dates: day count, calendar and weekday agree with Date (UTC) on every day 1900-2099", () => {
  assert.equal(DATES_DAY_COUNT, (Date.UTC(2100, 0, 1) - Date.UTC(1900, 0, 1)) / 86_400_000);
  for (let days = 0; days < DATES_DAY_COUNT; days++) {
    const d = new Date(Date.UTC(1900, 0, 1) + days * 86_400_000);
    const year = d.getUTCFullYear(), month = d.getUTCMonth() + 1, day = d.getUTCDate();
    assert.deepEqual(dateFromDays(days), { year, month, day });
    assert.equal(daysSince1900(year, month, day), days);
    assert.equal(weekday(year, month, day), d.getUTCDay(), `${year}-${month}-${day}`);
  }
  assert.equal(WEEKDAYS[weekday(1998, 5, 3)], "Sunday");
  assert.equal(isLeapYear(1900), false);
  assert.equal(isLeapYear(2000), true);
  assert.equal(daysInMonth(1900, 2), 28);
  assert.equal(daysInMonth(2000, 2), 29);
  assert.throws(() => daysSince1900(1900, 2, 29), /1900-2-29 is not a valid date/);
  assert.throws(() => daysSince1900(2100, 1, 1), /year in \[1900, 2099\]/);
});

Deno.test("dates: ordinal suffixes for every day 1-31", () => {
  const want: Record<number, string> = {
    1: "st",
    2: "nd",
    3: "rd",
    21: "st",
    22: "nd",
    23: "rd",
    31: "st",
  };
  for (let d = 1; d <= 31; d++) assert.equal(ordinal(d), `${d}${want[d] ?? "th"}`);
});

Deno.test("dates: the forms of 3 May 1998 and 3 September 1998", () => {
  const rng = new Rng(0);
  const may = DATE_FORMS.map((f) => formatDate(1998, 5, 3, f, "title", rng));
  assert.deepEqual(may, [
    "3 May 1998",
    "May 3, 1998",
    "Sunday, 3 May 1998",
    "03.05.1998",
    "3 May 1998",
    "May 3, 1998",
    "3rd May 1998",
    "1998/05/03",
  ]);
  assert.equal(formatDate(1998, 9, 3, "day-mon-year", "title", rng), "3 Sep 1998");
  assert.equal(formatDate(1998, 9, 3, "mon-day-year", "lower", rng), "sep 3, 1998");
  assert.equal(formatDate(1998, 5, 3, "weekday", "upper", rng), "SUNDAY, 3 MAY 1998");
});

Deno.test("dates: same seeds same splits; disjoint; every form, and every case of the named forms", () => {
  const sizes = { train: 4000, validation: 320, test: 640 };
  const a = datesSplits({ sizes });
  assert.deepEqual(a, datesSplits({ sizes }));
  assert.notDeepEqual(datesSplits({ sizes, seeds: { train: 9 } }).train, a.train);
  const train = new Set(a.train.map((e) => e.input));
  const validation = new Set(a.validation.map((e) => e.input));
  for (const e of a.test) assert.ok(!train.has(e.input) && !validation.has(e.input), e.input);
  for (const e of a.validation) assert.ok(!train.has(e.input), e.input);
  for (const split of [a.train, a.validation, a.test]) {
    const seen = new Set(split.map((e) => `${e.form}/${e.nameCase}`));
    for (const f of DATE_FORMS) {
      if (NAMED_FORMS.includes(f)) {
        for (const c of NAME_CASES) assert.ok(seen.has(`${f}/${c}`), `${f}/${c}`);
      } else assert.ok(seen.has(`${f}/null`), f);
    }
  }
});

Deno.test("dates: every example is a valid date, its target its ISO form, its input parses back", () => {
  const s = datesSplits({ sizes: { train: 4000, validation: 320, test: 640 } });
  const monthOf = (name: string) => {
    const i = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
      .indexOf(name.toLowerCase().slice(0, 3));
    assert.ok(i >= 0, name);
    return i + 1;
  };
  for (const e of [...s.train, ...s.validation, ...s.test]) {
    assert.ok(e.year >= 1900 && e.year <= 2099 && e.day <= daysInMonth(e.year, e.month));
    const iso = new Date(Date.UTC(e.year, e.month - 1, e.day)).toISOString().slice(0, 10);
    assert.equal(e.target, iso);
    // An independent reading of the input, by regular expression per form.
    let m: RegExpMatchArray | null;
    let ymd: [number, number, number];
    if ((m = e.input.match(/^(\d{2})\.(\d{2})\.(\d{4})$/))) ymd = [+m[3], +m[2], +m[1]];
    else if ((m = e.input.match(/^(\d{4})\/(\d{2})\/(\d{2})$/))) ymd = [+m[1], +m[2], +m[3]];
    else if ((m = e.input.match(/^([A-Za-z]+), (\d+) ([A-Za-z]+) (\d{4})$/))) {
      ymd = [+m[4], monthOf(m[3]), +m[2]];
      const day = new Date(Date.UTC(ymd[0], ymd[1] - 1, ymd[2])).getUTCDay();
      assert.equal(m[1].toLowerCase(), WEEKDAYS[day].toLowerCase(), e.input);
    } else if ((m = e.input.match(/^(\d+)(st|nd|rd|th)? ([A-Za-z]+) (\d{4})$/))) {
      ymd = [+m[4], monthOf(m[3]), +m[1]];
    } else if ((m = e.input.match(/^([A-Za-z]+) (\d+), (\d{4})$/))) {
      ymd = [+m[3], monthOf(m[1]), +m[2]];
    } else throw new Error(`unreadable input ${e.input}`);
    assert.deepEqual(ymd, [e.year, e.month, e.day], e.input);
    if (e.nameCase === "upper") {
      assert.equal(
        e.input,
        e.input.toUpperCase().replace(/^(\d+)(ST|ND|RD|TH) /, (x) => x.toLowerCase()),
      );
    }
    if (e.nameCase === "lower") assert.equal(e.input, e.input.toLowerCase());
    assert.equal(datesVocab.decode(datesVocab.encode(e.input)), e.input);
    assert.equal(datesVocab.decode(datesVocab.encode(e.target)), e.target);
  }
});

Deno.test("dates: the vocabulary refuses characters outside it, naming them", () => {
  assert.throws(
    () => datesVocab.encode("3 May 1998?"),
    /dates\.encode: unknown character "\?" at position 10/,
  );
  assert.throws(() => datesVocab.encode("3 Mäy 1998"), /unknown character "ä" at position 3/);
});

Deno.test("induction: sequences repeat; targets point after the first occurrence", () => {
  const s = inductionSplits({ sizes: { train: 500, validation: 50, test: 100 } });
  assert.equal(s.vocab.size, 51);
  for (const e of [...s.train, ...s.validation, ...s.test]) {
    assert.equal(e.ids.length, 51);
    assert.equal(e.ids[0], s.vocab.bos);
    assert.equal(e.repeatStart, 26);
    assert.ok(e.ids.slice(1).every((id) => id >= 1 && id <= 50));
    assert.equal(new Set(e.ids.slice(1, 26)).size, 25);
    for (let q = e.repeatStart; q < e.ids.length; q++) assert.equal(e.ids[q], e.ids[q - e.period]);
    for (const { query, key } of inductionTargets(e)) {
      // The key is the token that followed the query token the first time; it is the next token now.
      assert.equal(e.ids[key - 1], e.ids[query]);
      if (query + 1 < e.ids.length) assert.equal(e.ids[key], e.ids[query + 1]);
    }
    assert.deepEqual(s.vocab.encode(s.vocab.decode(e.ids)), e.ids);
  }
});

Deno.test("induction: determinism, disjoint splits, options, errors", () => {
  const opts = { period: 3, randomTokens: 5, sizes: { train: 100, validation: 10, test: 20 } };
  const a = inductionSplits(opts);
  assert.deepEqual(a, inductionSplits(opts));
  const train = new Set(a.train.map((e) => e.ids.join()));
  const validation = new Set(a.validation.map((e) => e.ids.join()));
  assert.equal(new Set(a.test.map((e) => e.ids.join())).size, 20);
  for (const e of a.test) assert.ok(!train.has(e.ids.join()) && !validation.has(e.ids.join()));
  const loose = inductionExample(new Rng(3), { period: 40, randomTokens: 2, distinct: false });
  assert.equal(loose.ids.length, 81);
  assert.deepEqual(loose.ids.slice(41), loose.ids.slice(1, 41));
  assert.throws(
    () => inductionExample(new Rng(0), { period: 10, randomTokens: 5 }),
    /randomTokens >= period/,
  );
  assert.throws(() => new InductionVocab(3).encode("t0 t3"), /unknown token "t3" at position 1/);
  assert.throws(() => new InductionVocab(3).decode([4]), /unknown id 4 at position 0/);
});

Deno.test("getTask / getAnyTask: a name of an Object.prototype member is an unknown task", () => {
  for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
    assert.throws(() => getTask(name), new RegExp(`unknown task "${name}"; the tasks are: `));
    assert.throws(() => getAnyTask(name), /unknown task/);
  }
  assert.throws(() => getTask("induction"), /decoder-only \(language-model\) task: use getLMTask/);
  assert.equal(getTask("dates").name, "dates");
});
