/**
 * The operand types every attention kernel shares: the reference and fast
 * kernels (`attention.ts`, `flash.ts`) and the WebAssembly driver (`simd.ts`).
 *
 * @module
 */

/** A `[Tq, Tk]` view into a broadcast mask or bias buffer. */
export interface MatrixView<T extends Float32Array | Uint8Array> {
  data: T;
  offset: number;
  /** Step between query rows: 0 when the mask is broadcast along Tq. */
  rowStride: number;
  /** Step between key columns: 0 when broadcast along Tk. */
  colStride: number;
}

/** The operands every attention kernel reads and the output it writes; shapes in the comments. */
export interface AttentionInputs {
  q: Float32Array; // [tq, dk] at qOffset
  qOffset: number;
  k: Float32Array; // [tk, dk] at kOffset
  kOffset: number;
  v: Float32Array; // [tk, dv] at vOffset
  vOffset: number;
  tq: number;
  tk: number;
  dk: number;
  dv: number;
  scale: number;
  mask: MatrixView<Uint8Array> | null;
  bias: MatrixView<Float32Array> | null;
  out: Float32Array; // [tq, dv] at outOffset
  outOffset: number;
}

/** A mask whose key axis is contiguous (colStride 1), as the WebAssembly kernels read it. */
export type ContiguousMask = Omit<MatrixView<Uint8Array>, "colStride">;

/** The attention operands as the WebAssembly kernels take them: a contiguous mask, no bias. */
export type WasmAttentionInputs = Omit<AttentionInputs, "mask" | "bias"> & {
  /** Contiguous key axis required (colStride 1); rowStride 0 or tk. */
  mask: ContiguousMask | null;
};

/** True when `mask` (null: nothing is masked) blocks query i from key j. */
export function masked(mask: MatrixView<Uint8Array> | null, i: number, j: number): boolean {
  return mask !== null && mask.data[mask.offset + i * mask.rowStride + j * mask.colStride] === 0;
}

/** True when no query of rows [i0, i0+rows) may attend any key of [j0, j0+cols) (a tile to skip). */
export function tileBlocked(
  mask: MatrixView<Uint8Array>,
  i0: number,
  rows: number,
  j0: number,
  cols: number,
): boolean {
  const { data, offset, rowStride, colStride } = mask;
  // a broadcast axis (stride 0) needs one look, not `rows` or `cols`
  const rEnd = rowStride === 0 ? 1 : rows, cEnd = colStride === 0 ? 1 : cols;
  for (let r = 0; r < rEnd; r++) {
    const base = offset + (i0 + r) * rowStride + j0 * colStride;
    for (let c = 0; c < cEnd; c++) if (data[base + c * colStride] !== 0) return false;
  }
  return true;
}
