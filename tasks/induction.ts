/**
 * The `induction` task: random token sequences that repeat, the
 * prefix-matching setup of Olsson et al. (2022), "In-context Learning and
 * Induction Heads": `<bos>`, then `period` random tokens, then the same
 * tokens again. A decoder-only model can predict the second half only by
 * finding the earlier occurrence of the current token and copying the token
 * after it, which is what an induction head does.
 *
 * @module
 */

import type { Rng } from "../mod.ts";
import {
  DEFAULT_SEEDS,
  drawSplits,
  type Splits,
  type SplitSeeds,
  type SplitSizes,
} from "./_splits.ts";

/**
 * The token vocabulary of `induction`: id 0 is `<bos>`, ids 1..n are the
 * tokens `t0`..`t{n-1}`. Text is token names separated by single spaces.
 *
 * @example
 * ```ts
 * import { InductionVocab } from "./induction.ts";
 * import assert from "node:assert/strict";
 * const v = new InductionVocab(10);
 * assert.deepEqual(v.encode("<bos> t0 t9"), [0, 1, 10]);
 * assert.equal(v.decode([0, 1, 10]), "<bos> t0 t9");
 * assert.throws(() => v.encode("t0 t10"), /unknown token "t10" at position 1/);
 * ```
 */
export class InductionVocab {
  /** Id of `<bos>`. */
  readonly bos = 0;
  /** Every token, by id. */
  readonly tokens: readonly string[];
  readonly #ids: Map<string, number>;

  /** @param randomTokens How many tokens the random sequences draw from. */
  constructor(readonly randomTokens: number) {
    if (!Number.isSafeInteger(randomTokens) || randomTokens < 1) {
      throw new RangeError(
        `InductionVocab: randomTokens must be a positive integer, got ${randomTokens}`,
      );
    }
    const tokens = ["<bos>"];
    for (let i = 0; i < randomTokens; i++) tokens.push(`t${i}`);
    this.tokens = tokens;
    this.#ids = new Map(tokens.map((t, i) => [t, i]));
  }

  /** The number of tokens, `<bos>` included. */
  get size(): number {
    return this.tokens.length;
  }

  /**
   * The ids of space-separated token names.
   *
   * @example
   * ```ts
   * import { InductionVocab } from "./induction.ts";
   * import assert from "node:assert/strict";
   * assert.deepEqual(new InductionVocab(4).encode("t3 t1"), [4, 2]);
   * ```
   */
  encode(text: string): number[] {
    if (text === "") return [];
    return text.split(" ").map((name, position) => {
      const id = this.#ids.get(name);
      if (id === undefined) {
        throw new RangeError(
          `induction.encode: unknown token ${JSON.stringify(name)} at position ${position} ` +
            `of ${JSON.stringify(text)}; tokens are <bos> and t0..t${this.randomTokens - 1}, ` +
            `separated by single spaces`,
        );
      }
      return id;
    });
  }

  /**
   * The token names of `ids`, separated by single spaces.
   *
   * @example
   * ```ts
   * import { InductionVocab } from "./induction.ts";
   * import assert from "node:assert/strict";
   * assert.throws(() => new InductionVocab(4).decode([1, 5]), /unknown id 5 at position 1/);
   * ```
   */
  decode(ids: ArrayLike<number>): string {
    const names: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
        throw new RangeError(
          `induction.decode: unknown id ${id} at position ${i}; ids must be integers in ` +
            `[0, ${this.tokens.length})`,
        );
      }
      names.push(this.tokens[id]);
    }
    return names.join(" ");
  }
}

/** Shape of the `induction` sequences. */
export interface InductionConfig {
  /** Random tokens before the repeat (the sequence is 1 + 2 * period long). Default 25. */
  period: number;
  /** How many tokens they are drawn from. Default 50. */
  randomTokens: number;
  /**
   * Whether the tokens of one half are all different (default true), so each
   * token of the repeat has exactly one earlier occurrence to match.
   */
  distinct: boolean;
}

/** The default {@link InductionConfig}: 25 tokens from 50, distinct. */
export const INDUCTION_DEFAULTS: InductionConfig = { period: 25, randomTokens: 50, distinct: true };

/** One `induction` sequence. */
export interface InductionExample {
  /** `[<bos>, x_1 .. x_period, x_1 .. x_period]`, length `1 + 2 * period`. */
  ids: number[];
  /** The index of the first repeated token (`1 + period`). */
  repeatStart: number;
  /** The distance from a repeated token back to its first occurrence. */
  period: number;
}

function checkConfig(config: InductionConfig): void {
  const { period, randomTokens, distinct } = config;
  if (!Number.isSafeInteger(period) || period < 1) {
    throw new RangeError(`induction: period must be a positive integer, got ${period}`);
  }
  if (!Number.isSafeInteger(randomTokens) || randomTokens < 1) {
    throw new RangeError(`induction: randomTokens must be a positive integer, got ${randomTokens}`);
  }
  if (distinct && randomTokens < period) {
    throw new RangeError(
      `induction: distinct tokens need randomTokens >= period, got randomTokens ` +
        `${randomTokens} and period ${period}`,
    );
  }
}

/**
 * One repeated sequence drawn from `rng`.
 *
 * @example The second half repeats the first
 * ```ts
 * import { inductionExample } from "./induction.ts";
 * import { Rng } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const e = inductionExample(new Rng(0), { period: 5, randomTokens: 8, distinct: true });
 * assert.equal(e.ids.length, 11);
 * assert.equal(e.ids[0], 0);
 * assert.deepEqual(e.ids.slice(6), e.ids.slice(1, 6));
 * ```
 */
export function inductionExample(
  rng: Rng,
  config: Partial<InductionConfig> = {},
): InductionExample {
  const c: InductionConfig = { ...INDUCTION_DEFAULTS, ...config };
  checkConfig(c);
  const half: number[] = [];
  if (c.distinct) {
    // Partial Fisher-Yates: the first `period` entries of a shuffle of 1..randomTokens.
    const pool = Array.from({ length: c.randomTokens }, (_, i) => i + 1);
    for (let i = 0; i < c.period; i++) {
      const j = i + rng.int(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
      half.push(pool[i]);
    }
  } else {
    for (let i = 0; i < c.period; i++) half.push(1 + rng.int(c.randomTokens));
  }
  return { ids: [0, ...half, ...half], repeatStart: 1 + c.period, period: c.period };
}

/**
 * For each query position of the repeat, the key position an induction head
 * attends to: the token after the query token's first occurrence (`q - period
 * + 1`). The prefix-matching score of a head is its mean attention on these.
 *
 * @example
 * ```ts
 * import { inductionTargets } from "./induction.ts";
 * import assert from "node:assert/strict";
 * const t = inductionTargets({ ids: [0, 5, 6, 7, 5, 6, 7], repeatStart: 4, period: 3 });
 * assert.deepEqual(t, [{ query: 4, key: 2 }, { query: 5, key: 3 }, { query: 6, key: 4 }]);
 * ```
 */
export function inductionTargets(example: InductionExample): { query: number; key: number }[] {
  const out = [];
  for (let q = example.repeatStart; q < example.ids.length; q++) {
    out.push({ query: q, key: q - example.period + 1 });
  }
  return out;
}

/** Options of {@link inductionSplits}. */
export interface InductionOptions extends Partial<InductionConfig> {
  /** Split sizes; default train 20000, validation 500, test 1000. */
  sizes?: Partial<SplitSizes>;
  /** Split seeds; they must differ. Default train 1, validation 2, test 3. */
  seeds?: Partial<SplitSeeds>;
}

/**
 * The train / validation / test splits of `induction`, with no test or
 * validation sequence in the train split, and the vocabulary they use.
 *
 * @example
 * ```ts
 * import { inductionSplits } from "./induction.ts";
 * import assert from "node:assert/strict";
 * const s = inductionSplits({ period: 4, randomTokens: 6, sizes: { train: 50, validation: 10, test: 10 } });
 * const train = new Set(s.train.map((e) => e.ids.join()));
 * assert.ok(s.test.every((e) => !train.has(e.ids.join())));
 * assert.equal(s.vocab.size, 7);
 * ```
 */
export function inductionSplits(
  options: InductionOptions = {},
): Splits<InductionExample> & { vocab: InductionVocab; config: InductionConfig } {
  const { sizes: sizeOptions, seeds: seedOptions, ...configOptions } = options;
  const config: InductionConfig = { ...INDUCTION_DEFAULTS, ...configOptions };
  checkConfig(config);
  const sizes: SplitSizes = { train: 20000, validation: 500, test: 1000, ...sizeOptions };
  const seeds: SplitSeeds = { ...DEFAULT_SEEDS, ...seedOptions };
  const splits = drawSplits(
    "inductionSplits",
    sizes,
    seeds,
    (rng) => inductionExample(rng, config),
    (e) => e.ids.join(","),
  );
  return { ...splits, vocab: new InductionVocab(config.randomTokens), config };
}
