import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import fc from "fast-check";
import { assertClose, maxAbsDiff, maxRelDiff } from "../lib/testing/assert_close.ts";
import { tensor, zeros } from "../lib/tensor/tensor.ts";
import { mask } from "../lib/tensor/mask.ts";

/** Runs `fn`, which must throw an AssertionError, and returns its message. */
function failureMessage(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AssertionError, `expected an AssertionError, got ${error}`);
    return error.message;
  }
  assert.fail("expected assertClose to throw");
}

Deno.test("assertClose()", async (t) => {
  await t.step("assertClose() passes identical and nearly equal tensors", () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    assertClose(x, x);
    assertClose(x, [[1, 2, 3], [4, 5, 6 * (1 + 5e-6)]]);
    assertClose(x, tensor([[1, 2, 3], [4, 5, 6]]));
  });

  await t.step("assertClose() applies atol + rtol * |expected| at the boundary", () => {
    // Exact float64 boundaries: |a - e| = 0.5 <= atol 0.25 + rtol 0.25 * |2|.
    assertClose(2.5, 2, { rtol: 0.125, atol: 0.25 });
    assert.throws(() => assertClose(2.5, 2, { rtol: 0.1, atol: 0.25 }), AssertionError);
    // rtol scales with expected, not actual.
    assertClose(0, 1, { rtol: 1, atol: 0 });
    assert.throws(() => assertClose(1, 0, { rtol: 1, atol: 0 }), AssertionError);
  });

  await t.step("assertClose() names the count, worst index, values and tolerances", () => {
    const actual = zeros([2, 3, 6]);
    actual.data[5] = 1e-3; // index [0, 0, 5], small error
    actual.data[17] = 0.5; // index [0, 2, 5], the worst
    const msg = failureMessage(() => assertClose(actual, zeros([2, 3, 6])));
    assert.match(msg, /2 of 36 elements/);
    assert.match(msg, /index \[0, 2, 5\]/);
    assert.match(msg, /actual=0\.5, expected=0/);
    assert.match(msg, /absolute difference 0\.5/);
    assert.match(msg, /relative difference Infinity/);
    assert.match(msg, /rtol=0\.00001, atol=1e-8/);
  });

  await t.step("assertClose() reports the element that most exceeds its tolerance", () => {
    // Element 0 has the larger absolute error (10 vs 0.5) but exceeds its
    // tolerance 10 times, element 1 500 times.
    const msg = failureMessage(() => assertClose([1010, 1.5], [1000, 1], { rtol: 1e-3, atol: 0 }));
    assert.match(msg, /2 of 2 elements/);
    assert.match(msg, /index \[1\]: actual=1\.5, expected=1, absolute difference 0\.5/);
    assert.match(msg, /relative difference 0\.5/);
    // Among equally bad elements (zero tolerance), the larger absolute error wins.
    const tie = failureMessage(() => assertClose([1, 3, 2], [0, 0, 0], { rtol: 0, atol: 0 }));
    assert.match(tie, /index \[1\]: actual=3/);
  });

  await t.step("assertClose() puts the message option first", () => {
    const msg = failureMessage(() => assertClose(1, 2, { message: "softmax row 3" }));
    assert.match(msg, /^softmax row 3\nassertClose: 1 of 1 elements/);
  });

  await t.step("assertClose() sets actual and expected on the error", () => {
    assert.throws(() => assertClose([1], [2]), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.deepEqual(error.actual, [1]);
      assert.deepEqual(error.expected, [2]);
      return true;
    });
  });

  await t.step("assertClose() fails on differing shapes and names both", () => {
    const msg = failureMessage(() => assertClose(zeros([2, 3]), [[0, 0], [0, 0], [0, 0]]));
    assert.match(msg, /shapes differ: actual \[2, 3\], expected \[3, 2\]/);
    assert.throws(() => assertClose(zeros([1]), 0), /actual \[1\], expected \[\]/);
  });

  await t.step("assertClose() compares flat arrays by length", () => {
    assertClose(tensor([[1, 2], [3, 4]]), Float32Array.of(1, 2, 3, 4));
    assertClose(tensor([[1, 2], [3, 4]]), [1, 2, 3, 4]);
    assertClose(Float64Array.of(1, 2), [1, 2]);
    const msg = failureMessage(() => assertClose(Float32Array.of(1, 2), [1, 2, 3]));
    assert.match(msg, /actual of length 2, expected of length 3/);
    // The multi-index comes from the shaped side.
    const worst = failureMessage(() => assertClose(tensor([[1, 2], [3, 4]]), [1, 2, 3, 5]));
    assert.match(worst, /index \[1, 1\]/);
  });

  await t.step("assertClose() requires matching infinities", () => {
    assertClose([Infinity, -Infinity], [Infinity, -Infinity]);
    assert.throws(() => assertClose([Infinity], [-Infinity]), AssertionError);
    assert.throws(() => assertClose([1e30], [Infinity], { rtol: 1 }), AssertionError);
    assert.throws(() => assertClose([Infinity], [1e30], { rtol: 1 }), AssertionError);
  });

  await t.step("assertClose() fails on NaN unless equalNan", () => {
    const msg = failureMessage(() => assertClose([1, NaN], [1, NaN]));
    assert.match(msg, /1 of 2 elements.*index \[1\]: actual=NaN, expected=NaN/s);
    assertClose([1, NaN], [1, NaN], { equalNan: true });
    assert.throws(() => assertClose([NaN], [1], { equalNan: true }), AssertionError);
    assert.throws(() => assertClose([1], [NaN], { equalNan: true }), AssertionError);
  });

  await t.step("assertClose() treats -0 and 0 as equal", () => {
    assertClose([-0], [0], { atol: 0, rtol: 0 });
  });

  await t.step("assertClose() compares masks as 0/1", () => {
    assertClose(mask([[true, false]]), [[true, false]]);
    assertClose(mask([[true, false]]), [[1, 0]]);
    assert.throws(() => assertClose(mask([true, false]), [true, true]), /index \[1\]/);
  });

  await t.step("assertClose() accepts empty inputs", () => {
    assertClose([], []);
    assertClose(zeros([0, 3]), zeros([0, 3]));
  });

  await t.step("assertClose() rejects bad options naming the option", () => {
    assert.throws(
      () => assertClose(1, 1, { rtol: -1 }),
      (e: unknown) => e instanceof RangeError && /assertClose: options\.rtol.*-1/.test(e.message),
    );
    assert.throws(
      () => assertClose(1, 1, { atol: NaN }),
      (e: unknown) => e instanceof RangeError && /assertClose: options\.atol/.test(e.message),
    );
    assert.throws(() => assertClose(1, 1, { atol: Infinity }), RangeError);
    assert.throws(
      () => assertClose(1, 1, { rtol: "0.1" } as never),
      (e: unknown) => e instanceof TypeError && /assertClose: options\.rtol/.test(e.message),
    );
    assert.throws(
      () => assertClose(1, 1, { equalNan: 1 } as never),
      (e: unknown) => e instanceof TypeError && /options\.equalNan/.test(e.message),
    );
    assert.throws(() => assertClose(1, 1, { message: 3 } as never), TypeError);
  });

  await t.step("assertClose() rejects unsupported inputs with a TypeError", () => {
    assert.throws(() => assertClose("1" as never, 1), /assertClose: actual must be/);
    assert.throws(
      () => assertClose(1, Int32Array.of(1) as never),
      /assertClose: expected must be/,
    );
    assert.throws(() => assertClose([1, "2"] as never, [1, 2]), /actual\[1\] must be a number/);
    assert.throws(() => assertClose([[1], [2, 3]], [[1], [2, 3]]), RangeError);
  });

  await t.step("assertClose() agrees with an elementwise float64 check (property)", () => {
    const value = fc.oneof(
      fc.double({ noNaN: false }),
      fc.constantFrom(0, -0, 1, Infinity, -Infinity, NaN),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, value), { maxLength: 8 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (pairs, rtol, atol, equalNan) => {
          const a = pairs.map(([x]) => x);
          const e = pairs.map(([, y]) => y);
          const close = pairs.every(([x, y]) =>
            (Number.isNaN(x) && Number.isNaN(y))
              ? equalNan
              : x === y || (Number.isFinite(x) && Number.isFinite(y) &&
                Math.abs(x - y) <= atol + rtol * Math.abs(y))
          );
          let threw = false;
          try {
            assertClose(a, e, { rtol, atol, equalNan });
          } catch (error) {
            assert.ok(error instanceof AssertionError);
            threw = true;
          }
          return threw === !close;
        },
      ),
    );
  });
});

Deno.test("maxAbsDiff() and maxRelDiff()", async (t) => {
  await t.step("maxAbsDiff() returns the largest absolute error", () => {
    assert.equal(maxAbsDiff(tensor([[1, 2], [3, 4]]), [[1, 2.5], [3, 3]]), 1);
    assert.equal(maxAbsDiff([], []), 0);
    assert.equal(maxAbsDiff([Infinity], [Infinity]), 0);
    assert.equal(maxAbsDiff([Infinity], [1]), Infinity);
    assert.ok(Number.isNaN(maxAbsDiff([1, NaN], [1, 1])));
  });

  await t.step("maxRelDiff() measures against expected", () => {
    assert.equal(maxRelDiff([1.5, 3], [1, 3]), 0.5);
    assert.equal(maxRelDiff([0, 0], [0, 0]), 0);
    assert.equal(maxRelDiff([1], [0]), Infinity);
    assert.ok(Number.isNaN(maxRelDiff([NaN], [1])));
  });

  await t.step("maxAbsDiff() rejects differing shapes with a RangeError", () => {
    assert.throws(
      () => maxAbsDiff(zeros([2, 2]), zeros([4])),
      (e: unknown) =>
        e instanceof RangeError &&
        /maxAbsDiff: shapes differ: actual \[2, 2\], expected \[4\]/.test(
          e.message,
        ),
    );
    assert.throws(() => maxRelDiff([1], [1, 2]), RangeError);
  });
});
