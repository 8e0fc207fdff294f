/**
 * The naive peer: textbook loops on Float32Arrays, no blocking, no SIMD, the
 * way attention is usually first written in JavaScript.
 *
 * @module
 */

/** C [m, n] = A [m, k] · B [k, n], triple loop. */
export function naiveMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

/**
 * softmax(Q·Kᵀ/√d + mask)·V for one head: q, k [n, d] and v [n, dv] read with a
 * row stride (to pick a head out of [n, H·d]), output [n, dv].
 */
export function naiveAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  n: number,
  d: number,
  stride: number,
  offset: number,
  causal: boolean,
): Float32Array {
  const out = new Float32Array(n * d);
  const s = new Float32Array(n);
  const scale = 1 / Math.sqrt(d);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let p = 0; p < d; p++) dot += q[i * stride + offset + p] * k[j * stride + offset + p];
      s[j] = causal && j > i ? -Infinity : dot * scale;
      if (s[j] > max) max = s[j];
    }
    let sum = 0;
    for (let j = 0; j < n; j++) {
      s[j] = Math.exp(s[j] - max);
      sum += s[j];
    }
    for (let j = 0; j < n; j++) {
      const w = s[j] / sum;
      for (let p = 0; p < d; p++) out[i * d + p] += w * v[j * stride + offset + p];
    }
  }
  return out;
}

/** Multi-head self-attention: x [n, e] with weights [e, e] (x·W), h heads. */
export function naiveMha(
  x: Float32Array,
  w: { q: Float32Array; k: Float32Array; v: Float32Array; o: Float32Array },
  n: number,
  e: number,
  h: number,
): Float32Array {
  const q = naiveMatmul(x, w.q, n, e, e), k = naiveMatmul(x, w.k, n, e, e);
  const v = naiveMatmul(x, w.v, n, e, e);
  const d = e / h;
  const concat = new Float32Array(n * e);
  for (let head = 0; head < h; head++) {
    const o = naiveAttention(q, k, v, n, d, e, head * d, false);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < d; p++) concat[i * e + head * d + p] = o[i * d + p];
    }
  }
  return naiveMatmul(concat, w.o, n, e, e);
}

/** LayerNorm over rows of x [n, e] in place (no affine: weights are 1 and 0). */
export function naiveLayerNorm(x: Float32Array, n: number, e: number): void {
  for (let i = 0; i < n; i++) {
    let mean = 0, variance = 0;
    for (let p = 0; p < e; p++) mean += x[i * e + p];
    mean /= e;
    for (let p = 0; p < e; p++) variance += (x[i * e + p] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / e + 1e-5);
    for (let p = 0; p < e; p++) x[i * e + p] = (x[i * e + p] - mean) * inv;
  }
}

/** Post-norm encoder layer: x = LN(x + MHA(x)); x = LN(x + W2·relu(W1·x)). */
export function naiveEncoderLayer(
  x: Float32Array,
  w: {
    q: Float32Array;
    k: Float32Array;
    v: Float32Array;
    o: Float32Array;
    f1: Float32Array;
    f2: Float32Array;
  },
  n: number,
  e: number,
  h: number,
  f: number,
): Float32Array {
  const a = naiveMha(x, w, n, e, h);
  for (let i = 0; i < a.length; i++) a[i] += x[i];
  naiveLayerNorm(a, n, e);
  const hidden = naiveMatmul(a, w.f1, n, e, f);
  for (let i = 0; i < hidden.length; i++) if (hidden[i] < 0) hidden[i] = 0;
  const y = naiveMatmul(hidden, w.f2, n, f, e);
  for (let i = 0; i < y.length; i++) y[i] += a[i];
  naiveLayerNorm(y, n, e);
  return y;
}
