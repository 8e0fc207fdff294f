/**
 * bench/_onnx.ts, the benchmark's minimal ONNX writer: protobuf wire bytes
 * against hand-worked encodings (the varint and packed examples are those of the
 * protobuf encoding guide), a model read back field by field, and, when
 * onnxruntime-node can load (it needs --allow-ffi, which `deno task test` does
 * not grant), models run in onnxruntime against plain JS.
 */

import assert from "node:assert/strict";
import {
  bytesField,
  encodeAttribute,
  encodeTensor,
  encodeValueInfo,
  floatField,
  intField,
  key,
  matmulModel,
  packedIntsField,
  sdpaModel,
  stringField,
  varint,
} from "../bench/_onnx.ts";

const bytes = (x: Uint8Array) => [...x];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

Deno.test("varint: 7 bits a byte, low group first, negatives as 10 bytes", () => {
  assert.deepEqual(bytes(varint(0)), [0x00]);
  assert.deepEqual(bytes(varint(1)), [0x01]);
  assert.deepEqual(bytes(varint(127)), [0x7f]);
  assert.deepEqual(bytes(varint(128)), [0x80, 0x01]);
  assert.deepEqual(bytes(varint(150)), [0x96, 0x01]);
  assert.deepEqual(bytes(varint(300)), [0xac, 0x02]);
  assert.deepEqual(bytes(varint(2 ** 32)), [0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.deepEqual(bytes(varint(-1)), [...Array(9).fill(0xff), 0x01]);
  assert.deepEqual(bytes(varint(-2n)), [0xfe, ...Array(8).fill(0xff), 0x01]);
  assert.throws(() => varint(0.5), RangeError);
});

Deno.test("fields: key, varint, string, float, packed", () => {
  assert.deepEqual(bytes(key(1, 0)), [0x08]);
  assert.deepEqual(bytes(key(2, 2)), [0x12]);
  assert.deepEqual(bytes(key(20, 0)), [0xa0, 0x01]); // field 20 needs a two-byte key
  assert.deepEqual(bytes(intField(1, 150)), [0x08, 0x96, 0x01]);
  assert.deepEqual(bytes(stringField(2, "testing")), [0x12, 0x07, ...ascii("testing")]);
  assert.deepEqual(bytes(floatField(2, 1)), [0x15, 0x00, 0x00, 0x80, 0x3f]);
  assert.deepEqual(bytes(floatField(2, -2)), [0x15, 0x00, 0x00, 0x00, 0xc0]);
  assert.deepEqual(
    bytes(packedIntsField(4, [3, 270, 86942])),
    [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05],
  );
  assert.deepEqual(bytes(bytesField(3, new Uint8Array(0))), [0x1a, 0x00]);
});

Deno.test("ONNX messages: attribute, tensor, value info", () => {
  // AttributeProto: name = 1, type = 20 (INT = 2), i = 3
  assert.deepEqual(
    bytes(encodeAttribute({ name: "axis", int: -1 })),
    [0x0a, 0x04, ...ascii("axis"), 0xa0, 0x01, 0x02, 0x18, ...Array(9).fill(0xff), 0x01],
  );
  // INTS = 7, ints = 8 (packed)
  assert.deepEqual(
    bytes(encodeAttribute({ name: "perm", ints: [1, 0] })),
    [0x0a, 0x04, ...ascii("perm"), 0xa0, 0x01, 0x07, 0x42, 0x02, 0x01, 0x00],
  );
  // FLOAT = 1, f = 2
  assert.deepEqual(
    bytes(encodeAttribute({ name: "e", float: 0.5 })),
    [0x0a, 0x01, ...ascii("e"), 0xa0, 0x01, 0x01, 0x15, 0x00, 0x00, 0x00, 0x3f],
  );
  // TensorProto: dims = 1 (packed), data_type = 2, name = 8, raw_data = 9 (little-endian)
  assert.deepEqual(
    bytes(encodeTensor({ name: "w", dims: [2], data: new Float32Array([1, -2]) })),
    [
      0x0a,
      0x01,
      0x02,
      0x10,
      0x01,
      0x42,
      0x01,
      ...ascii("w"),
      0x4a,
      0x08,
      0,
      0,
      0x80,
      0x3f,
      0,
      0,
      0,
      0xc0,
    ],
  );
  assert.deepEqual(
    bytes(encodeTensor({ name: "s", dims: [1], data: new BigInt64Array([258n]) })),
    [
      0x0a,
      0x01,
      0x01,
      0x10,
      0x07,
      0x42,
      0x01,
      ...ascii("s"),
      0x4a,
      0x08,
      0x02,
      0x01,
      0,
      0,
      0,
      0,
      0,
      0,
    ],
  );
  assert.throws(
    () => encodeTensor({ name: "w", dims: [3], data: new Float32Array(2) }),
    RangeError,
  );
  // ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type: 1, shape: {dim: [2, 3]}}}}
  const shape = [0x0a, 0x02, 0x08, 0x02, 0x0a, 0x02, 0x08, 0x03];
  const tensorType = [0x08, 0x01, 0x12, shape.length, ...shape];
  assert.deepEqual(
    bytes(encodeValueInfo({ name: "x", dims: [2, 3] })),
    [
      0x0a,
      0x01,
      ...ascii("x"),
      0x12,
      tensorType.length + 2,
      0x0a,
      tensorType.length,
      ...tensorType,
    ],
  );
});

/** Reads a message's fields: [field number, varint value or length-delimited bytes]. */
function readFields(buf: Uint8Array): [number, bigint | Uint8Array][] {
  const fields: [number, bigint | Uint8Array][] = [];
  let at = 0;
  const readVarint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      const b = buf[at++];
      assert.ok(b !== undefined, "truncated varint");
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) return v;
    }
  };
  while (at < buf.length) {
    const k = Number(readVarint());
    const wire = k & 7;
    if (wire === 0) fields.push([k >> 3, readVarint()]);
    else if (wire === 2) {
      const len = Number(readVarint());
      assert.ok(at + len <= buf.length, "length past the end");
      fields.push([k >> 3, buf.subarray(at, at + len)]);
      at += len;
    } else if (wire === 5) {
      fields.push([k >> 3, buf.subarray(at, at + 4)]);
      at += 4;
    } else assert.fail(`unexpected wire type ${wire}`);
  }
  return fields;
}

Deno.test("a matmul model reads back: ir_version, producer, graph, opset", () => {
  const model = readFields(matmulModel(2, 3, 4));
  assert.deepEqual(model.map(([f]) => f), [1, 2, 7, 8]);
  assert.equal(model[0][1], 8n); // ir_version
  assert.equal(new TextDecoder().decode(model[1][1] as Uint8Array), "attention-lab bench");
  const opset = readFields(model[3][1] as Uint8Array);
  assert.deepEqual(opset.map(([f]) => f), [1, 2]);
  assert.equal((opset[0][1] as Uint8Array).length, 0); // domain "" (the ONNX domain)
  assert.equal(opset[1][1], 17n);
  const graph = readFields(model[2][1] as Uint8Array);
  assert.deepEqual(graph.map(([f]) => f), [1, 2, 11, 11, 12]); // node, name, 2 inputs, output
  const node = readFields(graph[0][1] as Uint8Array);
  const text = (x: bigint | Uint8Array) => new TextDecoder().decode(x as Uint8Array);
  assert.deepEqual(node.map(([f, v]) => [f, text(v)]), [
    [1, "a"],
    [1, "b"],
    [2, "c"],
    [3, "c"],
    [4, "MatMul"],
  ]);
});

let ort: typeof import("onnxruntime-node") | undefined;
try {
  ort = await import("onnxruntime-node");
} catch {
  // no --allow-ffi (as in `deno task test`) or no binary for this platform
}

Deno.test({
  name: "onnxruntime-node runs the matmul and SDPA models (needs --allow-ffi)",
  ignore: ort === undefined,
  async fn() {
    const rt = ort!;
    const t = (data: Float32Array, dims: number[]) => new rt.Tensor("float32", data, dims);
    const mm = await rt.InferenceSession.create(matmulModel(2, 3, 2));
    const c = await mm.run({
      a: t(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
      b: t(new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]),
    });
    assert.deepEqual(c.c.dims, [2, 2]);
    assert.deepEqual([...(c.c.data as Float32Array)], [4, 5, 10, 11]);
    await mm.release();

    // SDPA on n = 3, d = 4 against plain JS, causal: row i attends to keys 0..i
    const n = 3, d = 4;
    const q = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i));
    const k = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i));
    const v = Float32Array.from({ length: n * d }, (_, i) => i / 7);
    const bias = Float32Array.from(
      { length: n * n },
      (_, i) => (i % n <= Math.floor(i / n) ? 0 : -1e30),
    );
    const s = await rt.InferenceSession.create(sdpaModel(n, d, bias));
    const got = (await s.run({ q: t(q, [n, d]), k: t(k, [n, d]), v: t(v, [n, d]) })).out
      .data as Float32Array;
    await s.release();
    for (let i = 0; i < n; i++) {
      const w = Array.from({ length: i + 1 }, (_, j) => {
        let dot = 0;
        for (let p = 0; p < d; p++) dot += q[i * d + p] * k[j * d + p];
        return Math.exp(dot / Math.sqrt(d));
      });
      const sum = w.reduce((a, b) => a + b, 0);
      for (let p = 0; p < d; p++) {
        const want = w.reduce((acc, wj, j) => acc + (wj / sum) * v[j * d + p], 0);
        assert.ok(
          Math.abs(got[i * d + p] - want) < 1e-5,
          `out[${i}][${p}] ${got[i * d + p]} vs ${want}`,
        );
      }
    }
  },
});
