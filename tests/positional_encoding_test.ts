/**
 * Positional encodings (sinusoidal, learned, RoPE, ALiBi, T5 relative buckets)
 * against float64 loops written here, and their defining properties (fast-check).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { assertClose } from "../lib/testing/assert_close.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { permute } from "../lib/tensor/transpose.ts";
import { randn, type Tensor, tensor, zeros } from "../lib/tensor/tensor.ts";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { causalMask } from "../lib/attention/masks.ts";
import { sinusoidalEncoding } from "../lib/layers/sinusoidal_encoding.ts";
import { LearnedPositionalEmbedding } from "../lib/layers/learned_positional_embedding.ts";
import { applyRotary, rotaryFrequencies, type RotaryStyle } from "../lib/layers/rotary.ts";
import { alibiBias, alibiSlopes } from "../lib/layers/alibi.ts";
import {
  RelativePositionBias,
  relativePositionBucket,
} from "../lib/layers/relative_position_bias.ts";

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const row = (x: Tensor, r: number) => {
  const d = x.shape[x.rank - 1];
  return x.data.subarray(r * d, (r + 1) * d);
};

/** RoPE on one vector at position m, float64, pairs given explicitly. */
function rotateReference(
  v: ArrayLike<number>,
  m: number,
  style: RotaryStyle,
  base = 10000,
): number[] {
  const d = v.length, out = Array.from(v);
  for (let i = 0; i < d / 2; i++) {
    const angle = m / base ** ((2 * i) / d);
    const [a, b] = style === "interleaved" ? [2 * i, 2 * i + 1] : [i, i + d / 2];
    out[a] = v[a] * Math.cos(angle) - v[b] * Math.sin(angle);
    out[b] = v[a] * Math.sin(angle) + v[b] * Math.cos(angle);
  }
  return out;
}

/** T5 bucket from the formula in the paper's code, float64. */
function bucketReference(
  rel: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let offset = 0, n: number, perSide = numBuckets;
  if (bidirectional) {
    perSide = Math.floor(numBuckets / 2);
    offset = rel > 0 ? perSide : 0;
    n = Math.abs(rel);
  } else {
    n = Math.max(-rel, 0);
  }
  const exact = Math.floor(perSide / 2);
  if (n < exact) return offset + n;
  const logBucket = exact +
    Math.floor((Math.log(n / exact) / Math.log(maxDistance / exact)) * (perSide - exact));
  return offset + Math.min(logBucket, perSide - 1);
}

Deno.test("sinusoidalEncoding()", async (t) => {
  await t.step("sinusoidalEncoding() matches a float64 loop", () => {
    for (const d of [16, 7]) {
      const pe = sinusoidalEncoding(300, d);
      assert.deepEqual(pe.shape, [300, d]);
      const expected: number[] = [];
      for (let pos = 0; pos < 300; pos++) {
        for (let c = 0; c < d; c++) {
          const i2 = c - (c % 2); // 2i
          const angle = pos / 10000 ** (i2 / d);
          expected.push(c % 2 === 0 ? Math.sin(angle) : Math.cos(angle));
        }
      }
      assertClose(pe, expected, { rtol: 0, atol: 1e-7 });
    }
  });

  await t.step("sinusoidalEncoding() rows are bounded by 1 (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 64 }),
        (len, d) => sinusoidalEncoding(len, d).data.every((v) => Math.abs(v) <= 1),
      ),
      { numRuns: 50 },
    );
  });

  await t.step("sinusoidalEncoding() PE(p)·PE(p+k) does not depend on p (property)", () => {
    const d = 64, pe = sinusoidalEncoding(1200, d);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 199 }),
        (p, q, k) => {
          // Σ_i sin a sin b + cos a cos b = Σ_i cos(k θ_i), whatever p
          return Math.abs(dot(row(pe, p), row(pe, p + k)) - dot(row(pe, q), row(pe, q + k))) < 1e-4;
        },
      ),
    );
  });

  await t.step("sinusoidalEncoding() handles odd dModel with a final sine column", () => {
    const pe = sinusoidalEncoding(3, 3);
    assert.equal(pe.get(2, 2), Math.fround(Math.sin(2 / 10000 ** (2 / 3))));
    assert.deepEqual(sinusoidalEncoding(0, 4).shape, [0, 4]);
  });

  await t.step("sinusoidalEncoding() rejects bad sizes", () => {
    assert.throws(
      () => sinusoidalEncoding(4, 0),
      /sinusoidalEncoding: dModel must be a positive integer, got 0/,
    );
    assert.throws(
      () => sinusoidalEncoding(-1, 4),
      /sinusoidalEncoding: maxLen must be a non-negative integer, got -1/,
    );
    assert.throws(() => sinusoidalEncoding(4, 4, { base: 1 }), /base must be a finite number > 1/);
  });
});

Deno.test("LearnedPositionalEmbedding", async (t) => {
  await t.step("LearnedPositionalEmbedding.forward() adds rows offset … offset+T−1", () => {
    const pos = new LearnedPositionalEmbedding(6, 3, { seed: 2 });
    const x = randn([2, 4, 3], new Rng(1));
    const y = pos.forward(x, { offset: 2 });
    const expected = Array.from(x.data, (v, i) => v + pos.weight.data[2 * 3 + (i % 12)]);
    assertClose(y, expected, { rtol: 0, atol: 1e-6 });
    assert.deepEqual(pos.positions(2, { offset: 4 }).data, pos.weight.data.slice(12, 18));
    assert.deepEqual(Object.keys(pos.stateDict()), ["weight"]);
  });

  await t.step("LearnedPositionalEmbedding rejects positions past maxLen", () => {
    const pos = new LearnedPositionalEmbedding(4, 2);
    assert.throws(
      () => pos.forward(zeros([3, 2]), { offset: 2 }),
      /T=3 positions from offset 2, past maxLen=4/,
    );
    assert.throws(() => pos.forward(zeros([3, 5])), /x must be \[\.\.\., T, 2\], got \[3, 5\]/);
  });
});

Deno.test("applyRotary()", async (t) => {
  const x = randn([2, 3, 5, 8], new Rng(3));
  for (const style of ["interleaved", "half"] as const) {
    await t.step(`applyRotary(${style}) matches a float64 loop`, () => {
      const positions = [3, 0, 7, 100, 2.5];
      const y = applyRotary(x, { style, positions, base: 500 });
      const expected: number[] = [];
      for (let r = 0; r < 30; r++) {
        expected.push(...rotateReference(row(x, r), positions[r % 5], style, 500));
      }
      assertClose(y, expected, { rtol: 1e-6, atol: 1e-6 });
      assertClose(
        applyRotary(x, { style }),
        Array.from({ length: 30 }, (_, r) => rotateReference(row(x, r), r % 5, style)).flat(),
        {
          rtol: 1e-6,
          atol: 1e-6,
        },
      );
    });
  }

  await t.step("applyRotary() scores q_m·k_n depend only on m − n (property)", () => {
    const vec = fc.array(fc.double({ min: -2, max: 2, noNaN: true }), {
      minLength: 16,
      maxLength: 16,
    });
    fc.assert(
      fc.property(
        vec,
        vec,
        fc.nat(500),
        fc.nat(500),
        fc.nat(500),
        fc.constantFrom<RotaryStyle>("interleaved", "half"),
        (q, k, m, n, s, style) => {
          const score = (a: number, b: number) => {
            const rq = applyRotary(tensor([q]), { positions: [a], style }).data;
            const rk = applyRotary(tensor([k]), { positions: [b], style }).data;
            return dot(rq, rk);
          };
          return Math.abs(score(m, n) - score(m + s, n + s)) < 1e-4;
        },
      ),
      { numRuns: 100 },
    );
  });

  await t.step("applyRotary() conventions agree up to a permutation of features (property)", () => {
    // feature 2i (interleaved) <-> i (half), 2i+1 <-> i + D/2
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer(),
        (half, t, seed) => {
          const d = 2 * half;
          const xi = randn([t, d], new Rng(seed));
          // [T, D/2, 2] -> [T, 2, D/2] -> [T, D]: interleaved layout to half layout
          const toHalf = (v: Tensor) => permute(v.reshape([t, half, 2]), [0, 2, 1]).reshape([t, d]);
          const a = toHalf(applyRotary(xi, { style: "interleaved" }));
          const b = applyRotary(toHalf(xi), { style: "half" });
          assert.deepEqual(a.data, b.data);
        },
      ),
      { numRuns: 50 },
    );
  });

  await t.step("applyRotary() preserves norms and is the identity at position 0", () => {
    const y = applyRotary(x, { positions: [0, 1, 2, 3, 4] });
    for (let r = 0; r < 30; r++) {
      assert.ok(Math.abs(dot(row(y, r), row(y, r)) - dot(row(x, r), row(x, r))) < 1e-4);
      if (r % 5 === 0) assert.deepEqual(row(y, r), row(x, r));
    }
    assert.deepEqual(Array.from(rotaryFrequencies(8)), [0, 1, 2, 3].map((i) => 10000 ** (-i / 4)));
  });

  await t.step("applyRotary() rejects odd sizes and mismatched positions", () => {
    assert.throws(
      () => applyRotary(zeros([2, 3])),
      /applyRotary: the feature size D must be even and positive \(features rotate in pairs\), got x=\[2, 3\]/,
    );
    assert.throws(
      () => applyRotary(zeros([2, 4]), { positions: [0] }),
      /positions must hold T=2 numbers for x=\[2, 4\], got length 1/,
    );
    assert.throws(
      () => applyRotary(zeros([2, 4]), { positions: [0, NaN] }),
      /positions\[1\] must be a finite number/,
    );
    assert.throws(
      () => applyRotary(zeros([2, 4]), { style: "neox" as never }),
      /style must be one of "interleaved", "half", got "neox" \(a string\)/,
    );
  });
});

Deno.test("alibiSlopes()", async (t) => {
  await t.step("alibiSlopes() is 2^(-8k/n) for powers of two", () => {
    for (const n of [1, 2, 4, 8, 16, 32, 64]) {
      assert.deepEqual(
        alibiSlopes(n),
        Array.from({ length: n }, (_, k) => 2 ** (-8 * (k + 1) / n)),
      );
    }
  });

  await t.step(
    "alibiSlopes() interpolates other head counts between the power-of-two slopes",
    () => {
      for (const n of [3, 5, 6, 7, 12, 20, 24, 40]) {
        const m = 2 ** Math.floor(Math.log2(n));
        const s = alibiSlopes(n);
        assert.equal(s.length, n);
        assert.deepEqual(s.slice(0, m), alibiSlopes(m));
        // the added slopes are 2^(-8(2j+1)/(2M)): geometric means of neighbours in the M sequence
        s.slice(m).forEach((v, j) => assert.ok(Math.abs(v - 2 ** (-4 * (2 * j + 1) / m)) < 1e-15));
      }
      assert.throws(
        () => alibiSlopes(0),
        /alibiSlopes: numHeads must be a positive integer, got 0/,
      );
    },
  );
});

Deno.test("alibiBias()", async (t) => {
  await t.step("alibiBias() matches a float64 loop, -slope·|i − j|", () => {
    const slopes = alibiSlopes(6);
    for (
      const [tq, tk, align] of [[5, 5, "top-left"], [2, 6, "bottom-right"], [
        4,
        3,
        "top-left",
      ]] as const
    ) {
      const expected: number[] = [];
      const shift = align === "bottom-right" ? tk - tq : 0;
      for (let h = 0; h < 6; h++) {
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) expected.push(-slopes[h] * Math.abs(i + shift - j));
        }
      }
      const b = alibiBias(6, tq, tk, { align });
      assert.deepEqual(b.shape, [6, tq, tk]);
      assertClose(b, expected, { rtol: 1e-7, atol: 0 });
      assert.ok(b.data.every((v) => !Object.is(v, -0)));
    }
  });

  await t.step("alibiBias() under a causal mask equals the paper's per-row shift m·j", () => {
    // softmax is shift-invariant per row: -m(i - j) and m·j give the same weights
    const h = 4, tq = 5;
    const q = randn([h, tq, 8], new Rng(5)), k = randn([h, tq, 8], new Rng(6));
    const slopes = alibiSlopes(h);
    const paper = tensor(
      Array.from({ length: h * tq * tq }, (_, f) => slopes[Math.floor(f / (tq * tq))] * (f % tq)),
      [h, tq, tq],
    );
    const mask = causalMask(tq);
    const a = scaledDotProductAttention(q, k, k, { bias: alibiBias(h, tq), mask }).weights;
    const b = scaledDotProductAttention(q, k, k, { bias: paper, mask }).weights;
    assertClose(a, b, { rtol: 1e-5, atol: 1e-6 });
  });
});

Deno.test("relativePositionBucket()", async (t) => {
  await t.step("relativePositionBucket() matches a float64 loop", () => {
    for (
      const [bidirectional, numBuckets, maxDistance] of [
        [true, 32, 128],
        [false, 32, 128],
        [true, 10, 50],
        [false, 6, 30],
        [true, 7, 20],
      ] as const
    ) {
      for (let rel = -400; rel <= 400; rel++) {
        assert.equal(
          relativePositionBucket(rel, { bidirectional, numBuckets, maxDistance }),
          bucketReference(rel, bidirectional, numBuckets, maxDistance),
          `rel=${rel}, bidirectional=${bidirectional}, numBuckets=${numBuckets}`,
        );
      }
    }
  });

  await t.step(
    "relativePositionBucket() is monotone in distance and within range (property)",
    () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2000 }), fc.boolean(), (n, bidirectional) => {
          const b0 = relativePositionBucket(-n, { bidirectional });
          const b1 = relativePositionBucket(-n - 1, { bidirectional });
          return b0 <= b1 && b1 < 32 && b0 >= 0;
        }),
      );
    },
  );

  await t.step("relativePositionBucket() rejects settings with no exact buckets", () => {
    assert.throws(
      () => relativePositionBucket(1, { numBuckets: 3 }),
      /numBuckets must be at least 4 when bidirectional/,
    );
    assert.throws(
      () => relativePositionBucket(1, { numBuckets: 32, maxDistance: 8 }),
      /maxDistance must exceed the 8 exact buckets/,
    );
    assert.throws(
      () => relativePositionBucket(0.5),
      /relativePosition must be an integer, got 0.5/,
    );
  });
});

Deno.test("RelativePositionBias", async (t) => {
  await t.step("RelativePositionBias.forward() gathers weight[bucket(j − i), h]", () => {
    const rpb = new RelativePositionBias(3, {
      numBuckets: 16,
      maxDistance: 20,
      bidirectional: false,
      seed: 7,
    });
    assert.deepEqual(rpb.weight.shape, [16, 3]);
    for (const [tq, tk, align] of [[6, 6, "top-left"], [2, 7, "bottom-right"]] as const) {
      const b = rpb.forward(tq, tk, { align });
      const shift = align === "bottom-right" ? tk - tq : 0;
      const expected: number[] = [];
      for (let h = 0; h < 3; h++) {
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) {
            expected.push(rpb.weight.get(bucketReference(j - i - shift, false, 16, 20), h));
          }
        }
      }
      assert.deepEqual(b.shape, [3, tq, tk]);
      assert.deepEqual(Array.from(b.data), expected);
    }
    assert.deepEqual(Object.keys(rpb.stateDict()), ["weight"]);
    assert.equal(rpb.buckets(3).get(2, 0), 2);
  });

  await t.step("RelativePositionBias output is Toeplitz (property)", () => {
    const rpb = new RelativePositionBias(2, { seed: 1 });
    const b = rpb.forward(40, 40);
    fc.assert(
      fc.property(
        fc.nat(1),
        fc.nat(38),
        fc.nat(38),
        (h, i, j) => b.get(h, i, j) === b.get(h, i + 1, j + 1),
      ),
    );
  });
});
