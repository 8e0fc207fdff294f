/**
 * Batched matrix multiplication with broadcasting of the leading dimensions.
 *
 * @module
 */

import { gemm } from "../kernels/matmul.ts";
import { broadcastIndex, broadcastShapes, checkSize, formatShape } from "./shape.ts";
import { checkTensor, Tensor } from "./tensor.ts";

/** Options for {@link matmul}. */
export interface MatmulOptions {
  /** Use `b` transposed on its last two axes: `b` is `[..., N, K]`. */
  transposeB?: boolean;
}

/**
 * `a [..., M, K] × b [..., K, N] -> [..., M, N]` with the leading (batch)
 * dimensions broadcast as in `torch.matmul`. Both operands need rank >= 2.
 *
 * @throws {RangeError} When the inner sizes differ or the batch dims cannot broadcast.
 *
 * @example Broadcast one matrix over a batch
 * ```ts
 * import { matmul } from "./matmul.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const a = tensor([[[1, 2]], [[3, 4]]]); // [2, 1, 2]
 * const b = tensor([[1], [1]]); // [2, 1]
 * assert.deepEqual(matmul(a, b).toArray(), [[[3]], [[7]]]);
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkTensor(a, "matmul", "a");
  checkTensor(b, "matmul", "b");
  const transposeB = options.transposeB ?? false;
  if (a.rank < 2 || b.rank < 2) {
    throw new RangeError(
      `matmul: both operands need rank >= 2, got a=${formatShape(a.shape)}, b=${
        formatShape(b.shape)
      }`,
    );
  }
  const m = a.shape[a.rank - 2];
  const k = a.shape[a.rank - 1];
  const kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  const n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  if (k !== kb) {
    throw new RangeError(
      `matmul: inner sizes differ: a=${formatShape(a.shape)} has K=${k}, b=${formatShape(b.shape)}${
        transposeB ? " (transposed)" : ""
      } has K=${kb}`,
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
    // [M, K] x [K, N] -> [M, N] for batch element t
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
      transposeB,
    });
  }
  return new Tensor(out, [...batch, m, n]);
}
