/**
 * Mask builders and converters. The library's polarity everywhere:
 * **`true` = "may attend"**. PyTorch's `nn.MultiheadAttention`/`nn.Transformer`
 * use `true` = blocked; convert with {@link fromTorchAttnMask} and
 * {@link fromTorchKeyPaddingMask}.
 *
 * @module
 */

import { Mask } from "../tensor/mask.ts";
import { broadcastIndex, broadcastShapes, checkSize, formatShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { describeValue } from "../tensor/describe.ts";

function checkLength(n: unknown, fn: string, arg: string): number {
  if (typeof n !== "number") {
    throw new TypeError(`${fn}: ${arg} must be a non-negative integer, got ${describeValue(n)}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${fn}: ${arg} must be a non-negative integer, got ${describeValue(n)}`);
  }
  return n;
}

/** Options for {@link causalMask}. */
export interface CausalMaskOptions {
  /**
   * `"top-left"` (default, PyTorch's `generate_square_subsequent_mask` and
   * `is_causal`): query i may see keys j <= i. `"bottom-right"` (FlashAttention,
   * KV-cache decoding): the last query lines up with the last key, so query i
   * may see keys j <= i + (tk - tq).
   */
  align?: "top-left" | "bottom-right";
}

/**
 * The look-ahead mask `[tq, tk]`: a query may not attend to keys in its future.
 *
 * @param tq Number of queries.
 * @param tk Number of keys (defaults to `tq`).
 *
 * @example A 3×3 causal mask
 * ```ts
 * import { causalMask } from "./masks.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(causalMask(3).toArray(), [
 *   [true, false, false],
 *   [true, true, false],
 *   [true, true, true],
 * ]);
 * ```
 *
 * @example Decoding one new token against a cache of 4 keys
 * ```ts
 * import { causalMask } from "./masks.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(causalMask(1, 4, { align: "bottom-right" }).toArray(), [[true, true, true, true]]);
 * ```
 */
export function causalMask(tq: number, tk: number = tq, options: CausalMaskOptions = {}): Mask {
  checkLength(tq, "causalMask", "tq");
  checkLength(tk, "causalMask", "tk");
  const align = options.align ?? "top-left";
  if (align !== "top-left" && align !== "bottom-right") {
    throw new RangeError(
      `causalMask: align must be "top-left" or "bottom-right", got ${describeValue(align)}`,
    );
  }
  const shift = align === "bottom-right" ? tk - tq : 0;
  const data = new Uint8Array(checkSize([tq, tk], "causalMask", "the mask [tq, tk] ="));
  for (let i = 0; i < tq; i++) {
    for (let j = 0; j < tk; j++) data[i * tk + j] = j <= i + shift ? 1 : 0;
  }
  return new Mask(data, [tq, tk]);
}

/**
 * The padding mask `[B, 1, 1, maxLen]`: sequence b may attend to its first
 * `lengths[b]` keys only. It broadcasts over heads and queries.
 *
 * @param lengths The real (unpadded) length of each sequence in the batch.
 * @param maxLen The padded length.
 *
 * @example Two sequences padded to 4
 * ```ts
 * import { paddingMask } from "./masks.ts";
 * import assert from "node:assert/strict";
 * const m = paddingMask([2, 4], 4);
 * assert.deepEqual(m.shape, [2, 1, 1, 4]);
 * assert.deepEqual(m.reshape([2, 4]).toArray(), [[true, true, false, false], [true, true, true, true]]);
 * ```
 */
export function paddingMask(lengths: readonly number[], maxLen: number): Mask {
  if (!Array.isArray(lengths)) {
    throw new TypeError("paddingMask: lengths must be an array of non-negative integers");
  }
  checkLength(maxLen, "paddingMask", "maxLen");
  const b = lengths.length;
  const data = new Uint8Array(
    checkSize([b, 1, 1, maxLen], "paddingMask", "the mask [B, 1, 1, maxLen] ="),
  );
  lengths.forEach((len, i) => {
    checkLength(len, "paddingMask", `lengths[${i}]`);
    if (len > maxLen) {
      throw new RangeError(
        `paddingMask: lengths[${i}]=${len} exceeds maxLen=${maxLen}; lengths must be <= maxLen`,
      );
    }
    data.fill(1, i * maxLen, i * maxLen + len);
  });
  return new Mask(data, [b, 1, 1, maxLen]);
}

/**
 * Logical AND of masks with broadcasting: a position is allowed only where
 * every mask allows it (e.g. padding AND causal for a decoder).
 *
 * @example Padding combined with causal
 * ```ts
 * import { causalMask, combineMasks, paddingMask } from "./masks.ts";
 * import assert from "node:assert/strict";
 * const m = combineMasks(paddingMask([2], 3), causalMask(3));
 * assert.deepEqual(m.shape, [1, 1, 3, 3]);
 * assert.deepEqual(m.reshape([3, 3]).toArray(), [
 *   [true, false, false],
 *   [true, true, false],
 *   [true, true, false],
 * ]);
 * ```
 */
export function combineMasks(...masks: Mask[]): Mask {
  if (masks.length === 0) throw new RangeError("combineMasks: needs at least one mask");
  masks.forEach((m, i) => {
    if (!(m instanceof Mask)) throw new TypeError(`combineMasks: masks[${i}] must be a Mask`);
  });
  let acc = masks[0];
  for (let i = 1; i < masks.length; i++) {
    const m = masks[i];
    const shape = broadcastShapes(acc.shape, m.shape, "combineMasks", [
      "masks so far",
      `masks[${i}]`,
    ]);
    const data = new Uint8Array(checkSize(shape, "combineMasks", "the broadcast mask"));
    const ia = broadcastIndex(acc.shape, shape);
    const ib = broadcastIndex(m.shape, shape);
    for (let t = 0; t < data.length; t++) data[t] = acc.data[ia[t]] & m.data[ib[t]];
    acc = new Mask(data, shape);
  }
  return acc;
}

/**
 * Flips a mask: allowed becomes blocked. Use it to move between this library's
 * polarity and PyTorch `nn.MultiheadAttention`'s.
 *
 * @example Invert
 * ```ts
 * import { invertMask } from "./masks.ts";
 * import { mask } from "../tensor/mask.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(invertMask(mask([true, false])).toArray(), [false, true]);
 * ```
 */
export function invertMask(m: Mask): Mask {
  if (!(m instanceof Mask)) throw new TypeError("invertMask: m must be a Mask");
  return new Mask(m.data.map((v) => 1 - v), m.shape);
}

/** Options for {@link fromTorchAttnMask}. */
export interface FromTorchAttnMaskOptions {
  /** With a 3-D mask `(B * numHeads, Tq, Tk)`, reshape it to `[B, numHeads, Tq, Tk]`. */
  numHeads?: number;
}

/**
 * Converts PyTorch `nn.MultiheadAttention`'s `attn_mask` to a library {@link Mask}.
 *
 * - A boolean PyTorch mask (given here as a `Mask` built from PyTorch's values,
 *   where `true` = blocked) is inverted.
 * - A float PyTorch mask (a `Tensor` of 0 and `-Infinity`, as from
 *   `generate_square_subsequent_mask`) becomes allowed where the value is 0.
 *   Other finite values are an additive bias, not a mask: pass them as `bias`.
 * - A 3-D mask `(B * numHeads, Tq, Tk)` (indexed `b * numHeads + h`) becomes
 *   `[B, numHeads, Tq, Tk]` when `numHeads` is given.
 *
 * @example PyTorch's square subsequent mask
 * ```ts
 * import { fromTorchAttnMask, causalMask } from "./masks.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const torchMask = tensor([[0, -Infinity], [0, 0]]);
 * assert.deepEqual(fromTorchAttnMask(torchMask).toArray(), causalMask(2).toArray());
 * ```
 */
export function fromTorchAttnMask(
  attnMask: Mask | Tensor,
  options: FromTorchAttnMaskOptions = {},
): Mask {
  let out: Mask;
  if (attnMask instanceof Mask) {
    out = invertMask(attnMask);
  } else if (attnMask instanceof Tensor) {
    const data = new Uint8Array(attnMask.size);
    for (let i = 0; i < data.length; i++) {
      const v = attnMask.data[i];
      if (v === 0) data[i] = 1;
      else if (v === -Infinity) data[i] = 0;
      else {
        throw new RangeError(
          `fromTorchAttnMask: a float attn_mask must hold only 0 and -Infinity to become a mask; found ${v} at flat index ${i}. Pass additive values as the attention's bias instead`,
        );
      }
    }
    out = new Mask(data, attnMask.shape);
  } else {
    throw new TypeError("fromTorchAttnMask: attnMask must be a Mask (boolean) or a Tensor (float)");
  }
  if (out.rank !== 2 && out.rank !== 3) {
    throw new RangeError(
      `fromTorchAttnMask: attn_mask must be 2-D (Tq, Tk) or 3-D (B * numHeads, Tq, Tk), got ${
        formatShape(out.shape)
      }`,
    );
  }
  if (out.rank === 3 && options.numHeads !== undefined) {
    const h = checkLength(options.numHeads, "fromTorchAttnMask", "numHeads");
    const [bh, tq, tk] = out.shape;
    if (h === 0 || bh % h !== 0) {
      throw new RangeError(
        `fromTorchAttnMask: first axis ${bh} of attn_mask ${
          formatShape(out.shape)
        } must be a multiple of numHeads=${h}`,
      );
    }
    out = out.reshape([bh / h, h, tq, tk]);
  }
  return out;
}

/**
 * Converts PyTorch's `key_padding_mask` `(B, S)` (`true` = padding, ignore) to
 * the library's padding mask `[B, 1, 1, S]` (`true` = may attend).
 *
 * @example Last key is padding
 * ```ts
 * import { fromTorchKeyPaddingMask } from "./masks.ts";
 * import { mask } from "../tensor/mask.ts";
 * import assert from "node:assert/strict";
 * const m = fromTorchKeyPaddingMask(mask([[false, false, true]]));
 * assert.deepEqual(m.shape, [1, 1, 1, 3]);
 * assert.deepEqual(m.reshape([3]).toArray(), [true, true, false]);
 * ```
 */
export function fromTorchKeyPaddingMask(keyPaddingMask: Mask): Mask {
  if (!(keyPaddingMask instanceof Mask)) {
    throw new TypeError("fromTorchKeyPaddingMask: keyPaddingMask must be a Mask");
  }
  if (keyPaddingMask.rank !== 2) {
    throw new RangeError(
      `fromTorchKeyPaddingMask: key_padding_mask must be 2-D (B, S), got ${
        formatShape(keyPaddingMask.shape)
      }`,
    );
  }
  const [b, s] = keyPaddingMask.shape;
  return invertMask(keyPaddingMask).reshape([b, 1, 1, s]);
}

/**
 * The additive form of a mask: 0 where allowed, `-Infinity` where blocked.
 * Adding it to scores before softmax is the same as masking.
 *
 * @example Bias from a causal mask
 * ```ts
 * import { causalMask, maskToBias } from "./masks.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(maskToBias(causalMask(2)).toArray(), [[0, -Infinity], [0, 0]]);
 * ```
 */
export function maskToBias(m: Mask): Tensor {
  if (!(m instanceof Mask)) throw new TypeError("maskToBias: m must be a Mask");
  const data = new Float32Array(m.data.length);
  for (let i = 0; i < data.length; i++) data[i] = m.data[i] ? 0 : -Infinity;
  return new Tensor(data, m.shape);
}
