/**
 * Train / validation / test splits drawn from different seeds and kept
 * disjoint: the evaluation splits are drawn first, each without repeats and
 * without any example of the splits before it; the train split then rejects
 * every evaluation example, so no test input was seen in training.
 *
 * @module
 */

import { Rng } from "../mod.ts";

/** The three splits, in the order they are drawn. */
export type SplitName = "test" | "validation" | "train";

/** Draw order: the evaluation splits first, so that train is the one that gives way. */
export const SPLIT_ORDER: readonly SplitName[] = ["test", "validation", "train"];

/** Sizes of the three splits. */
export interface SplitSizes {
  /** Training examples (may repeat within the split). */
  train: number;
  /** Validation examples (distinct). */
  validation: number;
  /** Test examples (distinct). */
  test: number;
}

/** Seeds of the three splits; they must differ. */
export interface SplitSeeds {
  /** Seed of the train split. */
  train: number;
  /** Seed of the validation split. */
  validation: number;
  /** Seed of the test split. */
  test: number;
}

/** The default seeds: one per split. */
export const DEFAULT_SEEDS: SplitSeeds = { train: 1, validation: 2, test: 3 };

/** Three splits of examples. */
export interface Splits<E> {
  /** Training examples. */
  train: E[];
  /** Validation examples. */
  validation: E[];
  /** Test examples. */
  test: E[];
}

/**
 * Draws the three splits. `draw(rng, index, split)` makes the example at
 * `index` (its category, e.g. a length or a form, should follow from `index`
 * so every category appears in every split); an example whose `key` is taken
 * is drawn again with the same index.
 *
 * @example Disjoint splits of small integers
 * ```ts
 * import { drawSplits } from "./_splits.ts";
 * import assert from "node:assert/strict";
 * const s = drawSplits("ints", { train: 20, validation: 5, test: 5 }, undefined,
 *   (rng) => rng.int(100), String);
 * const train = new Set(s.train);
 * assert.ok(s.test.every((x) => !train.has(x)));
 * assert.equal(new Set(s.test).size, 5);
 * ```
 */
export function drawSplits<E>(
  task: string,
  sizes: SplitSizes,
  seeds: SplitSeeds = DEFAULT_SEEDS,
  draw: (rng: Rng, index: number, split: SplitName, size: number) => E,
  key: (example: E) => string,
  maxTries = 10_000,
): Splits<E> {
  checkSizesAndSeeds(task, sizes, seeds);
  const taken = new Set<string>();
  const out: Splits<E> = { train: [], validation: [], test: [] };
  for (const split of SPLIT_ORDER) {
    const rng = new Rng(seeds[split]);
    const size = sizes[split];
    const own = new Set<string>();
    for (let i = 0; i < size; i++) {
      for (let tries = 0;; tries++) {
        if (tries >= maxTries) {
          throw new RangeError(
            `${task}: could not draw ${split} example ${i} unseen in the earlier splits after ` +
              `${maxTries} tries; ask for smaller splits`,
          );
        }
        const example = draw(rng, i, split, size);
        const k = key(example);
        if (taken.has(k) || own.has(k)) continue;
        if (split !== "train") own.add(k);
        out[split].push(example);
        break;
      }
    }
    for (const k of own) taken.add(k);
  }
  return out;
}

/**
 * Throws unless each size is a non-negative integer and the seeds are three
 * different integers.
 *
 * @example
 * ```ts
 * import { checkSizesAndSeeds } from "./_splits.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => checkSizesAndSeeds("t", { train: 1, validation: 1, test: 1 },
 *   { train: 1, validation: 1, test: 2 }), /seeds must differ/);
 * ```
 */
export function checkSizesAndSeeds(task: string, sizes: SplitSizes, seeds: SplitSeeds): void {
  for (const split of SPLIT_ORDER) {
    const n = sizes[split];
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`${task}: sizes.${split} must be a non-negative integer, got ${n}`);
    }
    if (!Number.isSafeInteger(seeds[split])) {
      throw new RangeError(`${task}: seeds.${split} must be an integer, got ${seeds[split]}`);
    }
  }
  const { train, validation, test } = seeds;
  if (train === validation || train === test || validation === test) {
    throw new RangeError(
      `${task}: the seeds must differ, got train ${train}, validation ${validation}, test ${test}`,
    );
  }
}
