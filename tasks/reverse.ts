/**
 * The `reverse` task: 1-16 symbols from a-z separated by single spaces, to
 * the same symbols in reverse order (`"a b c"` -> `"c b a"`).
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

/** The symbols a sequence is made of. */
export const REVERSE_SYMBOLS = "abcdefghijklmnopqrstuvwxyz";
/** The fewest symbols in an input. */
export const REVERSE_MIN_LENGTH = 1;
/** The most symbols in an input. */
export const REVERSE_MAX_LENGTH = 16;

/**
 * The vocabulary of `reverse` (inputs and targets share it): pad, bos, eos,
 * a-z and the space.
 *
 * @example
 * ```ts
 * import { reverseVocab } from "./reverse.ts";
 * import assert from "node:assert/strict";
 * assert.equal(reverseVocab.size, 3 + 26 + 1);
 * assert.equal(reverseVocab.decode(reverseVocab.encode("a b")), "a b");
 * ```
 */
export const reverseVocab: CharVocab = new CharVocab(REVERSE_SYMBOLS + " ", "reverse");

/** One `reverse` example. */
export interface ReverseExample {
  /** Symbols separated by single spaces, e.g. `"a b c"`. */
  input: string;
  /** The same symbols reversed, e.g. `"c b a"`. */
  target: string;
  /** The number of symbols. */
  length: number;
}

/**
 * The target of an input: its symbols in reverse order.
 *
 * @example
 * ```ts
 * import { reverseTarget } from "./reverse.ts";
 * import assert from "node:assert/strict";
 * assert.equal(reverseTarget("a b c"), "c b a");
 * ```
 */
export function reverseTarget(input: string): string {
  return input.split(" ").reverse().join(" ");
}

/**
 * One example of `length` symbols drawn from `rng`.
 *
 * @example
 * ```ts
 * import { reverseExample } from "./reverse.ts";
 * import { Rng } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const e = reverseExample(new Rng(0), 3);
 * assert.equal(e.input.split(" ").length, 3);
 * assert.equal(e.target, e.input.split(" ").reverse().join(" "));
 * ```
 */
export function reverseExample(rng: Rng, length: number): ReverseExample {
  if (
    !Number.isInteger(length) || length < REVERSE_MIN_LENGTH || length > REVERSE_MAX_LENGTH
  ) {
    throw new RangeError(
      `reverseExample: length must be an integer in [${REVERSE_MIN_LENGTH}, ` +
        `${REVERSE_MAX_LENGTH}], got ${length}`,
    );
  }
  const symbols: string[] = [];
  for (let i = 0; i < length; i++) symbols.push(REVERSE_SYMBOLS[rng.int(REVERSE_SYMBOLS.length)]);
  const input = symbols.join(" ");
  return { input, target: reverseTarget(input), length };
}

/**
 * How many examples of each length (index 0 is length 1) a split of `size`
 * holds: as even as possible; an evaluation split (distinct examples) takes at
 * most a quarter of the inputs of a length (6 of the 26 of length 1), the rest
 * going to the longer lengths, so that train keeps unseen inputs at every length.
 *
 * @example Every length appears
 * ```ts
 * import { reverseLengthCounts } from "./reverse.ts";
 * import assert from "node:assert/strict";
 * const c = reverseLengthCounts(160, true);
 * assert.equal(c[0], 6);
 * assert.equal(c.reduce((a, b) => a + b), 160);
 * assert.ok(c.every((n) => n > 0));
 * ```
 */
export function reverseLengthCounts(size: number, distinct: boolean): number[] {
  const lengths = REVERSE_MAX_LENGTH - REVERSE_MIN_LENGTH + 1;
  const cap = (i: number) =>
    distinct ? Math.floor(REVERSE_SYMBOLS.length ** (i + REVERSE_MIN_LENGTH) / 4) : Infinity;
  const counts = new Array<number>(lengths).fill(0);
  // Round-robin from the shortest length keeps the counts within one of each other where no cap binds.
  let left = size;
  while (left > 0) {
    let placed = false;
    for (let i = 0; i < lengths && left > 0; i++) {
      if (counts[i] < cap(i)) {
        counts[i]++;
        left--;
        placed = true;
      }
    }
    if (!placed) throw new RangeError(`reverseLengthCounts: no room for ${size} examples`);
  }
  return counts;
}

/** Options of {@link reverseSplits}. */
export interface ReverseOptions {
  /** Split sizes; default train 10000, validation 500, test 1000. */
  sizes?: Partial<SplitSizes>;
  /** Split seeds; they must differ. Default train 1, validation 2, test 3. */
  seeds?: Partial<SplitSeeds>;
}

/**
 * The train / validation / test splits of `reverse`: every length 1-16 in
 * every split, and no test or validation input in the train split.
 *
 * @example
 * ```ts
 * import { reverseSplits } from "./reverse.ts";
 * import assert from "node:assert/strict";
 * const s = reverseSplits({ sizes: { train: 64, validation: 16, test: 32 } });
 * const train = new Set(s.train.map((e) => e.input));
 * assert.ok(s.test.every((e) => !train.has(e.input)));
 * assert.equal(new Set(s.test.map((e) => e.length)).size, 16);
 * ```
 */
export function reverseSplits(options: ReverseOptions = {}): Splits<ReverseExample> {
  const sizes: SplitSizes = { train: 10000, validation: 500, test: 1000, ...options.sizes };
  const seeds: SplitSeeds = { ...DEFAULT_SEEDS, ...options.seeds };
  const plans = new Map<string, number[]>();
  const lengthAt = (split: string, size: number, index: number) => {
    let plan = plans.get(split);
    if (!plan) {
      plan = [];
      // Lengths interleaved (1, 2, ..., 16, 1, 2, ...) so any prefix of a split is spread too.
      const counts = reverseLengthCounts(size, split !== "train");
      while (plan.length < size) {
        for (let i = 0; i < counts.length; i++) {
          if (counts[i] > 0) {
            counts[i]--;
            plan.push(i + REVERSE_MIN_LENGTH);
          }
        }
      }
      plans.set(split, plan);
    }
    return plan[index];
  };
  return drawSplits(
    "reverseSplits",
    sizes,
    seeds,
    (rng, index, split, size) => reverseExample(rng, lengthAt(split, size, index)),
    (e) => e.input,
  );
}
