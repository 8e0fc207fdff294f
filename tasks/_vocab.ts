/**
 * The character vocabulary the tasks share: special tokens first (pad, bos,
 * eos), then one token per character, with `encode`/`decode` that refuse what
 * they cannot represent instead of guessing.
 *
 * @module
 */

/** The special tokens every task vocabulary starts with, in id order. */
export const SPECIALS = ["<pad>", "<bos>", "<eos>"] as const;

/**
 * A character vocabulary: ids 0, 1, 2 are `<pad>`, `<bos>`, `<eos>`; the
 * characters follow in the order given.
 *
 * @example Round trip, and the error for an unknown character
 * ```ts
 * import { CharVocab } from "./_vocab.ts";
 * import assert from "node:assert/strict";
 * const v = new CharVocab("ab ");
 * assert.deepEqual(v.encode("a b"), [3, 5, 4]);
 * assert.equal(v.decode([v.bos, 3, 5, 4, v.eos, v.pad]), "a b");
 * assert.throws(() => v.encode("a?"), /unknown character "\?" at position 1/);
 * ```
 */
export class CharVocab {
  /** Every token, by id: the specials, then the characters. */
  readonly tokens: readonly string[];
  /** Id of `<pad>`. */
  readonly pad = 0;
  /** Id of `<bos>` (start of sequence). */
  readonly bos = 1;
  /** Id of `<eos>` (end of sequence). */
  readonly eos = 2;
  readonly #ids: Map<string, number>;

  /**
   * @param chars The characters, each once, in id order after the specials.
   * @param name The task's name, used in error messages.
   */
  constructor(readonly chars: string, readonly name = "CharVocab") {
    const list = [...chars];
    this.#ids = new Map();
    for (const [i, c] of list.entries()) {
      if (this.#ids.has(c)) {
        throw new RangeError(
          `${name} vocabulary: character ${JSON.stringify(c)} appears twice (positions ` +
            `${this.#ids.get(c)! - SPECIALS.length} and ${i}); each character must appear once`,
        );
      }
      this.#ids.set(c, i + SPECIALS.length);
    }
    this.tokens = [...SPECIALS, ...list];
  }

  /** The number of tokens, specials included. */
  get size(): number {
    return this.tokens.length;
  }

  /**
   * The ids of the characters of `text` (no specials added).
   *
   * @example
   * ```ts
   * import { CharVocab } from "./_vocab.ts";
   * import assert from "node:assert/strict";
   * assert.deepEqual(new CharVocab("xy").encode("yx"), [4, 3]);
   * ```
   */
  encode(text: string): number[] {
    const out: number[] = [];
    let position = 0;
    for (const c of text) {
      const id = this.#ids.get(c);
      if (id === undefined) {
        throw new RangeError(
          `${this.name}.encode: unknown character ${JSON.stringify(c)} at position ${position} ` +
            `of ${JSON.stringify(text)}; the vocabulary holds ${JSON.stringify(this.chars)}`,
        );
      }
      out.push(id);
      position++;
    }
    return out;
  }

  /**
   * The text of `ids`: `<pad>` and `<bos>` are skipped, `<eos>` ends the text.
   *
   * @example Decoding stops at the end token
   * ```ts
   * import { CharVocab } from "./_vocab.ts";
   * import assert from "node:assert/strict";
   * const v = new CharVocab("xy");
   * assert.equal(v.decode([v.bos, 3, 4, v.eos, 3]), "xy");
   * assert.throws(() => v.decode([9]), /id 9 at position 0/);
   * ```
   */
  decode(ids: ArrayLike<number>): string {
    let text = "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
        throw new RangeError(
          `${this.name}.decode: unknown id ${id} at position ${i}; ids must be integers in ` +
            `[0, ${this.tokens.length})`,
        );
      }
      if (id === this.eos) break;
      if (id === this.pad || id === this.bos) continue;
      text += this.tokens[id];
    }
    return text;
  }
}
