/**
 * Batched matrix multiplication with broadcasting of the leading dimensions.
 *
 * @module
 */

import { gemm } from "../kernels/matmul.ts";
import { recordOp } from "./op.ts";
import { sumToShape } from "./sum_to_shape.ts";
import { broadcastIndex, broadcastShapes, checkSize, formatShape } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";
import { describeValue } from "./describe.ts";

/** Options for {@link matmul}. */
export interface MatmulOptions {
  /** Use `a` transposed on its last two axes: `a` is `[..., K, M]` (default false). */
  transposeA?: boolean;
  /** Use `b` transposed on its last two axes: `b` is `[..., N, K]` (default false). */
  transposeB?: boolean;
}

/**
 * `a [..., M, K] × b [..., K, N] -> [..., M, N]` with the leading (batch)
 * dimensions broadcast as in `torch.matmul`. Both operands need rank >= 2.
 * `transposeA` / `transposeB` use `a`ᵀ / `b`ᵀ on the last two axes without
 * copying, as `torch.matmul(a.mT, b)` / `torch.matmul(a, b.mT)` (the batch
 * dimensions broadcast the same way). IEEE arithmetic on every path: 0·∞
 * gives NaN, a NaN reaches every output whose dot product reads it.
 *
 * @throws {RangeError} When the inner sizes differ or the batch dims cannot broadcast.
 * @throws {TypeError} When an option is not a boolean.
 *
 * @example Broadcast one matrix over a batch, and the gradient-style product aᵀ·c
 * ```ts
 * import { matmul } from "./matmul.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const a = tensor([[[1, 2]], [[3, 4]]]); // [2, 1, 2]
 * const b = tensor([[1], [1]]); // [2, 1]
 * assert.deepEqual(matmul(a, b).toArray(), [[[3]], [[7]]]);
 * // aᵀ [2, 2, 1] x [1, 1] -> [2, 2, 1]
 * assert.deepEqual(matmul(a, tensor([[10]]), { transposeA: true }).toArray(),
 *   [[[10], [20]], [[30], [40]]]);
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkTensor(a, "matmul", "a");
  checkTensor(b, "matmul", "b");
  const transposeA = flag(options.transposeA, "transposeA");
  const transposeB = flag(options.transposeB, "transposeB");
  if (a.rank < 2 || b.rank < 2) {
    throw new RangeError(
      `matmul: both operands need rank >= 2, got a=${formatShape(a.shape)}, b=${
        formatShape(b.shape)
      }`,
    );
  }
  const [ra, ca] = [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [rb, cb] = [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  const [m, k] = transposeA ? [ca, ra] : [ra, ca];
  const [kb, n] = transposeB ? [cb, rb] : [rb, cb];
  if (k !== kb) {
    throw new RangeError(
      `matmul: inner sizes differ: a=${formatShape(a.shape)}${
        transposeA ? " (transposed)" : ""
      } has K=${k}, b=${formatShape(b.shape)}${transposeB ? " (transposed)" : ""} has K=${kb}`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, "matmul", ["a batch", "b batch"]);
  const out = new Float32Array(
    checkSize([...batch, m, n], "matmul", "the product [...batch, M, N] ="),
  );
  const ia = broadcastIndex(batchA, batch);
  const ib = broadcastIndex(batchB, batch);
  for (let t = 0; t < ia.length; t++) {
    // [M, K] x [K, N] -> [M, N] for batch element t (each operand possibly stored transposed)
    gemm({
      a: a.data,
      aOffset: ia[t] * m * k,
      b: b.data,
      bOffset: ib[t] * k * n,
      c: out,
      cOffset: t * m * n,
      m,
      k,
      n,
      transposeA,
      transposeB,
    });
  }
  return recordOp("matmul", [a, b], new Tensor(out, [...batch, m, n]), (g) => {
    // With C = op(A)·op(B) and dC = g [..., M, N] (op = transpose where asked):
    //   C = A·B:    dA = dC·Bᵀ     dB = Aᵀ·dC
    //   C = A·Bᵀ:   dA = dC·B      dB = dCᵀ·A
    //   C = Aᵀ·B:   dA = B·dCᵀ     dB = A·dC
    //   C = Aᵀ·Bᵀ:  dA = Bᵀ·dCᵀ    dB = dCᵀ·Aᵀ
    // each then summed over the batch axes its operand was broadcast along.
    const da = transposeA
      ? matmul(b, g, { transposeA: transposeB, transposeB: true })
      : matmul(g, b, { transposeB: !transposeB });
    const db = transposeB
      ? matmul(g, a, { transposeA: true, transposeB: transposeA })
      : matmul(a, g, { transposeA: !transposeA });
    return [sumToShape(da, a.shape), sumToShape(db, b.shape)];
  });
}

function flag(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== "boolean") {
    throw new TypeError(`matmul: options.${name} must be a boolean, got ${describeValue(v)}`);
  }
  return v;
}
