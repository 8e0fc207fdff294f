/**
 * The `dates` task: a date as people write it (`3 May 1998`, `Sunday, 3 May
 * 1998`, `03.05.1998`, ...) to ISO `YYYY-MM-DD`, years 1900-2099. Weekdays come
 * from the day count here, not from `Date`; each example records its form and
 * the letter case of its names so accuracy can be reported per form.
 *
 * @module
 */

import type { Rng } from "../mod.ts";
import { CharVocab } from "./_vocab.ts";
import {
  DEFAULT_SEEDS,
  drawSplits,
  type Splits,
  type SplitSeeds,
  type SplitSizes,
} from "./_splits.ts";

/** The first year of the task. */
export const DATES_FIRST_YEAR = 1900;
/** The last year of the task. */
export const DATES_LAST_YEAR = 2099;

/** Month names, January first. */
export const MONTHS: readonly string[] = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Weekday names, Sunday first (the numbering of `Date.prototype.getUTCDay`). */
export const WEEKDAYS: readonly string[] = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];

/**
 * The ways a date is written, with 3 May 1998 as the example:
 * `day-month-year` 3 May 1998, `month-day-year` May 3, 1998, `weekday` Sunday,
 * 3 May 1998, `dotted` 03.05.1998 (day first), `day-mon-year` 3 May 1998 with
 * three-letter months (3 Sep 1998), `mon-day-year` Sep 3, 1998, `ordinal`
 * 3rd May 1998, `slashed` 1998/05/03.
 */
export const DATE_FORMS = [
  "day-month-year",
  "month-day-year",
  "weekday",
  "dotted",
  "day-mon-year",
  "mon-day-year",
  "ordinal",
  "slashed",
] as const;

/** One of {@link DATE_FORMS}. */
export type DateForm = typeof DATE_FORMS[number];

/** How the names (month, weekday) of a date are cased. */
export const NAME_CASES = ["title", "upper", "lower", "mixed"] as const;

/** One of {@link NAME_CASES}. */
export type NameCase = typeof NAME_CASES[number];

/** The forms that spell a name, and so have a {@link NameCase}. */
export const NAMED_FORMS: readonly DateForm[] = DATE_FORMS.filter((f) =>
  f !== "dotted" && f !== "slashed"
);

/**
 * The vocabulary of `dates` (inputs and targets share it): pad, bos, eos,
 * digits, letters in both cases, space and `,./-`.
 *
 * @example
 * ```ts
 * import { datesVocab } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.equal(datesVocab.decode(datesVocab.encode("Sunday, 3 MAY 1998")), "Sunday, 3 MAY 1998");
 * assert.throws(() => datesVocab.encode("3 Mai 1998!"), /"!" at position 10/);
 * ```
 */
export const datesVocab: CharVocab = new CharVocab(
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,./-",
  "dates",
);

/**
 * Whether `year` is a Gregorian leap year: divisible by 4, except centuries
 * not divisible by 400 (1900 is not, 2000 is).
 *
 * @example
 * ```ts
 * import { isLeapYear } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([1900, 1996, 2000, 2023].map(isLeapYear), [false, true, true, false]);
 * ```
 */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * The number of days of `month` (1-12) in `year`.
 *
 * @example
 * ```ts
 * import { daysInMonth } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([daysInMonth(1900, 2), daysInMonth(2000, 2), daysInMonth(1998, 9)], [28, 29, 30]);
 * ```
 */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Leap years in [1, year]. */
function leapYearsThrough(year: number): number {
  return Math.floor(year / 4) - Math.floor(year / 100) + Math.floor(year / 400);
}

function checkDate(fn: string, year: number, month: number, day: number): void {
  if (
    !Number.isInteger(year) || year < DATES_FIRST_YEAR || year > DATES_LAST_YEAR ||
    !Number.isInteger(month) || month < 1 || month > 12 ||
    !Number.isInteger(day) || day < 1 || day > daysInMonth(year, month)
  ) {
    throw new RangeError(
      `${fn}: ${year}-${month}-${day} is not a valid date with a year in ` +
        `[${DATES_FIRST_YEAR}, ${DATES_LAST_YEAR}]`,
    );
  }
}

/**
 * Days from 1 January 1900 (day 0) to the given date.
 *
 * @example
 * ```ts
 * import { daysSince1900 } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.equal(daysSince1900(1900, 1, 1), 0);
 * assert.equal(daysSince1900(1901, 1, 1), 365);
 * ```
 */
export function daysSince1900(year: number, month: number, day: number): number {
  checkDate("daysSince1900", year, month, day);
  let days = 365 * (year - 1900) + leapYearsThrough(year - 1) - leapYearsThrough(1899);
  for (let m = 1; m < month; m++) days += daysInMonth(year, m);
  return days + day - 1;
}

/** The number of days in the task's range, 1900-01-01 through 2099-12-31. */
export const DATES_DAY_COUNT = 365 * 200 + leapYearsThrough(2099) - leapYearsThrough(1899);

/**
 * The date `days` days after 1 January 1900.
 *
 * @example
 * ```ts
 * import { dateFromDays } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(dateFromDays(59), { year: 1900, month: 3, day: 1 });
 * ```
 */
export function dateFromDays(days: number): { year: number; month: number; day: number } {
  if (!Number.isInteger(days) || days < 0 || days >= DATES_DAY_COUNT) {
    throw new RangeError(
      `dateFromDays: days must be an integer in [0, ${DATES_DAY_COUNT}), got ${days}`,
    );
  }
  let year = 1900;
  while (days >= (isLeapYear(year) ? 366 : 365)) days -= isLeapYear(year++) ? 366 : 365;
  let month = 1;
  while (days >= daysInMonth(year, month)) days -= daysInMonth(year, month++);
  return { year, month, day: days + 1 };
}

/**
 * The weekday of a date, 0 for Sunday to 6 for Saturday, from the day count
 * (1 January 1900 was a Monday).
 *
 * @example 3 May 1998 was a Sunday
 * ```ts
 * import { weekday, WEEKDAYS } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.equal(WEEKDAYS[weekday(1998, 5, 3)], "Sunday");
 * ```
 */
export function weekday(year: number, month: number, day: number): number {
  return (daysSince1900(year, month, day) + 1) % 7;
}

/**
 * The English ordinal of a day: 1st 2nd 3rd 4th ... 11th 12th 13th ... 21st
 * 22nd 23rd ... 31st.
 *
 * @example
 * ```ts
 * import { ordinal } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31].map(ordinal).join(" "),
 *   "1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 23rd 31st");
 * ```
 */
export function ordinal(day: number): string {
  const teen = day % 100 >= 11 && day % 100 <= 13;
  const suffix = teen ? "th" : ["th", "st", "nd", "rd"][day % 10] ?? "th";
  return `${day}${suffix}`;
}

/**
 * A name in a case; `mixed` draws each letter's case from `rng` until the
 * word is in none of the other three cases.
 *
 * @example
 * ```ts
 * import { caseName } from "./dates.ts";
 * import { Rng } from "../mod.ts";
 * import assert from "node:assert/strict";
 * assert.equal(caseName("May", "upper", new Rng(0)), "MAY");
 * const m = caseName("May", "mixed", new Rng(0));
 * assert.equal(m.toLowerCase(), "may");
 * assert.ok(!["May", "MAY", "may"].includes(m));
 * ```
 */
export function caseName(name: string, nameCase: NameCase, rng: Rng): string {
  if (nameCase === "title") return name[0].toUpperCase() + name.slice(1).toLowerCase();
  if (nameCase === "upper") return name.toUpperCase();
  if (nameCase === "lower") return name.toLowerCase();
  const others = new Set(
    ["title", "upper", "lower"].map((c) => caseName(name, c as NameCase, rng)),
  );
  for (;;) {
    let s = "";
    for (const c of name) s += rng.int(2) ? c.toUpperCase() : c.toLowerCase();
    if (!others.has(s)) return s;
  }
}

/** One `dates` example. */
export interface DateExample {
  /** The date as written, e.g. `"Sunday, 3 May 1998"`. */
  input: string;
  /** ISO 8601, e.g. `"1998-05-03"`. */
  target: string;
  /** How the input is written. */
  form: DateForm;
  /** How its names are cased; `null` for the forms without names. */
  nameCase: NameCase | null;
  /** The year. */
  year: number;
  /** The month, 1-12. */
  month: number;
  /** The day of the month. */
  day: number;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/**
 * A date written in `form`, with its names cased as `nameCase` (`rng` is used
 * only by the `mixed` case).
 *
 * @example
 * ```ts
 * import { formatDate } from "./dates.ts";
 * import { Rng } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const rng = new Rng(0);
 * assert.equal(formatDate(1998, 5, 3, "weekday", "title", rng), "Sunday, 3 May 1998");
 * assert.equal(formatDate(1998, 9, 3, "mon-day-year", "upper", rng), "SEP 3, 1998");
 * assert.equal(formatDate(1998, 5, 3, "dotted", "title", rng), "03.05.1998");
 * assert.equal(formatDate(1998, 5, 3, "slashed", "title", rng), "1998/05/03");
 * ```
 */
export function formatDate(
  year: number,
  month: number,
  day: number,
  form: DateForm,
  nameCase: NameCase,
  rng: Rng,
): string {
  checkDate("formatDate", year, month, day);
  const full = () => caseName(MONTHS[month - 1], nameCase, rng);
  const short = () => caseName(MONTHS[month - 1].slice(0, 3), nameCase, rng);
  switch (form) {
    case "day-month-year":
      return `${day} ${full()} ${year}`;
    case "month-day-year":
      return `${full()} ${day}, ${year}`;
    case "weekday":
      return `${
        caseName(WEEKDAYS[weekday(year, month, day)], nameCase, rng)
      }, ${day} ${full()} ${year}`;
    case "dotted":
      return `${pad2(day)}.${pad2(month)}.${year}`;
    case "day-mon-year":
      return `${day} ${short()} ${year}`;
    case "mon-day-year":
      return `${short()} ${day}, ${year}`;
    case "ordinal":
      return `${ordinal(day)} ${full()} ${year}`;
    case "slashed":
      return `${year}/${pad2(month)}/${pad2(day)}`;
    default:
      throw new RangeError(
        `formatDate: unknown form ${JSON.stringify(form)}; forms are ${DATE_FORMS.join(", ")}`,
      );
  }
}

/**
 * The ISO 8601 form of a date, `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * import { isoDate } from "./dates.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isoDate(1998, 5, 3), "1998-05-03");
 * ```
 */
export function isoDate(year: number, month: number, day: number): string {
  checkDate("isoDate", year, month, day);
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

/**
 * One example: a date drawn uniformly from 1900-01-01 through 2099-12-31,
 * written in `form` with names in `nameCase`.
 *
 * @example
 * ```ts
 * import { dateExample } from "./dates.ts";
 * import { Rng } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const e = dateExample(new Rng(1), "ordinal", "lower");
 * assert.match(e.target, /^(19|20)\d\d-\d\d-\d\d$/);
 * assert.match(e.input, /^\d+(st|nd|rd|th) [a-z]+ \d{4}$/);
 * ```
 */
export function dateExample(rng: Rng, form: DateForm, nameCase: NameCase): DateExample {
  const { year, month, day } = dateFromDays(rng.int(DATES_DAY_COUNT));
  const named = NAMED_FORMS.includes(form);
  return {
    input: formatDate(year, month, day, form, nameCase, rng),
    target: isoDate(year, month, day),
    form,
    nameCase: named ? nameCase : null,
    year,
    month,
    day,
  };
}

/** Options of {@link datesSplits}. */
export interface DatesOptions {
  /** Split sizes; default train 20000, validation 800, test 1600. */
  sizes?: Partial<SplitSizes>;
  /** Split seeds; they must differ. Default train 1, validation 2, test 3. */
  seeds?: Partial<SplitSeeds>;
}

/**
 * The train / validation / test splits of `dates`: example `i` of a split has
 * form `DATE_FORMS[i % 8]`, and the named forms cycle through the four cases,
 * so a split of 32 or more examples holds every form in every case. No test or
 * validation input is in the train split.
 *
 * @example
 * ```ts
 * import { DATE_FORMS, datesSplits } from "./dates.ts";
 * import assert from "node:assert/strict";
 * const s = datesSplits({ sizes: { train: 64, validation: 32, test: 32 } });
 * const train = new Set(s.train.map((e) => e.input));
 * assert.ok(s.test.every((e) => !train.has(e.input)));
 * assert.equal(new Set(s.test.map((e) => e.form)).size, DATE_FORMS.length);
 * ```
 */
export function datesSplits(options: DatesOptions = {}): Splits<DateExample> {
  const sizes: SplitSizes = { train: 20000, validation: 800, test: 1600, ...options.sizes };
  const seeds: SplitSeeds = { ...DEFAULT_SEEDS, ...options.seeds };
  return drawSplits(
    "datesSplits",
    sizes,
    seeds,
    (rng, i) => {
      const form = DATE_FORMS[i % DATE_FORMS.length];
      const nameCase = NAME_CASES[Math.floor(i / DATE_FORMS.length) % NAME_CASES.length];
      return dateExample(rng, form, nameCase);
    },
    (e) => e.input,
  );
}
