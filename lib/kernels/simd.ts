/**
 * Drivers for the WebAssembly SIMD128 kernels of `wasm/kernels.wat`: they copy
 * operands into the module's linear memory, pack B (transposing K once for
 * Q·Kᵀ), call the register-blocked 4×8 micro-kernel and the fused
 * scale + mask + softmax, and copy results back. The module is compiled lazily
 * and synchronously from bytes embedded in `wasm/kernels_wasm.ts`: no
 * permission, no I/O. Where WebAssembly SIMD is unavailable, {@link wasmReady}
 * returns false and callers keep the JavaScript kernels.
 *
 * Linear memory is one scratch arena reused by every call (bump allocation from
 * 0, grown when a call needs more), so hot paths allocate nothing.
 *
 * @module
 */

import { KERNELS_WASM_BASE64 } from "./wasm/kernels_wasm.ts";

interface KernelExports {
  memory: WebAssembly.Memory;
  gemm(
    a: number,
    lda: number,
    bp: number,
    pstride: number,
    c: number,
    ldc: number,
    mb: number,
    np: number,
    k: number,
    lim: number,
    mode: number,
    acc: number,
  ): void;
  pack_b(src: number, ld: number, k: number, n: number, dst: number): void;
  pack_bt(src: number, ld: number, n: number, k: number, dst: number): void;
  mask_limits(mask: number, mrs: number, rows: number, cols: number, out: number): void;
  softmax(
    s: number,
    ld: number,
    rows: number,
    cols: number,
    scale: number,
    mask: number,
    mrs: number,
  ): void;
}

let kernels: KernelExports | null | undefined;
let f32: Float32Array<ArrayBufferLike> = new Float32Array(0);
let u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

/** Compiles the embedded module on first use; null where WASM SIMD is missing. */
function load(): KernelExports | null {
  if (kernels !== undefined) return kernels;
  try {
    const binary = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    kernels = instance.exports as unknown as KernelExports;
    refreshViews();
  } catch {
    kernels = null;
  }
  return kernels;
}

function refreshViews(): void {
  const buffer = kernels!.memory.buffer;
  f32 = new Float32Array(buffer);
  u8 = new Uint8Array(buffer);
}

/** Grows linear memory to at least `bytes`; views are rebuilt after a grow. */
function reserve(bytes: number): void {
  const have = kernels!.memory.buffer.byteLength;
  if (bytes > have) {
    kernels!.memory.grow(Math.ceil((bytes - have) / 65536));
    refreshViews();
  }
}

/** Bump allocator over the arena: byte offsets aligned to 64 (a cache line). */
class Arena {
  top = 0;
  take(bytes: number): number {
    const at = this.top;
    this.top += (bytes + 63) & ~63;
    return at;
  }
}

/** True when the WebAssembly SIMD kernels compiled (lazily, on first call). */
export function wasmReady(): boolean {
  return load() !== null;
}

/** Depth of one pass over k: keeps a 4-row block of A and a B panel slice in L1. */
export let KC = 256;
/** Panels (8 columns each) per pass over n. */
export let NC = 16;
export function setBlocking(kc: number, nc: number): void {
  KC = kc;
  NC = nc;
}

/**
 * C[m, n] = A[m, k] · B[k, n] (or A · Bᵀ with B `[n, k]`) with the SIMD kernel.
 * Offsets and sizes as in `GemmArgs` of `matmul.ts`; needs {@link wasmReady}.
 */
export function gemmWasm(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  c: Float32Array,
  cOffset: number,
  m: number,
  k: number,
  n: number,
  transposeB: boolean,
): void {
  const w = load()!;
  const mb = (m + 3) >> 2, np = (n + 7) >> 3, ldc = np * 8;
  const arena = new Arena();
  const pa = arena.take(mb * 4 * k * 4);
  const pbRaw = arena.take(k * n * 4);
  const pb = arena.take(np * k * 32);
  const pc = arena.take(mb * 4 * ldc * 4);
  reserve(arena.top);
  // A [m, k] -> rows padded to a multiple of 4 with zeros
  f32.set(a.subarray(aOffset, aOffset + m * k), pa >> 2);
  f32.fill(0, (pa >> 2) + m * k, (pa >> 2) + mb * 4 * k);
  // B [k, n] (or [n, k]) -> panels of 8 columns, each k×8
  f32.set(b.subarray(bOffset, bOffset + k * n), pbRaw >> 2);
  if (transposeB) w.pack_bt(pbRaw, k, n, k, pb);
  else w.pack_b(pbRaw, n, k, n, pb);
  // [4mb, k] x [k, 8np] -> [4mb, 8np], k in slices of KC accumulated into C
  // and n in blocks of NC panels so the B slice stays in L2 while A streams
  for (let k0 = 0; k0 < k || k0 === 0; k0 += KC) {
    const kc = Math.min(KC, k - k0);
    for (let j0 = 0; j0 < np; j0 += NC) {
      const nc = Math.min(NC, np - j0);
      w.gemm(
        pa + k0 * 4,
        k,
        pb + j0 * k * 32 + k0 * 32,
        k * 32,
        pc + j0 * 32,
        ldc,
        mb,
        nc,
        kc,
        0,
        0,
        k0 > 0 ? 1 : 0,
      );
    }
  }
  copyRows(c, cOffset, pc >> 2, ldc, m, n);
}

/** Copies `rows` rows of `cols` floats from the arena (row stride ld) into `dst`. */
function copyRows(
  dst: Float32Array,
  dstOffset: number,
  src: number,
  ld: number,
  rows: number,
  cols: number,
): void {
  if (ld === cols) {
    dst.set(f32.subarray(src, src + rows * cols), dstOffset);
    return;
  }
  for (let i = 0; i < rows; i++) {
    dst.set(f32.subarray(src + i * ld, src + i * ld + cols), dstOffset + i * cols);
  }
}

/**
 * In-place row softmax of `x` with the SIMD kernel (same contract as
 * `softmaxRows` in `softmax.ts`); needs {@link wasmReady}.
 */
export function softmaxWasm(x: Float32Array, offset: number, rows: number, cols: number): void {
  const w = load()!;
  const arena = new Arena();
  const ps = arena.take(rows * cols * 4);
  reserve(arena.top);
  f32.set(x.subarray(offset, offset + rows * cols), ps >> 2);
  w.softmax(ps, cols, rows, cols, 1, 0, 0);
  x.set(f32.subarray(ps >> 2, (ps >> 2) + rows * cols), offset);
}

/** One attention problem for {@link attentionWasm}; see `AttentionKernelArgs`. */
export interface WasmAttentionArgs {
  q: Float32Array;
  qOffset: number;
  k: Float32Array;
  kOffset: number;
  v: Float32Array;
  vOffset: number;
  tq: number;
  tk: number;
  dk: number;
  dv: number;
  scale: number;
  /** Contiguous key axis required (colStride 1); rowStride 0 or tk. */
  mask: { data: Uint8Array; offset: number; rowStride: number } | null;
  /**
   * Called with the `[tq, tk]` score matrix (row stride `ld`, in `buf`) after the
   * scores gemm and before softmax when bias, raw scores or a strided mask
   * need JavaScript; it must leave scaled, biased, masked logits (then the
   * kernel's softmax runs with scale 1 and no mask).
   */
  prepare: ((buf: Float32Array<ArrayBufferLike>, at: number, ld: number) => void) | null;
  /** Called on the softmax weights (row stride `ld`) before weights·V: dropout. */
  after: ((buf: Float32Array<ArrayBufferLike>, at: number, ld: number) => void) | null;
  out: Float32Array;
  outOffset: number;
  weights: Float32Array;
  weightsOffset: number;
}

/**
 * Attention with the SIMD kernels: (1) pack Kᵀ once and V; (2) scores
 * [tq, tk] = Q·Kᵀ, skipping 4×8 tiles past each row block's last allowed key;
 * (3) fused scale + mask + softmax; (4) output [tq, dv] = weights·V with dot
 * products cut at the same limit. Needs {@link wasmReady}.
 */
export function attentionWasm(p: WasmAttentionArgs): void {
  const w = load()!;
  const { tq, tk, dk, dv } = p;
  const mb = (tq + 3) >> 2, npk = (tk + 7) >> 3, npv = (dv + 7) >> 3;
  const lds = npk * 8, ldo = npv * 8;
  const arena = new Arena();
  const pq = arena.take(mb * 4 * dk * 4);
  const pkRaw = arena.take(tk * dk * 4);
  const pk = arena.take(npk * dk * 32);
  const pvRaw = arena.take(tk * dv * 4);
  const pv = arena.take(npv * tk * 32);
  const ps = arena.take(mb * 4 * lds * 4);
  const po = arena.take(mb * 4 * ldo * 4);
  const maskBytes = p.mask ? (p.mask.rowStride === 0 ? tk : tq * tk) : 0;
  const pm = arena.take(maskBytes);
  const pl = arena.take(mb * 4);
  reserve(arena.top);
  // 1) Q [tq, dk] with zero rows up to 4·mb; Kᵀ and V packed in 8-column panels
  f32.set(p.q.subarray(p.qOffset, p.qOffset + tq * dk), pq >> 2);
  f32.fill(0, (pq >> 2) + tq * dk, (pq >> 2) + mb * 4 * dk);
  f32.set(p.k.subarray(p.kOffset, p.kOffset + tk * dk), pkRaw >> 2);
  w.pack_bt(pkRaw, dk, tk, dk, pk);
  f32.set(p.v.subarray(p.vOffset, p.vOffset + tk * dv), pvRaw >> 2);
  w.pack_b(pvRaw, dv, tk, dv, pv);
  let mask = 0, mrs = 0, lim = 0;
  if (p.mask) {
    u8.set(p.mask.data.subarray(p.mask.offset, p.mask.offset + maskBytes), pm);
    mask = pm;
    mrs = p.mask.rowStride === 0 ? 0 : tk;
    if (!p.prepare) {
      w.mask_limits(pm, mrs, tq, tk, pl);
      lim = pl;
    }
  }
  // 2) scores [4mb, dk] x [dk, lds] -> [4mb, lds]
  w.gemm(pq, dk, pk, dk * 32, ps, lds, mb, npk, dk, lim, 0, 0);
  // 3) softmax(scores·scale + mask) per row
  if (p.prepare) {
    p.prepare(f32, ps >> 2, lds);
    w.softmax(ps, lds, tq, tk, 1, 0, 0);
  } else {
    w.softmax(ps, lds, tq, tk, p.scale, mask, mrs);
  }
  if (p.after) p.after(f32, ps >> 2, lds);
  // 4) output [4mb, tk] x [tk, ldo] -> [4mb, ldo]
  w.gemm(ps, lds, pv, tk * 32, po, ldo, mb, npv, tk, lim, 1, 0);
  copyRows(p.weights, p.weightsOffset, ps >> 2, lds, tq, tk);
  copyRows(p.out, p.outOffset, po >> 2, ldo, tq, dv);
}
