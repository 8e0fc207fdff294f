/**
 * A small seeded random number generator whose streams are identical on every
 * platform: xoshiro128** on 32-bit integer arithmetic, seeded by splitmix32;
 * and the counter-based streams dropout draws from ({@link RandomStream}).
 *
 * @module
 */

import { type CounterKey, hashKey } from "../kernels/random.ts";
import { describeValue } from "./describe.ts";

export type { CounterKey } from "../kernels/random.ts";

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Seeded pseudo-random stream (xoshiro128**). Same seed, same numbers, on any
 * machine: only 32-bit integer operations and exact float conversions are used.
 *
 * @example Two generators with one seed agree
 * ```ts
 * import { Rng } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const a = new Rng(42), b = new Rng(42);
 * assert.equal(a.uniform(), b.uniform());
 * ```
 */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare: number | null = null;

  /**
   * Creates a generator; equal seeds give equal streams.
   *
   * @param seed Any integer; it is reduced to 32 bits.
   */
  constructor(seed = 0) {
    if (typeof seed !== "number" || !Number.isFinite(seed) || !Number.isInteger(seed)) {
      throw new TypeError(`Rng: seed must be an integer, got ${describeValue(seed)}`);
    }
    const st = { s: seed | 0 };
    this.#s0 = splitmix32(st);
    this.#s1 = splitmix32(st);
    this.#s2 = splitmix32(st);
    this.#s3 = splitmix32(st);
  }

  /** The next unsigned 32-bit integer of the stream. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /**
   * A uniform number in [0, 1) with 32 random bits.
   *
   * @example In range
   * ```ts
   * import { Rng } from "./rng.ts";
   * import assert from "node:assert/strict";
   * const u = new Rng(1).uniform();
   * assert.ok(u >= 0 && u < 1);
   * ```
   */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * A key for one call of the counter-based generator, drawn from this stream
   * (one `nextUint32()`): how the functional `dropout(x, p, { rng })` gets its numbers.
   *
   * @example Two keys from one Rng differ
   * ```ts
   * import { Rng } from "./rng.ts";
   * import assert from "node:assert/strict";
   * const rng = new Rng(0);
   * assert.notDeepEqual(rng.nextKey(), rng.nextKey());
   * ```
   */
  nextKey(): CounterKey {
    return { key: this.nextUint32(), call: 0 };
  }

  /**
   * A standard normal sample (Box–Muller; the second value of each pair is kept for the next call).
   *
   * @example Finite samples
   * ```ts
   * import { Rng } from "./rng.ts";
   * import assert from "node:assert/strict";
   * assert.ok(Number.isFinite(new Rng(3).normal()));
   * ```
   */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * A uniform integer in [0, n).
   *
   * @example Dice
   * ```ts
   * import { Rng } from "./rng.ts";
   * import assert from "node:assert/strict";
   * const d = new Rng(7).int(6);
   * assert.ok(Number.isInteger(d) && d >= 0 && d < 6);
   * ```
   */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    return Math.floor(this.uniform() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A counter-based random stream: a 32-bit key and a call counter. Each
 * {@link RandomStream.next} returns the key of the next call; the numbers of
 * that call are a pure function of (key, call, element index), so they can be
 * drawn again, in any order, on any number of threads.
 *
 * @example A stream from a seed and a path; successive calls differ
 * ```ts
 * import { RandomStream } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const s = RandomStream.fromPath(0, "encoder.layers.0.dropout1");
 * const a = s.next(), b = s.next();
 * assert.equal(a.key, b.key);
 * assert.deepEqual([a.call, b.call], [0, 1]);
 * assert.equal(s.calls, 2);
 * ```
 */
export class RandomStream {
  #calls = 0;

  /**
   * A stream with the given 32-bit key.
   *
   * @param key Any integer; reduced to 32 bits.
   * @throws {TypeError} When `key` is not an integer.
   */
  constructor(readonly key: number) {
    if (typeof key !== "number" || !Number.isInteger(key)) {
      throw new TypeError(`RandomStream: key must be an integer, got ${describeValue(key)}`);
    }
    this.key = key >>> 0;
  }

  /** The stream of `path` under `seed`: key = {@link hashKey}(seed, path). */
  static fromPath(seed: number, path: string): RandomStream {
    return new RandomStream(hashKey(seed, path));
  }

  /** Calls taken so far. */
  get calls(): number {
    return this.#calls;
  }

  /** The key of the next call (and advances the call counter). */
  next(): CounterKey {
    return { key: this.key, call: this.#calls++ >>> 0 };
  }
}
