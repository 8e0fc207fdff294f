/**
 * Test inputs every kernel test shares: deterministic values from a seed,
 * independent of the library's own `Rng` (so a bug there cannot hide one here).
 *
 * @module
 */

/** Deterministic values in [-1, 1) from a seed (xorshift). */
export function randoms(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
