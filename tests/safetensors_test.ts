import assert from "node:assert/strict";
import fc from "fast-check";
import {
  loadSafetensors,
  readSafetensorsMetadata,
  saveSafetensors,
} from "../lib/io/safetensors.ts";
import { Tensor, tensor } from "../lib/tensor/tensor.ts";

// ---------------------------------------------------------------------------
// Hand-built files

/** A safetensors file from a header (an object, or raw JSON text) and a data buffer. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  return fileFromBytes(new TextEncoder().encode(text), data);
}

function fileFromBytes(header: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** Little-endian bytes written by `write(view, i, value)` with `size` bytes per value. */
function pack<T>(
  values: readonly T[],
  size: number,
  write: (view: DataView, offset: number, value: T) => void,
): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => write(view, i * size, v));
  return out;
}

const u16 = (v: number[]) => pack(v, 2, (d, o, x) => d.setUint16(o, x, true));
const f32 = (v: number[]) => pack(v, 4, (d, o, x) => d.setFloat32(o, x, true));

/** A one-tensor file `x` of `dtype` and `shape` holding `data`. */
function single(dtype: string, shape: number[], data: Uint8Array): Uint8Array {
  return file({ x: { dtype, shape, data_offsets: [0, data.length] } }, data);
}

function bitsOf(t: Tensor): number[] {
  return [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];
}

/** Asserts that loading `bytes` throws `ErrorClass` with a `loadSafetensors:` message matching `pattern`. */
function assertRejects(
  bytes: Uint8Array,
  ErrorClass: typeof RangeError | typeof TypeError,
  pattern: RegExp,
): void {
  assert.throws(() => loadSafetensors(bytes), (error: unknown) => {
    assert.ok(
      error instanceof Error && error.constructor === ErrorClass,
      `expected ${ErrorClass.name}, got ${error}`,
    );
    assert.match(error.message, /^loadSafetensors: /);
    assert.match(error.message, pattern);
    return true;
  });
}

/** A valid file with several dtypes, unaligned tensors and metadata, for fuzzing. */
function mixedFile(): Uint8Array {
  const data = new Uint8Array([
    ...[1, 0, 7], // U8 [3] at 0
    ...u16([0x3c00, 0xc000]), // F16 [2] at 3
    ...pack([-5n], 8, (d, o, x) => d.setBigInt64(o, x, true)), // I64 [1] at 7
    ...f32([1.5, -2, 0.25, 8]), // F32 [2, 2] at 15
  ]);
  const header = JSON.stringify({
    __metadata__: { format: "pt" },
    a: { dtype: "U8", shape: [3], data_offsets: [0, 3] },
    b: { dtype: "F16", shape: [2], data_offsets: [3, 7] },
    c: { dtype: "I64", shape: [1], data_offsets: [7, 15] },
    d: { dtype: "F32", shape: [2, 2], data_offsets: [15, 31] },
  });
  // An odd header length puts the data buffer itself at an odd file offset.
  return file(header.length % 2 === 1 ? header : `${header} `, data);
}

// ---------------------------------------------------------------------------

Deno.test("saveSafetensors() and loadSafetensors() round trip", async (t) => {
  await t.step("loadSafetensors() reads back saved values bit for bit", () => {
    const special = new Float32Array(12);
    special.set([-0, Infinity, -Infinity, 1e-45, -1e-45, 3.4028234663852886e38, 1, -2.5]);
    const bits = new Uint32Array(special.buffer);
    bits[8] = 0x7fc00000; // quiet NaN
    bits[9] = 0xffc00001; // negative NaN with a payload
    bits[10] = 0x007fffff; // largest subnormal
    bits[11] = 0x00800000; // smallest normal
    const x = new Tensor(special, [3, 4]);
    const loaded = loadSafetensors(saveSafetensors({ x }));
    assert.deepEqual(loaded.x.shape, [3, 4]);
    assert.deepEqual(bitsOf(loaded.x), [...bits]);
  });

  await t.step("loadSafetensors() keeps scalar, empty and odd names", () => {
    const tensors = Object.fromEntries([
      ["scalar", tensor(3)],
      ["empty", new Tensor(new Float32Array(0), [0, 3])],
      ["__proto__", tensor([1, 2])],
      ["10", tensor([10])],
      ["2", tensor([2])],
      ["ünïcødé.weight 😀", tensor([[1], [2]])],
    ]);
    const loaded = loadSafetensors(saveSafetensors(tensors));
    assert.deepEqual(Object.keys(loaded).sort(), Object.keys(tensors).sort());
    assert.equal(Object.getPrototypeOf(loaded), Object.prototype);
    for (const [name, t] of Object.entries(tensors)) {
      assert.ok(Object.hasOwn(loaded, name), name);
      assert.deepEqual(loaded[name].shape, t.shape, name);
      assert.deepEqual(loaded[name].toArray(), t.toArray(), name);
    }
  });

  await t.step("saveSafetensors() writes the reference layout", () => {
    const bytes = saveSafetensors(
      { b: tensor([1, 2, 3]), a: tensor([[4, 5]]), "10": tensor(6), "9": tensor(7) },
      { format: "pt" },
    );
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(text, /^\{.*\} *$/);
    // Keys in byte order, metadata first, offsets contiguous.
    assert.equal(
      text.trimEnd(),
      '{"__metadata__":{"format":"pt"},' +
        '"10":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
        '"9":{"dtype":"F32","shape":[],"data_offsets":[4,8]},' +
        '"a":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},' +
        '"b":{"dtype":"F32","shape":[3],"data_offsets":[16,28]}}',
    );
    assert.equal(bytes.length, 8 + n + 28);
    assert.equal(view.getFloat32(8 + n, true), 6);
    assert.equal(view.getFloat32(8 + n + 24, true), 3);
  });

  await t.step("saveSafetensors() writes an empty file for no tensors", () => {
    const bytes = saveSafetensors({});
    assert.deepEqual(loadSafetensors(bytes), {});
    assert.equal(bytes.length, 16); // "{}" padded to 8
  });

  await t.step("saveSafetensors() writes tensors that view part of a buffer", () => {
    const buffer = new Float32Array([9, 1, 2, 3, 9]);
    const x = new Tensor(buffer.subarray(1, 4), [3]);
    assert.deepEqual(loadSafetensors(saveSafetensors({ x })).x.toArray(), [1, 2, 3]);
  });

  await t.step("saveSafetensors() rejects bad input", () => {
    assert.throws(
      () => saveSafetensors({ x: [1, 2] } as never),
      /saveSafetensors: tensors\["x"\] must be a Tensor/,
    );
    assert.throws(() => saveSafetensors(null as never), TypeError);
    assert.throws(
      () => saveSafetensors(Object.fromEntries([["__metadata__", tensor([1])]])),
      (e: unknown) => e instanceof RangeError && /reserved/.test(e.message),
    );
    assert.throws(
      () => saveSafetensors({ x: tensor([1]) }, { epoch: 3 } as never),
      (e: unknown) =>
        e instanceof TypeError && /metadata\["epoch"\] must be a string/.test(e.message),
    );
  });
});

Deno.test("readSafetensorsMetadata()", async (t) => {
  await t.step("readSafetensorsMetadata() returns __metadata__", () => {
    const meta = { format: "pt", "0": "zero", note: "ünï" };
    assert.deepEqual(readSafetensorsMetadata(saveSafetensors({ x: tensor([1]) }, meta)), meta);
    assert.deepEqual(readSafetensorsMetadata(mixedFile()), { format: "pt" });
  });

  await t.step("readSafetensorsMetadata() returns {} without metadata", () => {
    assert.deepEqual(readSafetensorsMetadata(saveSafetensors({ x: tensor([1]) })), {});
    assert.deepEqual(readSafetensorsMetadata(file({ __metadata__: null })), {});
  });

  await t.step("readSafetensorsMetadata() validates the header like loadSafetensors()", () => {
    const bad = file({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4));
    assert.throws(() => readSafetensorsMetadata(bad), /^RangeError: readSafetensorsMetadata: /);
  });

  await t.step("loadSafetensors() ignores metadata", () => {
    assert.deepEqual(Object.keys(loadSafetensors(mixedFile())), ["a", "b", "c", "d"]);
  });
});

Deno.test("loadSafetensors() decodes every dtype", async (t) => {
  await t.step("loadSafetensors() decodes F32 and F64", () => {
    assert.deepEqual(loadSafetensors(single("F32", [2], f32([1.5, -3]))).x.toArray(), [1.5, -3]);
    const f64 = pack([0.1, -1e300, 1e-320, -0], 8, (d, o, x) => d.setFloat64(o, x, true));
    const x = loadSafetensors(single("F64", [2, 2], f64)).x;
    assert.deepEqual(x.toArray(), [[Math.fround(0.1), -Infinity], [0, -0]]);
    assert.ok(Object.is(x.data[3], -0));
  });

  await t.step("loadSafetensors() decodes F16 exactly", () => {
    const x = loadSafetensors(single(
      "F16",
      [9],
      u16([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00]),
    )).x;
    assert.deepEqual([...x.data], [
      1,
      -2,
      65504,
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      -0,
      Infinity,
      -Infinity,
    ]);
    assert.ok(Object.is(x.data[6], -0));
    assert.ok(Number.isNaN(loadSafetensors(single("F16", [1], u16([0x7e00]))).x.data[0]));
  });

  await t.step("loadSafetensors() decodes all 65536 F16 bit patterns like DataView", () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const x = loadSafetensors(single("F16", [65536], u16(all))).x;
    const view = new DataView(u16(all).buffer);
    for (const h of all) {
      const expected = view.getFloat16(2 * h, true);
      const actual = x.data[h];
      assert.ok(
        Number.isNaN(expected) ? Number.isNaN(actual) : Object.is(actual, expected),
        `0x${h.toString(16)}: got ${actual}, expected ${expected}`,
      );
    }
  });

  await t.step("loadSafetensors() decodes BF16 as the top half of float32", () => {
    const x = loadSafetensors(single(
      "BF16",
      [6],
      u16([0x3f80, 0xc040, 0x7f80, 0x0001, 0x8000, 0x7fc1]),
    )).x;
    assert.deepEqual(bitsOf(x), [
      0x3f800000,
      0xc0400000,
      0x7f800000,
      0x00010000,
      0x80000000,
      0x7fc10000,
    ]);
    assert.deepEqual([...x.data.subarray(0, 3)], [1, -3, Infinity]);
  });

  await t.step("loadSafetensors() decodes 8-, 16- and 32-bit integers", () => {
    const load = (
      dtype: string,
      data: Uint8Array,
      n: number,
    ) => [...loadSafetensors(single(dtype, [n], data)).x.data];
    assert.deepEqual(load("I8", new Uint8Array([0x80, 0x7f, 0xff]), 3), [-128, 127, -1]);
    assert.deepEqual(load("U8", new Uint8Array([0, 255]), 2), [0, 255]);
    assert.deepEqual(load("I16", u16([0x8000, 0x7fff, 0xffff]), 3), [-32768, 32767, -1]);
    assert.deepEqual(load("U16", u16([0xffff]), 1), [65535]);
    const i32 = pack([-(2 ** 31), 2 ** 24 + 1, -7], 4, (d, o, x) => d.setInt32(o, x, true));
    assert.deepEqual(load("I32", i32, 3), [-(2 ** 31), 2 ** 24, -7]); // 2^24+1 rounds to even
    const u32 = pack([2 ** 32 - 1, 3], 4, (d, o, x) => d.setUint32(o, x, true));
    assert.deepEqual(load("U32", u32, 2), [2 ** 32, 3]);
  });

  await t.step("loadSafetensors() decodes I64 and U64 beyond 2^53", () => {
    const i64 = pack(
      [
        -1n,
        -(2n ** 63n),
        2n ** 53n + 1n,
        2n ** 60n + 2n ** 36n + 1n,
        -(2n ** 60n + 2n ** 36n + 1n),
        5n,
      ],
      8,
      (d, o, x) => d.setBigInt64(o, x, true),
    );
    const x = loadSafetensors(single("I64", [6], i64)).x;
    // 2^60 + 2^36 + 1 lies just above a float32 midpoint: rounding through float64
    // would land on the midpoint and round to even (2^60); one rounding gives 2^60 + 2^37.
    assert.deepEqual([...x.data], [
      -1,
      -(2 ** 63),
      2 ** 53,
      2 ** 60 + 2 ** 37,
      -(2 ** 60 + 2 ** 37),
      5,
    ]);
    const u64 = pack([2n ** 64n - 1n, 2n ** 32n, 0n], 8, (d, o, x) => d.setBigUint64(o, x, true));
    assert.deepEqual([...loadSafetensors(single("U64", [3], u64)).x.data], [2 ** 64, 2 ** 32, 0]);
  });

  await t.step("loadSafetensors() decodes BOOL as 0/1", () => {
    const x = loadSafetensors(single("BOOL", [2, 2], new Uint8Array([0, 1, 1, 2]))).x;
    assert.deepEqual(x.toArray(), [[0, 1], [1, 1]]);
  });

  await t.step("loadSafetensors() reads unaligned tensors and unaligned input", () => {
    // The header length is odd and a 3-byte U8 tensor comes first, so F16, I64
    // and F32 sit at odd offsets of both the file and the data buffer.
    const bytes = mixedFile();
    assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 2, 1);
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    for (const input of [bytes, padded.subarray(1)]) {
      const t = loadSafetensors(input);
      assert.deepEqual(t.a.toArray(), [1, 0, 7]);
      assert.deepEqual(t.b.toArray(), [1, -2]);
      assert.deepEqual(t.c.toArray(), [-5]);
      assert.deepEqual(t.d.toArray(), [[1.5, -2], [0.25, 8]]);
    }
  });

  await t.step("loadSafetensors() accepts zero-size tensors sharing an offset", () => {
    const t = loadSafetensors(file({
      e1: { dtype: "F32", shape: [0], data_offsets: [0, 0] },
      e2: { dtype: "I64", shape: [2 ** 40, 0], data_offsets: [0, 0] },
      x: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
      e3: { dtype: "F16", shape: [0, 5], data_offsets: [1, 1] },
    }, new Uint8Array([4])));
    assert.deepEqual(t.e2.shape, [2 ** 40, 0]);
    assert.equal(t.e3.size, 0);
    assert.deepEqual(t.x.toArray(), [4]);
  });
});

Deno.test("loadSafetensors() rejects hostile files", async (t) => {
  const entry = (dtype: unknown, shape: unknown, offsets: unknown) => ({
    dtype,
    shape,
    data_offsets: offsets,
  });

  await t.step("loadSafetensors() rejects a file shorter than 8 bytes", () => {
    assertRejects(new Uint8Array(5), RangeError, /file is 5 bytes, shorter than the 8-byte/);
    assertRejects(new Uint8Array(0), RangeError, /file is 0 bytes/);
  });

  await t.step("loadSafetensors() rejects a header length past the end of the file", () => {
    const bytes = file("{}");
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    assertRejects(
      bytes,
      RangeError,
      /header length 1000 exceeds the 2 bytes after the length prefix/,
    );
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    assertRejects(bytes, RangeError, /header length 18446744073709551615 exceeds/);
  });

  await t.step("loadSafetensors() rejects a header above maxHeaderBytes before decoding it", () => {
    const ok = saveSafetensors({ x: tensor([1]) });
    assert.throws(
      () => loadSafetensors(ok, { maxHeaderBytes: 8 }),
      (e: unknown) => e instanceof RangeError && /exceeds maxHeaderBytes=8/.test(e.message),
    );
    // Invalid UTF-8 would be a TypeError, so a RangeError shows the cap came first.
    const junk = fileFromBytes(new Uint8Array(64).fill(0xff), new Uint8Array(0));
    assert.throws(() => loadSafetensors(junk, { maxHeaderBytes: 63 }), RangeError);
    assert.throws(() => loadSafetensors(junk), TypeError);
  });

  await t.step("loadSafetensors() rejects bad arguments", () => {
    assert.throws(
      () => loadSafetensors([1, 2, 3] as never),
      /^TypeError: loadSafetensors: bytes must be a Uint8Array/,
    );
    const ok = saveSafetensors({});
    assert.throws(
      () => loadSafetensors(ok, { maxHeaderBytes: -1 }),
      /RangeError.*options\.maxHeaderBytes/,
    );
    assert.throws(
      () => loadSafetensors(ok, { maxHeaderBytes: "9" } as never),
      /TypeError.*options\.maxHeaderBytes/,
    );
  });

  await t.step("loadSafetensors() rejects a header that is not UTF-8", () => {
    const bytes = fileFromBytes(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), new Uint8Array(0));
    assertRejects(bytes, TypeError, /header \(4 bytes\) is not valid UTF-8/);
    const bom = fileFromBytes(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), new Uint8Array(0));
    assertRejects(bom, TypeError, /not valid JSON/);
  });

  await t.step("loadSafetensors() rejects a header that is not a JSON object", () => {
    assertRejects(file('{"x": '), TypeError, /not valid JSON/);
    assertRejects(file(""), TypeError, /not valid JSON/);
    assertRejects(file("[]"), TypeError, /must be a JSON object, got array/);
    assertRejects(file("null"), TypeError, /must be a JSON object, got null/);
    assertRejects(file("42"), TypeError, /must be a JSON object, got number 42/);
  });

  await t.step("loadSafetensors() rejects entries missing fields or of the wrong type", () => {
    const data = new Uint8Array(4);
    assertRejects(file({ x: 3 }, data), TypeError, /tensor "x" must be an object with dtype/);
    assertRejects(file({ x: [] }, data), TypeError, /tensor "x" must be an object/);
    assertRejects(
      file({ x: { shape: [1], data_offsets: [0, 4] } }, data),
      TypeError,
      /tensor "x" must have a string dtype, got undefined/,
    );
    assertRejects(
      file({ x: entry(7, [1], [0, 4]) }, data),
      TypeError,
      /string dtype, got number 7/,
    );
    assertRejects(
      file({ x: { dtype: "F32", data_offsets: [0, 4] } }, data),
      TypeError,
      /tensor "x" must have a shape array/,
    );
    assertRejects(file({ x: entry("F32", ["1"], [0, 4]) }, data), TypeError, /non-number size/);
    assertRejects(
      file({ x: { dtype: "F32", shape: [1] } }, data),
      TypeError,
      /tensor "x" must have data_offsets \[begin, end\] of two numbers, got undefined/,
    );
    assertRejects(file({ x: entry("F32", [1], [0]) }, data), TypeError, /got \[0\]/);
    assertRejects(file({ x: entry("F32", [1], [0, "4"]) }, data), TypeError, /data_offsets/);
    assertRejects(file({ x: entry("F32", [1], { 0: 0, 1: 4 }) }, data), TypeError, /data_offsets/);
  });

  await t.step("loadSafetensors() rejects an unknown dtype", () => {
    assertRejects(
      file({ x: entry("F8_E4M3", [4], [0, 4]) }, new Uint8Array(4)),
      RangeError,
      /tensor "x" has unsupported dtype "F8_E4M3"; supported: .*BF16/,
    );
    assertRejects(file({ x: entry("f32", [1], [0, 4]) }, new Uint8Array(4)), RangeError, /"f32"/);
  });

  await t.step("loadSafetensors() rejects negative, fractional and unsafe sizes", () => {
    const data = new Uint8Array(4);
    assertRejects(
      file({ x: entry("F32", [-1], [0, 4]) }, data),
      RangeError,
      /shape \[-1\]; sizes must be/,
    );
    assertRejects(
      file({ x: entry("F32", [0.5, 2], [0, 4]) }, data),
      RangeError,
      /shape \[0\.5, 2\]/,
    );
    assertRejects(
      file({ x: entry("F32", [2 ** 53], [0, 4]) }, data),
      RangeError,
      /9007199254740992/,
    );
    assertRejects(
      file('{"x":{"dtype":"U8","shape":[1e400],"data_offsets":[0,4]}}', data),
      RangeError,
      /Infinity/,
    );
  });

  await t.step("loadSafetensors() rejects shapes with too many elements", () => {
    assertRejects(
      file({ x: entry("U8", [2 ** 31, 2 ** 31], [0, 4]) }, new Uint8Array(4)),
      RangeError,
      /tensor "x" has shape \[2147483648, 2147483648\] with more than 2\^31-1 elements/,
    );
    // Products far past 2^53 stay an error, not a rounded or infinite size.
    assertRejects(
      file(
        { x: entry("U8", [2 ** 40, 2 ** 40, 2 ** 40, 2 ** 40, 2 ** 40], [0, 4]) },
        new Uint8Array(4),
      ),
      RangeError,
      /more than 2\^31-1 elements/,
    );
  });

  await t.step("loadSafetensors() rejects bad data_offsets", () => {
    const data = new Uint8Array(8);
    assertRejects(
      file({ x: entry("F32", [1], [-4, 0]) }, data),
      RangeError,
      /tensor "x" has data_offsets \[-4, 0\]; offsets must be non-negative safe integers/,
    );
    assertRejects(file({ x: entry("F32", [1], [0, 4.5]) }, data), RangeError, /\[0, 4\.5\]/);
    assertRejects(
      file({ x: entry("F32", [1], [0, 2 ** 60]) }, data),
      RangeError,
      /non-negative safe/,
    );
    assertRejects(
      file({ x: entry("F32", [1], [8, 4]) }, data),
      RangeError,
      /data_offsets \[8, 4\] with begin after end/,
    );
    assertRejects(
      file({ x: entry("F32", [4], [0, 16]) }, data),
      RangeError,
      /data_offsets \[0, 16\] past the end of the 8-byte data buffer/,
    );
    assertRejects(
      file({ x: entry("F32", [3], [0, 8]) }, data),
      RangeError,
      /tensor "x" of dtype F32 and shape \[3\] needs 3 \* 4 = 12 bytes, but data_offsets \[0, 8\] span 8/,
    );
  });

  await t.step("loadSafetensors() rejects overlapping offsets", () => {
    assertRejects(
      file({ a: entry("F32", [2], [0, 8]), b: entry("F32", [2], [4, 12]) }, new Uint8Array(12)),
      RangeError,
      /tensors "a" \(data_offsets \[0, 8\]\) and "b" \(data_offsets \[4, 12\]\) overlap/,
    );
    assertRejects(
      file({ a: entry("F32", [2], [0, 8]), b: entry("U8", [8], [0, 8]) }, new Uint8Array(8)),
      RangeError,
      /overlap/,
    );
    assertRejects(
      file({ a: entry("F32", [2], [0, 8]), z: entry("F32", [0], [4, 4]) }, new Uint8Array(8)),
      RangeError,
      /"a" .* and "z" .* overlap/,
    );
  });

  await t.step("loadSafetensors() rejects gaps and trailing bytes", () => {
    assertRejects(
      file({ a: entry("F32", [1], [0, 4]), b: entry("F32", [1], [8, 12]) }, new Uint8Array(12)),
      RangeError,
      /bytes \[4, 8\) of the data buffer belong to no tensor \(gap before "b"\)/,
    );
    assertRejects(
      file({ a: entry("F32", [1], [4, 8]) }, new Uint8Array(8)),
      RangeError,
      /bytes \[0, 4\) .*gap before "a"/,
    );
    assertRejects(
      file({ a: entry("F32", [1], [0, 4]) }, new Uint8Array(6)),
      RangeError,
      /the data buffer has 6 bytes but the tensors cover only 4; 2 trailing bytes/,
    );
    assertRejects(file({}, new Uint8Array(1)), RangeError, /1 trailing bytes/);
  });

  await t.step("loadSafetensors() rejects __metadata__ that is not a map of strings", () => {
    assertRejects(
      file({ __metadata__: "pt" }),
      TypeError,
      /__metadata__ must be an object of strings/,
    );
    assertRejects(file({ __metadata__: ["pt"] }), TypeError, /got array/);
    assertRejects(
      file({ __metadata__: { epoch: 3 } }),
      TypeError,
      /__metadata__\["epoch"\] must be a string, got number 3/,
    );
  });

  await t.step("loadSafetensors() clips huge names in messages", () => {
    const name = "n".repeat(100_000);
    assert.throws(() => loadSafetensors(file({ [name]: 1 })), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.ok(e.message.length < 400, `message has ${e.message.length} characters`);
      return true;
    });
  });
});

Deno.test("loadSafetensors() fuzzing", async (t) => {
  /** Loads `bytes`; any error other than a RangeError/TypeError from the loader fails. */
  const loadOrReject = (bytes: Uint8Array): boolean => {
    try {
      const tensors = loadSafetensors(bytes);
      for (const x of Object.values(tensors)) assert.ok(x instanceof Tensor);
      return true;
    } catch (error) {
      assert.ok(
        error instanceof RangeError || error instanceof TypeError,
        `unexpected ${error}`,
      );
      assert.match(error.message, /^loadSafetensors: /);
      return false;
    }
  };
  const valid = mixedFile();

  await t.step("loadSafetensors() survives flipped and truncated bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.option(fc.nat({ max: valid.length }), { nil: undefined }),
        (edits, cut) => {
          const bytes = valid.slice(0, cut);
          for (const [i, v] of edits) if (i < bytes.length) bytes[i] = v;
          loadOrReject(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  await t.step("loadSafetensors() survives flipped header bits", () => {
    const n = Number(new DataView(valid.buffer).getBigUint64(0, true));
    fc.assert(
      fc.property(fc.nat({ max: 8 * (8 + n) - 1 }), (bit) => {
        const bytes = valid.slice();
        bytes[bit >> 3] ^= 1 << (bit & 7);
        loadOrReject(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  await t.step("loadSafetensors() survives arbitrary JSON headers", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.uint8Array({ maxLength: 64 }), (header, data) => {
        loadOrReject(file(JSON.stringify(header), data));
      }),
      { numRuns: 1000 },
    );
  });

  await t.step("loadSafetensors() survives random entries", () => {
    const dim = fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(0.5, 2 ** 53, 2 ** 31));
    const info = fc.record({
      dtype: fc.constantFrom("F32", "F16", "BF16", "I64", "U8", "BOOL", "F8_E5M2", 3),
      shape: fc.array(dim, { maxLength: 3 }),
      data_offsets: fc.tuple(fc.integer({ min: -1, max: 40 }), fc.integer({ min: -1, max: 40 })),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 3 }), info, { maxKeys: 4 }),
        fc.uint8Array({ maxLength: 40 }),
        (header, data) => {
          loadOrReject(file(header, data));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
