/**
 * sum / mean / max (lib/tensor/reduce.ts) against an independent float64 loop
 * (for each output, every input whose kept coordinates match it), on random
 * shapes with empty axes, random axis sets (negative axes, keepDims) and
 * random NaN / ±∞; plus PyTorch's edge cases and the validation errors.
 *
 * Tolerance: sum and mean |got − ref| ≤ 1e-6 · Σ|x| (/ count for the mean)
 * + 1e-30, one float32 rounding of a float64 sum; max exact. Non-finite
 * results must match the reference's class (NaN, +∞, −∞) exactly.
 */

import fc from "fast-check";
import assert from "node:assert/strict";
import { max, mean, sum } from "../lib/tensor/reduce.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";
import { traceKernels } from "../lib/kernels/registry.ts";

type Op = "sum" | "mean" | "max";
const OPS = { sum, mean, max };

/** Coordinates of flat index `i` in `shape` (row-major). */
function coords(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return out;
}

/** The float64 reference: output shape and values (NaN rules of PyTorch). */
function reference(op: Op, x: Tensor, axes: number[], keepDims: boolean) {
  const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const outShape = keepDims
    ? x.shape.map((s, d) => (axes.includes(d) ? 1 : s))
    : kept.map((d) => x.shape[d]);
  const keptSizes = kept.map((d) => x.shape[d]);
  const outSize = keptSizes.reduce((a, b) => a * b, 1);
  const values: number[] = [], scale: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const oc = coords(o, keptSizes);
    let s = 0, mag = 0, count = 0, m = -Infinity, nan = false;
    for (let i = 0; i < x.size; i++) {
      const c = coords(i, x.shape);
      if (!kept.every((d, t) => c[d] === oc[t])) continue;
      const v = x.data[i];
      s += v;
      mag += Math.abs(v);
      count++;
      if (Number.isNaN(v)) nan = true;
      else if (v > m) m = v;
    }
    if (op === "sum") values.push(s), scale.push(mag);
    else if (op === "mean") values.push(s / count), scale.push(mag / count);
    else values.push(nan ? NaN : m), scale.push(0);
  }
  return { outShape, values, scale };
}

function kind(x: number): string {
  return Number.isNaN(x) ? "NaN" : x === Infinity ? "+Inf" : x === -Infinity ? "-Inf" : "finite";
}

const value = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -100, max: 100, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

const input = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 })
  .chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.array(value, {
        minLength: shape.reduce((a, b) => a * b, 1),
        maxLength: shape.reduce((a, b) => a * b, 1),
      }),
      fc.subarray([...shape.keys()]),
      fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      fc.boolean(),
      fc.constantFrom<Op>("sum", "mean", "max"),
      fc.constantFrom("array", "number", "omitted"),
    )
  );

Deno.test("sum, mean and max agree with a float64 loop (fast-check)", () => {
  fc.assert(
    fc.property(input, ([shape, data, axes, negative, keepDims, op, form]) => {
      const x = new Tensor(Float32Array.from(data), shape);
      // the axis argument: negative spellings where drawn; one axis as a plain number
      const spelled = axes.map((d, t) => (negative[t] ? d - shape.length : d));
      let arg: number | number[] | undefined = spelled;
      let reduced = axes;
      if (form === "omitted" || axes.length === 0) {
        arg = form === "omitted" ? undefined : [];
        reduced = [...shape.keys()]; // PyTorch: no axis, or [], reduces every axis
      } else if (form === "number") {
        arg = spelled[0];
        reduced = [axes[0]];
      }
      const ref = reference(op, x, reduced, keepDims);
      if (op === "max" && reduced.some((d) => shape[d] === 0)) {
        assert.throws(() => max(x, arg, { keepDims }), /max: axis \d+ of x=.* has size 0/);
        return;
      }
      const got = OPS[op](x, arg, { keepDims });
      assert.deepEqual(got.shape, ref.outShape);
      for (let i = 0; i < ref.values.length; i++) {
        const r = ref.values[i], g = got.data[i];
        if (kind(r) !== "finite" || kind(g) !== "finite") {
          assert.equal(kind(g), kind(r), `${op} [${i}]: ${g} vs ${r}`);
        } else {
          assert.ok(
            Math.abs(g - r) <= 1e-6 * ref.scale[i] + 1e-30,
            `${op} [${i}]: ${g} vs ${r}`,
          );
        }
      }
    }),
    { numRuns: 400 },
  );
});

Deno.test("PyTorch's edge cases", async (t) => {
  await t.step("no axis gives a scalar of shape []; keepDims keeps every axis as 1", () => {
    const x = tensor([[1, 2], [3, 4]]);
    assert.deepEqual(sum(x).shape, []);
    assert.equal(sum(x).toArray(), 10);
    assert.deepEqual(mean(x, undefined, { keepDims: true }).toArray(), [[2.5]]);
    assert.equal(max(x).toArray(), 4);
  });
  await t.step("empty axis: sum 0, mean NaN, max a RangeError naming the function", () => {
    const e = new Tensor(new Float32Array(0), [2, 0]);
    assert.deepEqual(sum(e, 1).toArray(), [0, 0]);
    assert.ok(mean(e, 1).data.every(Number.isNaN));
    assert.throws(() => max(e, 1), RangeError);
    assert.throws(() => max(e), /max: axis 1 of x=\[2, 0\] has size 0/);
    // reducing a non-empty axis of an empty tensor is fine (an empty result)
    assert.deepEqual(max(new Tensor(new Float32Array(0), [0, 3]), 1).shape, [0]);
  });
  await t.step("a 0-d tensor takes axis 0 or -1", () => {
    const s = tensor(3);
    assert.equal(sum(s, 0).toArray(), 3);
    assert.equal(max(s, -1).toArray(), 3);
    assert.throws(
      () => sum(s, 1),
      /sum: axis 1 is out of range for x=\[\]: it must be in \[-1, 0\]/,
    );
  });
  await t.step("float64 accumulation: 1 + 2^24 ones is exact", () => {
    const x = new Tensor(new Float32Array((1 << 24) + 1).fill(1), [(1 << 24) + 1]);
    assert.equal(sum(x).toArray(), Math.fround((1 << 24) + 1)); // float32 accumulation gives 2^24
    assert.equal(mean(x).toArray(), 1);
  });
  await t.step("max propagates NaN wherever it is, as torch.amax", () => {
    for (const at of [0, 1, 2]) {
      const v = [1, 2, 3];
      v[at] = NaN;
      assert.ok(Number.isNaN(max(tensor(v)).toArray() as number), `NaN at ${at}`);
    }
    assert.equal(max(tensor([-Infinity, -Infinity])).toArray(), -Infinity);
  });
  await t.step("the kernels run through the kernel table", () => {
    const { calls } = traceKernels(() => [sum(tensor([1])), mean(tensor([1])), max(tensor([1]))]);
    assert.deepEqual(calls.map((c) => c.name), ["sum", "mean", "max"]);
  });
});

Deno.test("validation errors name the function, argument, shape and rule", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.throws(
    () => sum(x, 2),
    /sum: axis 2 is out of range for x=\[2, 3\]: it must be in \[-2, 1\]/,
  );
  assert.throws(() => mean(x, -3), /mean: axis -3 is out of range/);
  assert.throws(
    () => max(x, [1, -1]),
    /max: axis \[1,-1\] names axis 1 twice for x=\[2, 3\]: each axis may be reduced once/,
  );
  assert.throws(() => sum(x, 0.5), TypeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => sum(x, "0" as any), /sum: axis must be an integer or an array of integers/);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => sum(x, 0, { keepDims: "yes" as any }),
    /sum: options.keepDims must be a boolean/,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => sum([1, 2] as any), /sum: x must be a Tensor/);
});
