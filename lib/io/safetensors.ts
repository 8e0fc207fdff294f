/**
 * Reading and writing the safetensors format, the checkpoint format of
 * Hugging Face models, entirely in memory (the caller reads or writes the file).
 *
 * A file is laid out as:
 *
 * 1. an 8-byte little-endian unsigned integer `N`, the header length;
 * 2. `N` bytes of UTF-8 JSON: `{ name: { dtype, shape, data_offsets: [begin, end] } }`,
 *    plus an optional `"__metadata__"` map of strings to strings;
 * 3. the data buffer; `data_offsets` are byte offsets into it, tensors are
 *    row-major and little-endian, and together they cover it without holes.
 *
 * {@link loadSafetensors} returns the tensors and {@link readSafetensorsMetadata}
 * returns `__metadata__`; both validate the whole header, so a file that one
 * accepts the other accepts too. {@link saveSafetensors} writes float32.
 *
 * @module
 */

import { formatShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/** The dtypes {@link loadSafetensors} reads; each is converted to float32 values. */
export type SafetensorsDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "U64"
  | "I32"
  | "U32"
  | "I16"
  | "U16"
  | "I8"
  | "U8"
  | "BOOL";

/** Options for {@link loadSafetensors} and {@link readSafetensorsMetadata}. */
export interface LoadSafetensorsOptions {
  /**
   * Largest header, in bytes, that will be decoded; default 100,000,000, the
   * limit of the reference implementation. Checked before anything is decoded.
   */
  maxHeaderBytes?: number;
}

/** Bytes per element of each dtype. */
const _DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** The most elements a {@link Tensor} may hold (see `checkShape`). */
const _MAX_ELEMENTS = 2 ** 31 - 1;
const _DEFAULT_MAX_HEADER_BYTES = 100_000_000;
const _METADATA_KEY = "__metadata__";
const _LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** One validated header entry. */
interface _Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets into the data buffer. */
  begin: number;
  end: number;
  count: number;
}

/** A validated header. */
interface _Header {
  entries: _Entry[];
  metadata: Record<string, string>;
  /** Offset of the data buffer in the file. */
  dataStart: number;
}

/**
 * Loads every tensor of a safetensors file. All dtypes are converted to
 * float32 values: F16 and BF16 exactly, F64 and integers wider than 24 bits
 * rounded to nearest (I64/U64 beyond 2^53 too), BOOL as 0/1 (any non-zero
 * byte is 1). F32 bits, NaN payloads included, are kept as they are.
 *
 * The header is validated in full before any tensor is allocated, and the
 * tensors allocate at most 4 bytes per byte of the file, so a hostile file
 * fails with a clear error instead of exhausting memory. Use
 * {@link readSafetensorsMetadata} for the `__metadata__` map.
 *
 * @param bytes The whole file.
 * @param options `maxHeaderBytes`, the largest header accepted.
 * @returns The tensors by name, in name order.
 * @throws {RangeError} A file shorter than 8 bytes; a header length past the end of
 *   the file or above `maxHeaderBytes`; an unsupported dtype; a shape with a negative,
 *   fractional or unsafe size or more than 2^31-1 elements; `data_offsets` out of
 *   order, past the buffer, of the wrong byte size, overlapping, or leaving gaps or
 *   trailing bytes.
 * @throws {TypeError} `bytes` not a Uint8Array; a header that is not UTF-8 JSON
 *   holding an object; an entry or field of the wrong type; a `__metadata__` that
 *   is not a map of strings to strings.
 *
 * @example Save and load a tensor
 * ```ts
 * import { loadSafetensors, saveSafetensors } from "./safetensors.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = saveSafetensors({ "proj.weight": tensor([[1, 2], [3, 4]]) });
 * const loaded = loadSafetensors(bytes);
 * assert.deepEqual(loaded["proj.weight"].toArray(), [[1, 2], [3, 4]]);
 * ```
 *
 * @example A truncated file is rejected
 * ```ts
 * import { loadSafetensors, saveSafetensors } from "./safetensors.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = saveSafetensors({ x: tensor([1, 2, 3]) });
 * assert.throws(() => loadSafetensors(bytes.subarray(0, bytes.length - 4)), RangeError);
 * ```
 */
export function loadSafetensors(
  bytes: Uint8Array,
  options: LoadSafetensorsOptions = {},
): Record<string, Tensor> {
  const header = _parseHeader(bytes, options, "loadSafetensors");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const byName = [...header.entries].sort((a, b) => _compareCodePoints(a.name, b.name));
  // Object.fromEntries defines own properties, so a tensor named "__proto__" stays a tensor.
  return Object.fromEntries(
    byName.map((e) => [
      e.name,
      new Tensor(_decode(bytes, view, header.dataStart + e.begin, e.count, e.dtype), e.shape),
    ]),
  );
}

/**
 * Reads the `__metadata__` map of a safetensors file (an empty object when the
 * file has none) without decoding any tensor. The header is validated exactly as
 * {@link loadSafetensors} validates it.
 *
 * @param bytes The whole file (or at least its length prefix and header).
 * @param options `maxHeaderBytes`, the largest header accepted.
 * @returns The metadata, keys in name order.
 * @throws {RangeError} As {@link loadSafetensors}, with messages starting `readSafetensorsMetadata:`.
 * @throws {TypeError} As {@link loadSafetensors}.
 *
 * @example Metadata survives a round trip
 * ```ts
 * import { readSafetensorsMetadata, saveSafetensors } from "./safetensors.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = saveSafetensors({ x: tensor([1]) }, { format: "pt" });
 * assert.deepEqual(readSafetensorsMetadata(bytes), { format: "pt" });
 * ```
 */
export function readSafetensorsMetadata(
  bytes: Uint8Array,
  options: LoadSafetensorsOptions = {},
): Record<string, string> {
  return _parseHeader(bytes, options, "readSafetensorsMetadata").metadata;
}

/**
 * Serialises tensors to safetensors bytes as F32, the way the reference
 * implementation lays them out: names sorted, `__metadata__` first in the
 * header, the header padded with spaces to a multiple of 8 bytes so every
 * tensor starts 8-byte aligned in the file. Float bits (-0, NaN payloads,
 * subnormals) are written unchanged.
 *
 * @param tensors Tensors by name; `"__metadata__"` is reserved.
 * @param metadata Strings to store under `__metadata__` (written when given).
 * @returns The file's bytes.
 * @throws {TypeError} `tensors` not an object of Tensors, or `metadata` not a map of strings.
 * @throws {RangeError} A tensor named `"__metadata__"`.
 *
 * @example The header is padded to a multiple of 8 bytes
 * ```ts
 * import { saveSafetensors } from "./safetensors.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = saveSafetensors({ bias: tensor([0.5, -0.5]) });
 * const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
 * assert.equal(headerLength % 8, 0);
 * assert.equal(bytes.length, 8 + headerLength + 2 * 4);
 * ```
 */
export function saveSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (!_isObject(tensors)) {
    throw new TypeError(
      `saveSafetensors: tensors must be an object of Tensors by name, got ${_describe(tensors)}`,
    );
  }
  const names = Object.keys(tensors).sort(_compareCodePoints);
  for (const name of names) {
    if (name === _METADATA_KEY) {
      throw new RangeError(
        `saveSafetensors: "${_METADATA_KEY}" is reserved for metadata and cannot name a tensor`,
      );
    }
    if (!(tensors[name] instanceof Tensor)) {
      throw new TypeError(
        `saveSafetensors: tensors[${_quote(name)}] must be a Tensor, got ${
          _describe(tensors[name])
        }`,
      );
    }
  }

  // 1) Header JSON, written by hand: JSON.stringify would move integer-like keys first.
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!_isObject(metadata)) {
      throw new TypeError(
        `saveSafetensors: metadata must be an object of strings, got ${_describe(metadata)}`,
      );
    }
    const keys = Object.keys(metadata).sort(_compareCodePoints);
    for (const k of keys) {
      if (typeof metadata[k] !== "string") {
        throw new TypeError(
          `saveSafetensors: metadata[${_quote(k)}] must be a string, got ${_describe(metadata[k])}`,
        );
      }
    }
    const body = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
    parts.push(`"${_METADATA_KEY}":{${body.join(",")}}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const end = offset + 4 * t.size;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"F32","shape":${
        JSON.stringify(t.shape)
      },"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = json.length + (8 - json.length % 8) % 8;

  // 2) Length prefix, header padded with spaces, data.
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let p = 8 + headerLength;
  for (const name of names) {
    const data = tensors[name].data;
    if (_LITTLE_ENDIAN) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), p);
    } else {
      const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
      for (let i = 0; i < bits.length; i++) view.setUint32(p + 4 * i, bits[i], true);
    }
    p += data.byteLength;
  }
  return out;
}

/** Validates the length prefix and the whole header; allocates nothing for tensors. */
function _parseHeader(bytes: Uint8Array, options: LoadSafetensorsOptions, fn: string): _Header {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${fn}: bytes must be a Uint8Array, got ${_describe(bytes)}`);
  }
  const maxHeaderBytes = _checkOptions(options, fn);

  // 1) Length prefix: checked against the file and the cap before decoding anything.
  if (bytes.length < 8) {
    throw new RangeError(
      `${fn}: file is ${bytes.length} bytes, shorter than the 8-byte header length prefix`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    throw new RangeError(
      `${fn}: header length ${declared} exceeds the ${
        bytes.length - 8
      } bytes after the length prefix (file is ${bytes.length} bytes)`,
    );
  }
  if (declared > BigInt(maxHeaderBytes)) {
    throw new RangeError(
      `${fn}: header length ${declared} exceeds maxHeaderBytes=${maxHeaderBytes}`,
    );
  }
  const headerLength = Number(declared);
  const dataStart = 8 + headerLength;
  const bufferLength = bytes.length - dataStart;

  // 2) UTF-8 JSON holding an object.
  let text: string;
  try {
    // ignoreBOM keeps a byte order mark in the text, so JSON.parse rejects it.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
      .decode(bytes.subarray(8, dataStart));
  } catch {
    throw new TypeError(`${fn}: header (${headerLength} bytes) is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TypeError(
      `${fn}: header (${headerLength} bytes) is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (!_isObject(parsed)) {
    throw new TypeError(`${fn}: header must be a JSON object, got ${_describe(parsed)}`);
  }

  // 3) Each entry on its own.
  let metadata: Record<string, string> = {};
  const entries: _Entry[] = [];
  for (const name of Object.keys(parsed)) {
    const info = parsed[name];
    if (name === _METADATA_KEY) {
      metadata = _checkMetadata(info, fn);
    } else {
      entries.push(_checkEntry(name, info, bufferLength, fn));
    }
  }

  // 4) Together the entries must tile the buffer: no overlaps, no gaps, no trailing bytes.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: _Entry | undefined;
  for (const e of byOffset) {
    if (e.begin < covered) {
      throw new RangeError(
        `${fn}: tensors ${_quote(previous!.name)} (data_offsets [${previous!.begin}, ${
          previous!.end
        }]) and ${_quote(e.name)} (data_offsets [${e.begin}, ${e.end}]) overlap`,
      );
    }
    if (e.begin > covered) {
      throw new RangeError(
        `${fn}: bytes [${covered}, ${e.begin}) of the data buffer belong to no tensor ` +
          `(gap before ${_quote(e.name)}); the buffer must be fully covered`,
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== bufferLength) {
    throw new RangeError(
      `${fn}: the data buffer has ${bufferLength} bytes but the tensors cover only ${covered}; ` +
        `${bufferLength - covered} trailing bytes belong to no tensor`,
    );
  }
  return { entries, metadata, dataStart };
}

function _checkEntry(name: string, info: unknown, bufferLength: number, fn: string): _Entry {
  const q = _quote(name);
  if (!_isObject(info)) {
    throw new TypeError(
      `${fn}: tensor ${q} must be an object with dtype, shape and data_offsets, got ${
        _describe(info)
      }`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = info;
  if (typeof dtype !== "string") {
    throw new TypeError(`${fn}: tensor ${q} must have a string dtype, got ${_describe(dtype)}`);
  }
  if (!Object.hasOwn(_DTYPE_SIZES, dtype)) {
    throw new RangeError(
      `${fn}: tensor ${q} has unsupported dtype ${_quote(dtype)}; supported: ${
        Object.keys(_DTYPE_SIZES).join(", ")
      }`,
    );
  }
  const itemSize = _DTYPE_SIZES[dtype as SafetensorsDtype];
  if (!Array.isArray(shape)) {
    throw new TypeError(
      `${fn}: tensor ${q} must have a shape array of integers, got ${_describe(shape)}`,
    );
  }
  for (const d of shape) {
    if (typeof d !== "number") {
      throw new TypeError(
        `${fn}: tensor ${q} has shape ${_clip(JSON.stringify(shape))} with a non-number size`,
      );
    }
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: tensor ${q} has shape ${
          _clip(formatShape(shape))
        }; sizes must be non-negative safe integers`,
      );
    }
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== "number")
  ) {
    throw new TypeError(
      `${fn}: tensor ${q} must have data_offsets [begin, end] of two numbers, got ${
        _clip(JSON.stringify(offsets) ?? String(offsets))
      }`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < 0) {
    throw new RangeError(
      `${fn}: tensor ${q} has data_offsets [${begin}, ${end}]; offsets must be non-negative safe integers`,
    );
  }
  if (begin > end) {
    throw new RangeError(
      `${fn}: tensor ${q} has data_offsets [${begin}, ${end}] with begin after end`,
    );
  }
  if (end > bufferLength) {
    throw new RangeError(
      `${fn}: tensor ${q} has data_offsets [${begin}, ${end}] past the end of the ${bufferLength}-byte data buffer`,
    );
  }
  // Multiply with an early exit, so a shape like [2**40, 2**40] cannot overflow to a wrong match.
  let count = shape.includes(0) ? 0 : 1;
  for (let i = 0; i < shape.length && count > 0 && count <= _MAX_ELEMENTS; i++) count *= shape[i];
  if (count > _MAX_ELEMENTS) {
    throw new RangeError(
      `${fn}: tensor ${q} has shape ${_clip(formatShape(shape))} with more than 2^31-1 elements`,
    );
  }
  if (end - begin !== count * itemSize) {
    throw new RangeError(
      `${fn}: tensor ${q} of dtype ${dtype} and shape ${
        _clip(formatShape(shape))
      } needs ${count} * ${itemSize} = ${
        count * itemSize
      } bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end, count };
}

function _checkMetadata(info: unknown, fn: string): Record<string, string> {
  // The reference implementation reads `null` as "no metadata".
  if (info === null) return {};
  if (!_isObject(info)) {
    throw new TypeError(
      `${fn}: ${_METADATA_KEY} must be an object of strings, got ${_describe(info)}`,
    );
  }
  const keys = Object.keys(info).sort(_compareCodePoints);
  for (const k of keys) {
    if (typeof info[k] !== "string") {
      throw new TypeError(
        `${fn}: ${_METADATA_KEY}[${_quote(k)}] must be a string, got ${_describe(info[k])}`,
      );
    }
  }
  return Object.fromEntries(keys.map((k) => [k, info[k] as string]));
}

function _checkOptions(options: LoadSafetensorsOptions, fn: string): number {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object, got ${_describe(options)}`);
  }
  const { maxHeaderBytes = _DEFAULT_MAX_HEADER_BYTES } = options;
  if (typeof maxHeaderBytes !== "number") {
    throw new TypeError(
      `${fn}: options.maxHeaderBytes must be a number, got ${_describe(maxHeaderBytes)}`,
    );
  }
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 0) {
    throw new RangeError(
      `${fn}: options.maxHeaderBytes must be a non-negative integer, got ${maxHeaderBytes}`,
    );
  }
  return maxHeaderBytes;
}

/**
 * Converts `count` elements of `dtype` at byte `offset` of the file to float32.
 * Reads go through a DataView (or a byte copy), so unaligned offsets are fine.
 */
function _decode(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
): Float32Array {
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  switch (dtype) {
    case "F32":
      if (_LITTLE_ENDIAN) {
        new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * count));
      } else for (let i = 0; i < count; i++) bits[i] = view.getUint32(offset + 4 * i, true);
      break;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < count; i++) bits[i] = _f16ToF32Bits(view.getUint16(offset + 2 * i, true));
      break;
    case "BF16":
      // bfloat16 is the top half of a float32.
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(offset + 2 * i, true) << 16;
      break;
    case "I64":
      for (let i = 0; i < count; i++) {
        const p = offset + 8 * i;
        const hi = view.getInt32(p + 4, true);
        // |value| < 2^53 is exact as a double, so one rounding to float32 follows.
        out[i] = hi >= -0x200000 && hi < 0x200000
          ? hi * 0x100000000 + view.getUint32(p, true)
          : _bigIntToF32(view.getBigInt64(p, true));
      }
      break;
    case "U64":
      for (let i = 0; i < count; i++) {
        const p = offset + 8 * i;
        const hi = view.getUint32(p + 4, true);
        out[i] = hi < 0x200000
          ? hi * 0x100000000 + view.getUint32(p, true)
          : _bigIntToF32(view.getBigUint64(p, true));
      }
      break;
    case "I32":
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, true);
      break;
    case "U32":
      for (let i = 0; i < count; i++) out[i] = view.getUint32(offset + 4 * i, true);
      break;
    case "I16":
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, true);
      break;
    case "U16":
      for (let i = 0; i < count; i++) out[i] = view.getUint16(offset + 2 * i, true);
      break;
    case "I8":
      for (let i = 0; i < count; i++) out[i] = view.getInt8(offset + i);
      break;
    case "U8":
      for (let i = 0; i < count; i++) out[i] = bytes[offset + i];
      break;
    case "BOOL":
      for (let i = 0; i < count; i++) out[i] = bytes[offset + i] === 0 ? 0 : 1;
      break;
  }
  return out;
}

/**
 * IEEE half-precision bits to single-precision bits, exactly: every half value
 * (subnormals, infinities, NaN payloads) is representable in float32.
 */
function _f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // 112 = 127 - 15
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal half: mant * 2^-24, normal in float32. Shift the leading 1 into the hidden bit.
  let e = 113; // exponent of 2^-14 in float32 (127 - 14)
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/**
 * Rounds an integer of up to 64 bits to float32 once (no double rounding via
 * float64): bits below the 53 that a double keeps are folded into a sticky bit.
 */
function _bigIntToF32(v: bigint): number {
  const negative = v < 0n;
  let x = negative ? -v : v;
  const shift = x.toString(2).length - 53;
  if (shift > 0) {
    const k = BigInt(shift);
    const sticky = (x & ((1n << k) - 1n)) === 0n ? 0n : 1n;
    x = (x >> k) | sticky;
  }
  const magnitude = Math.fround(Number(x) * 2 ** Math.max(shift, 0));
  return negative ? -magnitude : magnitude;
}

/** Orders strings by Unicode code point, i.e. by their UTF-8 bytes, as the reference does. */
function _compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function _isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A quoted name for messages, clipped so a hostile header cannot make a huge message. */
function _quote(s: string): string {
  return _clip(JSON.stringify(s));
}

function _clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function _describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  if (typeof v === "string") return `string ${_quote(v)}`;
  return `${typeof v} ${String(v)}`;
}
