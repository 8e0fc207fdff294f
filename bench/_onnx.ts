/**
 * A minimal ONNX writer for the benchmark: just enough protobuf to hand
 * onnxruntime-node the graphs of bench/attention_bench.ts as model bytes.
 *
 * Written from the field numbers in onnx/onnx.proto (proto2, IR version 8);
 * only the fields used here are encoded. Protobuf wire format in brief: every
 * field is a key `(field_number << 3) | wire_type` as a varint, then its value:
 * wire type 0 = varint (int32/int64/enum; negative numbers as 10-byte two's
 * complement), 2 = length-delimited (varint byte length, then the bytes:
 * strings, bytes, embedded messages, packed repeated scalars), 5 = 32-bit
 * little-endian (float).
 *
 * @module
 */

// ---------------------------------------------------------------------------
// Protobuf wire format
// ---------------------------------------------------------------------------

/** Wire type 0: varint. */
const VARINT = 0;
/** Wire type 2: length-delimited. */
const LEN = 2;
/** Wire type 5: fixed 32-bit little-endian. */
const I32 = 5;

/**
 * Base-128 varint: 7 bits per byte, least significant group first, high bit set
 * on every byte but the last. Negative numbers are taken as 64-bit two's
 * complement (how protobuf encodes a negative int32/int64: always 10 bytes).
 */
export function varint(value: number | bigint): Uint8Array {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`varint: ${value} is not a safe integer`);
  }
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return new Uint8Array(out);
}

/** Joins byte arrays into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A field's key: `(field << 3) | wireType`, as a varint. */
export function key(field: number, wireType: number): Uint8Array {
  return varint((field << 3) | wireType);
}

/** An integer field (int32, int64, enum): key, then the value as a varint. */
export function intField(field: number, value: number | bigint): Uint8Array {
  return concat([key(field, VARINT), varint(value)]);
}

/** A length-delimited field (bytes, embedded message, packed scalars). */
export function bytesField(field: number, bytes: Uint8Array): Uint8Array {
  return concat([key(field, LEN), varint(bytes.length), bytes]);
}

/** A string field: UTF-8 bytes, length-delimited. */
export function stringField(field: number, text: string): Uint8Array {
  return bytesField(field, new TextEncoder().encode(text));
}

/** A float field: fixed 32-bit little-endian IEEE 754. */
export function floatField(field: number, value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return concat([key(field, I32), bytes]);
}

/** A packed repeated int64 field: the varints back to back, as one length-delimited field. */
export function packedIntsField(field: number, values: readonly number[]): Uint8Array {
  return bytesField(field, concat(values.map((v) => varint(v))));
}

// ---------------------------------------------------------------------------
// ONNX messages (field numbers from onnx/onnx.proto)
// ---------------------------------------------------------------------------

/** TensorProto.DataType values used here. */
export const FLOAT = 1;
/** TensorProto.DataType INT64 (shape operands of Reshape). */
export const INT64 = 7;

/** A node attribute: an int, a float or a list of ints. */
export type Attribute =
  | { name: string; int: number }
  | { name: string; float: number }
  | { name: string; ints: readonly number[] };

/** A graph node: `outputs = opType(inputs)` in the default ("") domain. */
export interface Node {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: readonly Attribute[];
}

/** A constant tensor (initializer): float32 or int64 data in row-major order. */
export interface Initializer {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

/** A float32 graph input or output with a fixed shape. */
export interface ValueInfo {
  name: string;
  dims: readonly number[];
}

/** A graph: nodes in topological order, constants, inputs and outputs. */
export interface Graph {
  name: string;
  nodes: readonly Node[];
  initializers: readonly Initializer[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

/**
 * AttributeProto:
 *   1 name (string), 20 type (enum AttributeType: FLOAT = 1, INT = 2, INTS = 7),
 *   2 f (float), 3 i (int64), 8 ints (repeated int64).
 * `ints` is written packed (protobuf parsers accept packed and unpacked alike).
 */
export function encodeAttribute(a: Attribute): Uint8Array {
  const name = stringField(1, a.name);
  if ("int" in a) return concat([name, intField(20, 2), intField(3, a.int)]);
  if ("float" in a) return concat([name, intField(20, 1), floatField(2, a.float)]);
  return concat([name, intField(20, 7), packedIntsField(8, a.ints)]);
}

/**
 * NodeProto:
 *   1 input (repeated string), 2 output (repeated string), 3 name (string),
 *   4 op_type (string), 5 attribute (repeated AttributeProto), 7 domain (absent: "").
 */
export function encodeNode(n: Node): Uint8Array {
  return concat([
    ...n.inputs.map((s) => stringField(1, s)),
    ...n.outputs.map((s) => stringField(2, s)),
    ...(n.name ? [stringField(3, n.name)] : []),
    stringField(4, n.opType),
    ...(n.attributes ?? []).map((a) => bytesField(5, encodeAttribute(a))),
  ]);
}

/**
 * TensorProto:
 *   1 dims (repeated int64), 2 data_type (int32: FLOAT = 1, INT64 = 7),
 *   8 name (string), 9 raw_data (bytes: the elements fixed-width little-endian).
 */
export function encodeTensor(t: Initializer): Uint8Array {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) {
    throw new RangeError(`${t.name}: ${t.data.length} elements for dims [${t.dims}]`);
  }
  const raw = new Uint8Array(t.data.byteLength);
  const view = new DataView(raw.buffer);
  if (t.data instanceof Float32Array) {
    t.data.forEach((x, i) => view.setFloat32(4 * i, x, true));
  } else {
    t.data.forEach((x, i) => view.setBigInt64(8 * i, x, true));
  }
  return concat([
    packedIntsField(1, t.dims),
    intField(2, t.data instanceof Float32Array ? FLOAT : INT64),
    stringField(8, t.name),
    bytesField(9, raw),
  ]);
}

/**
 * ValueInfoProto: 1 name (string), 2 type (TypeProto).
 * TypeProto: 1 tensor_type (TypeProto.Tensor).
 * TypeProto.Tensor: 1 elem_type (int32, FLOAT = 1), 2 shape (TensorShapeProto).
 * TensorShapeProto: 1 dim (repeated Dimension).
 * TensorShapeProto.Dimension: 1 dim_value (int64).
 */
export function encodeValueInfo(v: ValueInfo): Uint8Array {
  const shape = concat(v.dims.map((d) => bytesField(1, intField(1, d))));
  const tensorType = concat([intField(1, FLOAT), bytesField(2, shape)]);
  return concat([stringField(1, v.name), bytesField(2, bytesField(1, tensorType))]);
}

/**
 * GraphProto:
 *   1 node (repeated NodeProto), 2 name (string), 5 initializer (repeated TensorProto),
 *   11 input (repeated ValueInfoProto), 12 output (repeated ValueInfoProto).
 * Initializers are not listed among the inputs (allowed since IR version 4), so
 * the runtime may fold them as constants.
 */
export function encodeGraph(g: Graph): Uint8Array {
  return concat([
    ...g.nodes.map((n) => bytesField(1, encodeNode(n))),
    stringField(2, g.name),
    ...g.initializers.map((t) => bytesField(5, encodeTensor(t))),
    ...g.inputs.map((v) => bytesField(11, encodeValueInfo(v))),
    ...g.outputs.map((v) => bytesField(12, encodeValueInfo(v))),
  ]);
}

/** ONNX IR version written (8: ONNX 1.10+, read by onnxruntime ≥ 1.10). */
export const IR_VERSION = 8;
/** Default-domain opset (17 is the first with LayerNormalization). */
export const OPSET = 17;

/**
 * ModelProto:
 *   1 ir_version (int64), 2 producer_name (string), 7 graph (GraphProto),
 *   8 opset_import (repeated OperatorSetIdProto).
 * OperatorSetIdProto: 1 domain (string; "" = the default ONNX domain), 2 version (int64).
 */
export function encodeModel(g: Graph): Uint8Array {
  const opset = concat([stringField(1, ""), intField(2, OPSET)]);
  return concat([
    intField(1, IR_VERSION),
    stringField(2, "attention-lab bench"),
    bytesField(7, encodeGraph(g)),
    bytesField(8, opset),
  ]);
}

// ---------------------------------------------------------------------------
// The benchmark's graphs
// ---------------------------------------------------------------------------

const node = (
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes?: Attribute[],
): Node => ({ opType, inputs, outputs, name: outputs[0], attributes });
const scalar = (name: string, x: number): Initializer => ({
  name,
  dims: [],
  data: new Float32Array([x]),
});
const shape = (name: string, dims: number[]): Initializer => ({
  name,
  dims: [dims.length],
  data: new BigInt64Array(dims.map(BigInt)),
});

/** `c = a · b` on [m, k] · [k, n]: inputs "a", "b", output "c". */
export function matmulModel(m: number, k: number, n: number): Uint8Array {
  return encodeModel({
    name: "matmul",
    nodes: [node("MatMul", ["a", "b"], ["c"])],
    initializers: [],
    inputs: [{ name: "a", dims: [m, k] }, { name: "b", dims: [k, n] }],
    outputs: [{ name: "c", dims: [m, n] }],
  });
}

/**
 * Scaled dot-product attention on one head:
 * `out = softmax(Q·Kᵀ / √d + bias) · V`, inputs "q", "k" and "v" [n, d],
 * output "out" [n, d].
 *
 * K is given as is, [n, d], and transposed by a Transpose node. Measured with
 * onnxruntime-node 1.30 on this machine, feeding Kᵀ [d, n] made up front (the
 * tfjs peers' fastest formulation) was no faster (n = 512: 0.63 against
 * 0.59 ms; n = 2048: ~10.2 ms both) and gave bit-identical outputs: ORT's
 * optimizer folds the Transpose and the scale (a Mul by a scalar constant)
 * into one FusedMatMul (transB, alpha). `causalBias`, if given, is an
 * [n, n] constant added to the scores (0 where allowed, -1e30 where masked:
 * the tfjs peers' bias; finite, so a row never becomes NaN).
 */
export function sdpaModel(n: number, d: number, causalBias?: Float32Array): Uint8Array {
  const nodes = [
    node("Transpose", ["k"], ["kT"], [{ name: "perm", ints: [1, 0] }]),
    node("MatMul", ["q", "kT"], ["qk"]),
    node("Mul", ["qk", "scale"], ["scores"]),
  ];
  const initializers = [scalar("scale", 1 / Math.sqrt(d))];
  let scores = "scores";
  if (causalBias) {
    nodes.push(node("Add", ["scores", "bias"], ["masked"]));
    initializers.push({ name: "bias", dims: [n, n], data: causalBias });
    scores = "masked";
  }
  nodes.push(
    node("Softmax", [scores], ["weights"], [{ name: "axis", int: -1 }]),
    node("MatMul", ["weights", "v"], ["out"]),
  );
  return encodeModel({
    name: "sdpa",
    nodes,
    initializers,
    inputs: ["q", "k", "v"].map((name) => ({ name, dims: [n, d] })),
    outputs: [{ name: "out", dims: [n, d] }],
  });
}

/** Multi-head attention weights in the x·W convention: each [e, e], row-major. */
export interface MhaWeights {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
}

/**
 * Nodes and constants of multi-head self-attention on x [n, e] with h heads
 * (d = e / h), the same computation as the tfjs peer `tfMha`:
 * Q = x·Wq / √d, K = x·Wk, V = x·Wv, each reshaped to [n, h, d] and transposed
 * to heads first (Q, V: [h, n, d]; K straight to [h, d, n]), one batched MatMul
 * for the scores [h, n, n], Softmax over the last axis, a batched MatMul with V,
 * transposed back to [n, h, d], reshaped to [n, e], then ·Wo. ORT's optimizer
 * folds the head transposes and the scale into FusedMatMul nodes (checked by
 * saving the optimized model). Reads `input`, writes `output`; names are
 * prefixed with `p`.
 */
function mhaNodes(
  p: string,
  input: string,
  output: string,
  w: MhaWeights,
  n: number,
  e: number,
  h: number,
): { nodes: Node[]; initializers: Initializer[] } {
  const d = e / h;
  const t = (s: string) => `${p}${s}`;
  return {
    nodes: [
      node("MatMul", [input, t("wq")], [t("q0")]),
      node("Mul", [t("q0"), t("scale")], [t("q1")]),
      node("Reshape", [t("q1"), t("heads")], [t("q2")]),
      node("Transpose", [t("q2")], [t("q")], [{ name: "perm", ints: [1, 0, 2] }]), // [h, n, d]
      node("MatMul", [input, t("wk")], [t("k0")]),
      node("Reshape", [t("k0"), t("heads")], [t("k1")]),
      node("Transpose", [t("k1")], [t("kT")], [{ name: "perm", ints: [1, 2, 0] }]), // [h, d, n]
      node("MatMul", [input, t("wv")], [t("v0")]),
      node("Reshape", [t("v0"), t("heads")], [t("v1")]),
      node("Transpose", [t("v1")], [t("v")], [{ name: "perm", ints: [1, 0, 2] }]), // [h, n, d]
      node("MatMul", [t("q"), t("kT")], [t("s")]), // [h, n, n]
      node("Softmax", [t("s")], [t("p")], [{ name: "axis", int: -1 }]),
      node("MatMul", [t("p"), t("v")], [t("o0")]), // [h, n, d]
      node("Transpose", [t("o0")], [t("o1")], [{ name: "perm", ints: [1, 0, 2] }]), // [n, h, d]
      node("Reshape", [t("o1"), t("flat")], [t("o2")]), // [n, e]
      node("MatMul", [t("o2"), t("wo")], [output]),
    ],
    initializers: [
      { name: t("wq"), dims: [e, e], data: w.q },
      { name: t("wk"), dims: [e, e], data: w.k },
      { name: t("wv"), dims: [e, e], data: w.v },
      { name: t("wo"), dims: [e, e], data: w.o },
      scalar(t("scale"), 1 / Math.sqrt(d)),
      shape(t("heads"), [n, h, d]),
      shape(t("flat"), [n, e]),
    ],
  };
}

/** Multi-head self-attention (see `mhaNodes`): input "x" [n, e], output "y" [n, e]. */
export function mhaModel(w: MhaWeights, n: number, e: number, h: number): Uint8Array {
  const { nodes, initializers } = mhaNodes("", "x", "y", w, n, e, h);
  return encodeModel({
    name: "mha",
    nodes,
    initializers,
    inputs: [{ name: "x", dims: [n, e] }],
    outputs: [{ name: "y", dims: [n, e] }],
  });
}

/**
 * One post-norm encoder layer, the tfjs peer's structure:
 * a = LayerNorm(x + MHA(x)); y = LayerNorm(a + ReLU(a·F1)·F2), LayerNormalization
 * over the last axis with epsilon 1e-5, scale ones and bias zeros, no biases on
 * the products. f1 is [e, f], f2 [f, e]. Input "x" [n, e], output "y" [n, e].
 */
export function encoderLayerModel(
  w: MhaWeights & { f1: Float32Array; f2: Float32Array },
  n: number,
  e: number,
  h: number,
  f: number,
): Uint8Array {
  const mha = mhaNodes("mha_", "x", "attn", w, n, e, h);
  const norm = [{ name: "axis", int: -1 }, { name: "epsilon", float: 1e-5 }];
  return encodeModel({
    name: "encoder_layer",
    nodes: [
      ...mha.nodes,
      node("Add", ["x", "attn"], ["res1"]),
      node("LayerNormalization", ["res1", "ln_scale", "ln_bias"], ["a"], norm),
      node("MatMul", ["a", "f1"], ["h0"]),
      node("Relu", ["h0"], ["h1"]),
      node("MatMul", ["h1", "f2"], ["ff"]),
      node("Add", ["a", "ff"], ["res2"]),
      node("LayerNormalization", ["res2", "ln_scale", "ln_bias"], ["y"], norm),
    ],
    initializers: [
      ...mha.initializers,
      { name: "f1", dims: [e, f], data: w.f1 },
      { name: "f2", dims: [f, e], data: w.f2 },
      { name: "ln_scale", dims: [e], data: new Float32Array(e).fill(1) },
      { name: "ln_bias", dims: [e], data: new Float32Array(e) },
    ],
    inputs: [{ name: "x", dims: [n, e] }],
    outputs: [{ name: "y", dims: [n, e] }],
  });
}
