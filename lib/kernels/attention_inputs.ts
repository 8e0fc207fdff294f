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
