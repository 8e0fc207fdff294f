/**
 * The boolean attention mask. **`true` means "may attend"**, the polarity of
 * Keras, JAX and PyTorch's `F.scaled_dot_product_attention`. PyTorch's
 * `nn.MultiheadAttention` and `nn.Transformer` use the opposite (`true` =
 * blocked): convert those with `fromTorchAttnMask` / `fromTorchKeyPaddingMask`.
 *
 * @module
 */

import { checkShape, formatShape, type Shape, sizeOf } from "./shape.ts";
import { flattenNested, preview, resolveReshape } from "./tensor.ts";

/** Nested booleans (or 0/1), as {@link mask} accepts and `toArray()` returns. */
export type NestedBool = boolean | number | NestedBool[];

/**
 * True when every byte is 0 or 1: one branch-free OR over 32-bit words (4 bytes a
 * step: 64 Mi bytes took 10-25 ms here) where the view is aligned, then over the tail bytes.
 */
function allZeroOrOne(data: Uint8Array): boolean {
  let bits = 0;
  let i = 0;
  if (data.byteOffset % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
    for (let w = 0; w < words.length; w++) bits |= words[w];
    i = words.length * 4;
  }
  for (; i < data.length; i++) bits |= data[i];
  return (bits & 0xfefefefe) === 0;
}

/**
 * A boolean tensor stored as bytes (1 = may attend, 0 = blocked), row-major.
 * Broadcasts against attention scores `[..., Tq, Tk]`.
 *
 * @example Read a mask back
 * ```ts
 * import { mask } from "./mask.ts";
 * import assert from "node:assert/strict";
 * const m = mask([[true, false], [true, true]]);
 * assert.deepEqual(m.toArray(), [[true, false], [true, true]]);
 * ```
 */
export class Mask {
  /** 1 where attention is allowed, 0 where it is blocked. */
  readonly data: Uint8Array;
  /** Size of each axis. */
  readonly shape: readonly number[];

  /**
   * Wraps `data` (not copied); every byte must be 0 or 1. Prefer {@link mask}.
   *
   * Every byte is checked, because the kernels, `combineMasks`, `invertMask` and
   * `countAllowed` would each read another value (2 is "allowed" to one, garbage to another).
   *
   * @throws {TypeError} When `data` is not a `Uint8Array`.
   * @throws {RangeError} When a byte is neither 0 nor 1 (naming its index and value), or
   *   `data.length` is not the product of `shape`.
   *
   * @example Bytes other than 0 and 1 are refused
   * ```ts
   * import { Mask } from "./mask.ts";
   * import assert from "node:assert/strict";
   * assert.equal(new Mask(Uint8Array.of(1, 0), [1, 2]).countAllowed(), 1);
   * assert.throws(() => new Mask(Uint8Array.of(2, 0), [1, 2]), /data\[0\] is 2/);
   * ```
   */
  constructor(data: Uint8Array, shape: Shape) {
    if (!(data instanceof Uint8Array)) throw new TypeError("Mask: data must be a Uint8Array");
    const s = checkShape(shape, "Mask", "shape");
    if (sizeOf(s) !== data.length) {
      throw new RangeError(
        `Mask: shape ${formatShape(s)} needs ${sizeOf(s)} values, data has ${data.length}`,
      );
    }
    if (!allZeroOrOne(data)) {
      const i = data.findIndex((v) => v > 1);
      throw new RangeError(
        `Mask: data[${i}] is ${data[i]}; a mask holds only 0 (blocked) and 1 (may attend)`,
      );
    }
    this.data = data;
    this.shape = Object.freeze(s);
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** The mask as nested booleans. */
  toArray(): NestedBool {
    if (this.shape.length === 0) return this.data[0] === 1;
    const build = (axis: number, offset: number): NestedBool[] => {
      const n = this.shape[axis];
      const stride = sizeOf(this.shape.slice(axis + 1));
      const out: NestedBool[] = new Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = axis === this.shape.length - 1
          ? this.data[offset + i] === 1
          : build(axis + 1, offset + i * stride);
      }
      return out;
    };
    return build(0, 0);
  }

  /** The same mask with a new shape of the same size (one axis may be -1). */
  reshape(shape: Shape): Mask {
    return new Mask(this.data, resolveReshape(this.shape, shape, "Mask.reshape"));
  }

  /** Count of allowed positions. */
  countAllowed(): number {
    let n = 0;
    for (const v of this.data) n += v;
    return n;
  }

  /** A short description. */
  toString(): string {
    return `Mask(${formatShape(this.shape)})`;
  }

  /** How `console.log` and the Jupyter kernel print a mask: 1 = may attend, 0 = blocked. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Mask(${formatShape(this.shape)}, 1 = may attend) ${
      preview(this.data, this.shape, String)
    }`;
  }
}

/**
 * Builds a {@link Mask} from nested booleans or 0/1 numbers, or from a flat
 * array/typed array plus `shape`. `true` (or 1) means "may attend".
 *
 * @throws {TypeError} An entry that is not a boolean, 0 or 1.
 * @throws {RangeError} Ragged input or a size that does not fit `shape`.
 *
 * @example Flat form with a shape
 * ```ts
 * import { mask } from "./mask.ts";
 * import assert from "node:assert/strict";
 * const m = mask([1, 0, 1, 1], [2, 2]);
 * assert.deepEqual(m.toArray(), [[true, false], [true, true]]);
 * ```
 */
export function mask(
  values: NestedBool | readonly (boolean | number)[] | Uint8Array,
  shape?: Shape,
): Mask {
  const convert = (v: unknown, path: string): number => {
    if (v === true || v === 1) return 1;
    if (v === false || v === 0) return 0;
    throw new TypeError(`mask: ${path} must be a boolean or 0/1, got ${String(v)}`);
  };
  let flat: number[];
  let inferred: number[];
  if (ArrayBuffer.isView(values)) {
    flat = Array.from(values as Uint8Array, (v, i) => convert(v, `values[${i}]`));
    inferred = [flat.length];
  } else if (Array.isArray(values)) {
    ({ flat, shape: inferred } = flattenNested(values, "mask", "values", convert));
  } else {
    flat = [convert(values, "values")];
    inferred = [];
  }
  let s = inferred;
  if (shape) {
    s = checkShape(shape, "mask", "shape");
    if (sizeOf(s) !== flat.length) {
      throw new RangeError(
        `mask: shape ${formatShape(s)} needs ${sizeOf(s)} values, values have shape ${
          formatShape(inferred)
        } (${flat.length} values)`,
      );
    }
  }
  return new Mask(Uint8Array.from(flat), s);
}
