/**
 * Counter-based random numbers on 32-bit integer arithmetic: Philox4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
 * generator behind dropout in cuRAND, PyTorch CUDA and JAX. The number at
 * element `i` of call `c` of stream `k` is a pure function of `(k, c, i)`:
 * no state is carried from one element to the next, so any element can be
 * drawn again (a backward pass regenerates a dropout mask instead of storing
 * it), in any order and on any number of threads, with the same result.
 *
 * Also the string hash that turns a seed and a module path into a stream key.
 *
 * @module
 */

/**
 * One call's worth of a counter-based stream: element i of the call draws the
 * number `uniformAt(key, call, i)`. Keeping the pair is enough to draw any
 * element again.
 */
export interface CounterKey {
  /** The stream: 32 bits, e.g. {@link hashKey} of a seed and a module path. */
  readonly key: number;
  /** Which call of the stream (32 bits): each forward pass takes the next one. */
  readonly call: number;
}

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers (16-bit pieces, exact). */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const lo = aLo * bLo, mid1 = aHi * bLo, mid2 = aLo * bHi;
  const carry = ((lo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * One Philox4x32-10 block: ten rounds over the counter `(c0, c1, c2, c3)` with
 * the key `(k0, k1)`, written as four unsigned 32-bit words into `out` at `at`.
 *
 * @example The first known-answer vector of Random123 (counter 0, key 0)
 * ```ts
 * import { philox4x32 } from "./random.ts";
 * import assert from "node:assert/strict";
 * const out = new Uint32Array(4);
 * philox4x32(0, 0, 0, 0, 0, 0, out, 0);
 * assert.deepEqual([...out], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
 * ```
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  at: number,
): void {
  c0 >>>= 0, c1 >>>= 0, c2 >>>= 0, c3 >>>= 0, k0 >>>= 0, k1 >>>= 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[at] = c0;
  out[at + 1] = c1;
  out[at + 2] = c2;
  out[at + 3] = c3;
}

/** The largest element index a stream addresses: counters hold index / 4 in 32 + 21 bits. */
export const MAX_RANDOM_INDEX = 2 ** 53 - 1;

/**
 * Uniform numbers in [0, 1) for elements `first … first + out.length - 1` of
 * call `call` of stream `key`: element i is word `i mod 4` of the Philox block
 * with counter `(⌊i/4⌋ low 32 bits, ⌊i/4⌋ high bits, 0, 0)` and key `(key, call)`,
 * divided by 2³². The same `(key, call, i)` gives the same number however the
 * range is split.
 *
 * @example Any split of a range draws the same numbers
 * ```ts
 * import { uniformAt } from "./random.ts";
 * import assert from "node:assert/strict";
 * const all = new Float64Array(10), tail = new Float64Array(7);
 * uniformAt(42, 0, 0, all);
 * uniformAt(42, 0, 3, tail);
 * assert.deepEqual([...tail], [...all.subarray(3)]);
 * assert.ok(all.every((u) => u >= 0 && u < 1));
 * ```
 */
export function uniformAt(key: number, call: number, first: number, out: Float64Array): void {
  const words = new Uint32Array(4);
  let block = -1;
  for (let n = 0; n < out.length; n++) {
    const i = first + n;
    const b = Math.floor(i / 4);
    if (b !== block) {
      block = b;
      philox4x32(b % 4294967296, Math.floor(b / 4294967296), 0, 0, key, call, words, 0);
    }
    out[n] = words[i - 4 * b] / 4294967296;
  }
}

/**
 * Inverted dropout on `count` values of `src` (at `srcAt`) into `dst` (at
 * `dstAt`, may be `src`): element n, numbered `first + n` in the stream, is
 * zeroed when its uniform number from {@link uniformAt} is below `p`, else
 * scaled by 1/(1-p).
 *
 * @example p = 0.5 zeroes some and doubles the rest
 * ```ts
 * import { dropoutAt } from "./random.ts";
 * import assert from "node:assert/strict";
 * const x = new Float32Array(64).fill(1);
 * dropoutAt(x, 0, x, 0, 64, 0.5, 7, 0, 0);
 * assert.ok(x.every((v) => v === 0 || v === 2) && x.includes(0) && x.includes(2));
 * ```
 */
export function dropoutAt(
  src: Float32Array<ArrayBufferLike>,
  srcAt: number,
  dst: Float32Array<ArrayBufferLike>,
  dstAt: number,
  count: number,
  p: number,
  key: number,
  call: number,
  first: number,
): void {
  const keep = 1 / (1 - p);
  // p·2³² as a threshold on the raw words: u < p  ⇔  word < p·2³² (exact in float64)
  const threshold = p * 4294967296;
  const words = new Uint32Array(4);
  let n = 0;
  while (n < count) {
    const i = first + n;
    const b = Math.floor(i / 4);
    philox4x32(b % 4294967296, Math.floor(b / 4294967296), 0, 0, key, call, words, 0);
    // the block's words for elements i … min(4b + 3, first + count - 1)
    const end = Math.min(4 * b + 4 - first, count);
    for (let lane = i - 4 * b; n < end; lane++, n++) {
      dst[dstAt + n] = words[lane] < threshold ? 0 : src[srcAt + n] * keep;
    }
  }
}

/**
 * A 32-bit key from a seed and a string (a module path such as
 * `encoder.layers.0.dropout1`): the UTF-16 code units and the seed's two 32-bit
 * halves are absorbed one by one, each through a Philox block, so distinct
 * (seed, path) pairs give unrelated keys.
 *
 * @example Paths that differ in one character give unrelated keys
 * ```ts
 * import { hashKey } from "./random.ts";
 * import assert from "node:assert/strict";
 * assert.notEqual(hashKey(0, "layers.0.dropout1"), hashKey(0, "layers.0.dropout2"));
 * assert.equal(hashKey(5, "a"), hashKey(5, "a"));
 * ```
 */
export function hashKey(seed: number, text: string): number {
  const words = new Uint32Array(4);
  // The seed as two 32-bit halves (seeds are safe integers, possibly negative).
  const lo = seed | 0, hi = Math.floor(seed / 4294967296) | 0;
  let h0 = 0x243f6a88, h1 = 0x85a308d3;
  philox4x32(lo, hi, text.length, 0x13198a2e, h0, h1, words, 0);
  h0 = words[0], h1 = words[1];
  for (let i = 0; i < text.length; i++) {
    philox4x32(text.charCodeAt(i), i, h0, h1, 0x03707344, 0xa4093822, words, 0);
    h0 = words[0], h1 = words[1];
  }
  return h0;
}
