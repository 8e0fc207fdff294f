;; Attention Lab WebAssembly SIMD128 kernels (hand-written WAT).
;; Assembled by `deno task build:wasm` (lib/kernels/wasm/build.ts, npm wabt) into
;; kernels_wasm.ts; `deno task check:wasm` fails when the committed artifact is stale.
;; All pointers are byte offsets into the imported memory; sizes are in elements.
;; The memory is shared (threads: `simd.ts` runs row ranges of one problem on Workers that
;; instantiate this same module over the same memory); build.ts also emits a copy with an
;; unshared memory for hosts without shared WebAssembly memory.
(module
  (import "env" "memory" (memory 16 65536 shared))

  ;; C[4*mb, 8*np] (row stride ldc) (=|+=) A[4*mb, k] (row stride lda) . B, where B is
  ;; packed in panels of 8 columns: panel j holds k rows of 8 floats at bp + j*pstride.
  ;; Register tile: 4 rows x 8 columns (8 accumulators), relaxed fused multiply-add.
  ;; lim = 0, or a pointer to one i32 per 4-row block giving the last useful column + 1
  ;; (mode 0: compute only the panels below it) or the useful k (mode 1: shorter dot products):
  ;; that is how fully masked tiles of a causal mask are skipped.
  (func $gemm (export "gemm")
    (param $a i32) (param $lda i32) (param $bp i32) (param $pstride i32) (param $c i32)
    (param $ldc i32) (param $mb i32) (param $np i32) (param $k i32) (param $lim i32)
    (param $mode i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $q i32) (local $nj i32) (local $kb i32) (local $v i32)
    (local $pa i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32) (local $pb i32) (local $pc i32) (local $ldab i32) (local $ldcb i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $ldab (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $ldcb (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $mb)))
        (local.set $nj (local.get $np))
        (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
        (if (local.get $lim)
          (then
            (local.set $v (i32.load (i32.add (local.get $lim) (i32.shl (local.get $i) (i32.const 2)))))
            (if (i32.eqz (local.get $mode))
              (then
                (local.set $v (i32.shr_u (i32.add (local.get $v) (i32.const 7)) (i32.const 3)))
                (if (i32.lt_u (local.get $v) (local.get $nj)) (then (local.set $nj (local.get $v)))))
              (else
                (if (i32.lt_u (local.get $v) (local.get $k))
                  (then (local.set $kb (i32.shl (local.get $v) (i32.const 2)))))))))
        ;; pa: first of the 4 rows of A; pc: first of the 4 rows of C
        (local.set $pa (i32.add (local.get $a) (i32.mul (i32.shl (local.get $i) (i32.const 2)) (local.get $ldab))))
        (local.set $pc (i32.add (local.get $c) (i32.mul (i32.shl (local.get $i) (i32.const 2)) (local.get $ldcb))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $nj)))
            (if (local.get $acc)
              (then
                (local.set $c00 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c01 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c10 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c11 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c20 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c21 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c30 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c31 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
              )
              (else
                (local.set $c00 (v128.const f32x4 0 0 0 0))
                (local.set $c01 (v128.const f32x4 0 0 0 0))
                (local.set $c10 (v128.const f32x4 0 0 0 0))
                (local.set $c11 (v128.const f32x4 0 0 0 0))
                (local.set $c20 (v128.const f32x4 0 0 0 0))
                (local.set $c21 (v128.const f32x4 0 0 0 0))
                (local.set $c30 (v128.const f32x4 0 0 0 0))
                (local.set $c31 (v128.const f32x4 0 0 0 0))
              ))
            (local.set $pb (i32.add (local.get $bp) (i32.mul (local.get $j) (local.get $pstride))))
            ;; row pointers q, pa1..pa3 walk the 4 rows of A (k two steps at a time, then one
            ;; tail step); v: where row 0 ends
            (local.set $q (local.get $pa))
            (local.set $pa1 (i32.add (local.get $pa) (local.get $ldab)))
            (local.set $pa2 (i32.add (local.get $pa1) (local.get $ldab)))
            (local.set $pa3 (i32.add (local.get $pa2) (local.get $ldab)))
            (local.set $v (i32.add (local.get $pa) (local.get $kb)))
            (block $k2_done
              (loop $k2loop
                (br_if $k2_done (i32.gt_u (i32.add (local.get $q) (i32.const 8)) (local.get $v)))
                (local.set $b0 (v128.load offset=0 (local.get $pb)))
                (local.set $b1 (v128.load offset=16 (local.get $pb)))
                (local.set $x (v128.load32_splat offset=0 (local.get $q)))
                (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
                (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa1)))
                (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
                (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa2)))
                (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
                (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa3)))
                (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
                (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
                (local.set $b0 (v128.load offset=32 (local.get $pb)))
                (local.set $b1 (v128.load offset=48 (local.get $pb)))
                (local.set $x (v128.load32_splat offset=4 (local.get $q)))
                (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
                (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
                (local.set $x (v128.load32_splat offset=4 (local.get $pa1)))
                (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
                (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
                (local.set $x (v128.load32_splat offset=4 (local.get $pa2)))
                (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
                (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
                (local.set $x (v128.load32_splat offset=4 (local.get $pa3)))
                (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
                (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
                (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
                (local.set $q (i32.add (local.get $q) (i32.const 8)))
                (local.set $pa1 (i32.add (local.get $pa1) (i32.const 8)))
                (local.set $pa2 (i32.add (local.get $pa2) (i32.const 8)))
                (local.set $pa3 (i32.add (local.get $pa3) (i32.const 8)))
                (br $k2loop)))
            (if (i32.lt_u (local.get $q) (local.get $v))
              (then
                (local.set $b0 (v128.load offset=0 (local.get $pb)))
                (local.set $b1 (v128.load offset=16 (local.get $pb)))
                (local.set $x (v128.load32_splat offset=0 (local.get $q)))
                (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
                (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa1)))
                (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
                (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa2)))
                (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
                (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa3)))
                (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
                (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c00))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c01))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c10))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c11))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c20))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c21))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c30))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c31))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; gemm with A packed by pack_a: row block i holds k groups of 4 floats (one per row) at
  ;; a + i*astride*4 bytes (astride = 4 * the packed k). Same B, C, lim and modes as gemm.
  ;; One pointer for A instead of four row pointers: ~25% fewer instructions per k.
  (func $gemm_pa (export "gemm_pa")
    (param $a i32) (param $astride i32) (param $bp i32) (param $pstride i32) (param $c i32)
    (param $ldc i32) (param $mb i32) (param $np i32) (param $k i32) (param $lim i32)
    (param $mode i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $q i32) (local $nj i32) (local $kb i32) (local $v i32)
    (local $pa i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32) (local $pb i32) (local $pc i32) (local $ldab i32) (local $ldcb i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $ldab (i32.shl (local.get $astride) (i32.const 2)))
    (local.set $ldcb (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $mb)))
        (local.set $nj (local.get $np))
        (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
        (if (local.get $lim)
          (then
            (local.set $v (i32.load (i32.add (local.get $lim) (i32.shl (local.get $i) (i32.const 2)))))
            (if (i32.eqz (local.get $mode))
              (then
                (local.set $v (i32.shr_u (i32.add (local.get $v) (i32.const 7)) (i32.const 3)))
                (if (i32.lt_u (local.get $v) (local.get $nj)) (then (local.set $nj (local.get $v)))))
              (else
                (if (i32.lt_u (local.get $v) (local.get $k))
                  (then (local.set $kb (i32.shl (local.get $v) (i32.const 2)))))))))
        ;; pa: the 4 interleaved rows of A; pc: first of the 4 rows of C
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ldab))))
        (local.set $pc (i32.add (local.get $c) (i32.mul (i32.shl (local.get $i) (i32.const 2)) (local.get $ldcb))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $nj)))
            (if (local.get $acc)
              (then
                (local.set $c00 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c01 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c10 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c11 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c20 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c21 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c30 (v128.load offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
                (local.set $c31 (v128.load offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5))))))
              )
              (else
                (local.set $c00 (v128.const f32x4 0 0 0 0))
                (local.set $c01 (v128.const f32x4 0 0 0 0))
                (local.set $c10 (v128.const f32x4 0 0 0 0))
                (local.set $c11 (v128.const f32x4 0 0 0 0))
                (local.set $c20 (v128.const f32x4 0 0 0 0))
                (local.set $c21 (v128.const f32x4 0 0 0 0))
                (local.set $c30 (v128.const f32x4 0 0 0 0))
                (local.set $c31 (v128.const f32x4 0 0 0 0))
              ))
            (local.set $pb (i32.add (local.get $bp) (i32.mul (local.get $j) (local.get $pstride))))
                        ;; one pointer walks the interleaved A (16 bytes per k), one the B panel (32);
            ;; the 4 rows are immediate offsets: no per-row address arithmetic
            (local.set $pa1 (local.get $pa))
            (local.set $pa2 (i32.add (local.get $pa) (i32.shl (local.get $kb) (i32.const 2))))
            (block $k2_done
              (loop $k2loop
                (br_if $k2_done (i32.gt_u (i32.add (local.get $pa1) (i32.const 32)) (local.get $pa2)))
                (local.set $b0 (v128.load offset=0 (local.get $pb)))
                (local.set $b1 (v128.load offset=16 (local.get $pb)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa1)))
                (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
                (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
                (local.set $x (v128.load32_splat offset=4 (local.get $pa1)))
                (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
                (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
                (local.set $x (v128.load32_splat offset=8 (local.get $pa1)))
                (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
                (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
                (local.set $x (v128.load32_splat offset=12 (local.get $pa1)))
                (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
                (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
                (local.set $b0 (v128.load offset=32 (local.get $pb)))
                (local.set $b1 (v128.load offset=48 (local.get $pb)))
                (local.set $x (v128.load32_splat offset=16 (local.get $pa1)))
                (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
                (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
                (local.set $x (v128.load32_splat offset=20 (local.get $pa1)))
                (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
                (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
                (local.set $x (v128.load32_splat offset=24 (local.get $pa1)))
                (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
                (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
                (local.set $x (v128.load32_splat offset=28 (local.get $pa1)))
                (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
                (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
                (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
                (local.set $pa1 (i32.add (local.get $pa1) (i32.const 32)))
                (br $k2loop)))
            (if (i32.lt_u (local.get $pa1) (local.get $pa2))
              (then
                (local.set $b0 (v128.load offset=0 (local.get $pb)))
                (local.set $b1 (v128.load offset=16 (local.get $pb)))
                (local.set $x (v128.load32_splat offset=0 (local.get $pa1)))
                (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
                (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
                (local.set $x (v128.load32_splat offset=4 (local.get $pa1)))
                (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
                (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
                (local.set $x (v128.load32_splat offset=8 (local.get $pa1)))
                (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
                (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
                (local.set $x (v128.load32_splat offset=12 (local.get $pa1)))
                (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
                (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c00))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 0) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c01))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c10))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 1) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c11))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c20))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 2) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c21))
            (v128.store offset=0 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c30))
            (v128.store offset=16 (i32.add (local.get $pc) (i32.add (i32.mul (i32.const 3) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 5)))) (local.get $c31))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; The product micro-kernel for matmul and linear: C[6*mb, 8*np] (=|+=) A . B with A packed
  ;; by pack_a6 (row block i: k groups of 6 floats at a + i*astride*4 bytes) and B as for
  ;; gemm. 6×8 register tile: 12 accumulators + 2 B vectors + 1 splat = 15 v128 values, what
  ;; V8 can keep in the 15 allocatable XMM registers (xmm15 is its scratch; 8×8 would spill).
  (func $gemm6 (export "gemm6")
    (param $a i32) (param $astride i32) (param $bp i32) (param $pstride i32) (param $c i32)
    (param $ldc i32) (param $mb i32) (param $np i32) (param $k i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $pa i32) (local $qa i32) (local $end i32) (local $pb i32)
    (local $pc i32) (local $ldcb i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128) (local $c40 v128) (local $c41 v128) (local $c50 v128) (local $c51 v128)
    (local.set $ldcb (i32.shl (local.get $ldc) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $mb)))
        (local.set $pa (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $astride)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $np)))
            (local.set $pc (i32.add (i32.add (local.get $c)
              (i32.mul (i32.mul (local.get $i) (i32.const 6)) (local.get $ldcb))) (i32.shl (local.get $j) (i32.const 5))))
            (if (local.get $acc)
              (then
            (local.set $c00 (v128.load offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 0) (local.get $ldcb)))))
            (local.set $c01 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 0) (local.get $ldcb)))))
            (local.set $c10 (v128.load offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 1) (local.get $ldcb)))))
            (local.set $c11 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 1) (local.get $ldcb)))))
            (local.set $c20 (v128.load offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 2) (local.get $ldcb)))))
            (local.set $c21 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 2) (local.get $ldcb)))))
            (local.set $c30 (v128.load offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 3) (local.get $ldcb)))))
            (local.set $c31 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 3) (local.get $ldcb)))))
            (local.set $c40 (v128.load offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 4) (local.get $ldcb)))))
            (local.set $c41 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 4) (local.get $ldcb)))))
            (local.set $c50 (v128.load offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 5) (local.get $ldcb)))))
            (local.set $c51 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 5) (local.get $ldcb))))))
              (else
            (local.set $c00 (v128.const i32x4 0 0 0 0))
            (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0))
            (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0))
            (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0))
            (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $c40 (v128.const i32x4 0 0 0 0))
            (local.set $c41 (v128.const i32x4 0 0 0 0))
            (local.set $c50 (v128.const i32x4 0 0 0 0))
            (local.set $c51 (v128.const i32x4 0 0 0 0))))
            (local.set $pb (i32.add (local.get $bp) (i32.mul (local.get $j) (local.get $pstride))))
            (local.set $qa (local.get $pa))
            (local.set $end (i32.add (local.get $pa) (i32.mul (local.get $k) (i32.const 24))))
            (block $k2_done
              (loop $k2loop
                (br_if $k2_done (i32.gt_u (i32.add (local.get $qa) (i32.const 48)) (local.get $end)))
            (local.set $b0 (v128.load offset=0 (local.get $pb)))
            (local.set $b1 (v128.load offset=16 (local.get $pb)))
            (local.set $x (v128.load32_splat offset=0 (local.get $qa)))
            (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
            (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
            (local.set $x (v128.load32_splat offset=4 (local.get $qa)))
            (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
            (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
            (local.set $x (v128.load32_splat offset=8 (local.get $qa)))
            (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
            (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
            (local.set $x (v128.load32_splat offset=12 (local.get $qa)))
            (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
            (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
            (local.set $x (v128.load32_splat offset=16 (local.get $qa)))
            (local.set $c40 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c40)))
            (local.set $c41 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c41)))
            (local.set $x (v128.load32_splat offset=20 (local.get $qa)))
            (local.set $c50 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c50)))
            (local.set $c51 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c51)))
            (local.set $b0 (v128.load offset=32 (local.get $pb)))
            (local.set $b1 (v128.load offset=48 (local.get $pb)))
            (local.set $x (v128.load32_splat offset=24 (local.get $qa)))
            (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
            (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
            (local.set $x (v128.load32_splat offset=28 (local.get $qa)))
            (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
            (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
            (local.set $x (v128.load32_splat offset=32 (local.get $qa)))
            (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
            (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
            (local.set $x (v128.load32_splat offset=36 (local.get $qa)))
            (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
            (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
            (local.set $x (v128.load32_splat offset=40 (local.get $qa)))
            (local.set $c40 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c40)))
            (local.set $c41 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c41)))
            (local.set $x (v128.load32_splat offset=44 (local.get $qa)))
            (local.set $c50 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c50)))
            (local.set $c51 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c51)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
            (local.set $qa (i32.add (local.get $qa) (i32.const 48)))
            (br $k2loop)))
            (if (i32.lt_u (local.get $qa) (local.get $end))
              (then
            (local.set $b0 (v128.load offset=0 (local.get $pb)))
            (local.set $b1 (v128.load offset=16 (local.get $pb)))
            (local.set $x (v128.load32_splat offset=0 (local.get $qa)))
            (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
            (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
            (local.set $x (v128.load32_splat offset=4 (local.get $qa)))
            (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
            (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
            (local.set $x (v128.load32_splat offset=8 (local.get $qa)))
            (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
            (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
            (local.set $x (v128.load32_splat offset=12 (local.get $qa)))
            (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
            (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
            (local.set $x (v128.load32_splat offset=16 (local.get $qa)))
            (local.set $c40 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c40)))
            (local.set $c41 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c41)))
            (local.set $x (v128.load32_splat offset=20 (local.get $qa)))
            (local.set $c50 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c50)))
            (local.set $c51 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c51)))
))
        (v128.store offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 0) (local.get $ldcb))) (local.get $c00))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 0) (local.get $ldcb))) (local.get $c01))
        (v128.store offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 1) (local.get $ldcb))) (local.get $c10))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 1) (local.get $ldcb))) (local.get $c11))
        (v128.store offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 2) (local.get $ldcb))) (local.get $c20))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 2) (local.get $ldcb))) (local.get $c21))
        (v128.store offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 3) (local.get $ldcb))) (local.get $c30))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 3) (local.get $ldcb))) (local.get $c31))
        (v128.store offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 4) (local.get $ldcb))) (local.get $c40))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 4) (local.get $ldcb))) (local.get $c41))
        (v128.store offset=0 (i32.add (local.get $pc) (i32.mul (i32.const 5) (local.get $ldcb))) (local.get $c50))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (i32.const 5) (local.get $ldcb))) (local.get $c51))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Packs A [m, k] (row stride ld) for gemm6: row block i (rows 6i..6i+5, zeros past m)
  ;; becomes k groups of the 6 rows' values at dst + i*k*24 bytes. Full blocks go 4 values
  ;; of k at a time (rows a..f: a 4×4 transpose of a..d by shuffles, e and f interleaved,
  ;; then the six stores of [a0 b0 c0 d0][e0 f0 a1 b1][c1 d1 e1 f1][a2 ..]..); the ragged
  ;; last block and the k tail are scalar.
  (func $pack_a6 (export "pack_a6")
    (param $src i32) (param $ld i32) (param $m i32) (param $k i32) (param $dst i32)
    (local $i i32) (local $p i32) (local $r i32) (local $s i32) (local $ldb i32) (local $rows i32)
    (local $c i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $r4 v128) (local $r5 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $u0 v128) (local $u1 v128)
    (local.set $ldb (i32.shl (local.get $ld) (i32.const 2)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
        (local.set $rows (i32.sub (local.get $m) (local.get $i)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $ldb))))
        (local.set $p (i32.const 0))
        (if (i32.ge_s (local.get $rows) (i32.const 6))
          (then
            (block $v_done
              (loop $v
                (br_if $v_done (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $k)))
                (local.set $c (i32.add (local.get $s) (i32.shl (local.get $p) (i32.const 2))))
                (local.set $r0 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r1 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r2 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r3 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r4 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r5 (v128.load (local.get $c)))
                ;; t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = c0 d0 c1 d1, t3 = c2 d2 c3 d3,
                ;; u0 = e0 f0 e1 f1, u1 = e2 f2 e3 f3
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r4) (local.get $r5)))
                (local.set $u1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r4) (local.get $r5)))
                ;; [a0 b0 c0 d0] [e0 f0 a1 b1] [c1 d1 e1 f1]
                (v128.store offset=0 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=16 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $t0)))
                (v128.store offset=32 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $u0)))
                ;; [a2 b2 c2 d2] [e2 f2 a3 b3] [c3 d3 e3 f3]
                (v128.store offset=48 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=64 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 24 25 26 27 28 29 30 31 (local.get $u1) (local.get $t1)))
                (v128.store offset=80 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t3) (local.get $u1)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 96)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $v)))))
        (block $k_done
          (loop $kloop
            (br_if $k_done (i32.ge_s (local.get $p) (local.get $k)))
            (local.set $r (i32.const 0))
            (loop $lanes
              (f32.store (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2)))
                (if (result f32) (i32.lt_s (local.get $r) (local.get $rows))
                  (then (f32.load (i32.add (i32.add (local.get $s) (i32.shl (local.get $p) (i32.const 2)))
                    (i32.mul (local.get $r) (local.get $ldb)))))
                  (else (f32.const 0))))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br_if $lanes (i32.lt_s (local.get $r) (i32.const 6))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 24)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $kloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 6)))
        (br $blocks))))

  ;; Packs A [m, k] (row stride ld) for gemm_pa: row block i (rows 4i..4i+3, rows past m as
  ;; zeros) becomes k groups of the 4 rows' values, at dst + i*k*16 bytes. Full blocks go 4
  ;; values of k at a time through a 4×4 transpose; the rest is scalar.
  (func $pack_a (export "pack_a")
    (param $src i32) (param $ld i32) (param $m i32) (param $k i32) (param $dst i32)
    (local $i i32) (local $p i32) (local $r i32) (local $s i32) (local $ldb i32) (local $rows i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $ldb (i32.shl (local.get $ld) (i32.const 2)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
        (local.set $rows (i32.sub (local.get $m) (local.get $i)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $ldb))))
        (local.set $p (i32.const 0))
        (if (i32.ge_s (local.get $rows) (i32.const 4))
          (then
            (block $v_done
              (loop $v
                (br_if $v_done (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $k)))
                (local.set $r (i32.add (local.get $s) (i32.shl (local.get $p) (i32.const 2))))
                (local.set $r0 (v128.load (local.get $r)))
                (local.set $r1 (v128.load (i32.add (local.get $r) (local.get $ldb))))
                (local.set $r2 (v128.load (i32.add (local.get $r) (i32.shl (local.get $ldb) (i32.const 1)))))
                (local.set $r3 (v128.load (i32.add (local.get $r) (i32.mul (local.get $ldb) (i32.const 3)))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                (v128.store offset=0 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=16 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=32 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=48 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $v)))))
        (block $k_done
          (loop $kloop
            (br_if $k_done (i32.ge_s (local.get $p) (local.get $k)))
            (local.set $r (i32.const 0))
            (loop $lanes
              (f32.store (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2)))
                (if (result f32) (i32.lt_s (local.get $r) (local.get $rows))
                  (then (f32.load (i32.add (i32.add (local.get $s) (i32.shl (local.get $p) (i32.const 2)))
                    (i32.mul (local.get $r) (local.get $ldb)))))
                  (else (f32.const 0))))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br_if $lanes (i32.lt_s (local.get $r) (i32.const 4))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $kloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $blocks))))

  ;; Packs B [k, n] (row stride ld) into panels of 8 columns (k rows of 8 floats each,
  ;; panel after panel from dst), zero-padding the last panel.
  (func $pack_b (export "pack_b")
    (param $src i32) (param $ld i32) (param $k i32) (param $n i32) (param $dst i32)
    (local $j i32) (local $p i32) (local $c i32) (local $w i32) (local $s i32)
    (block $done
      (loop $panels
        (br_if $done (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $w (i32.sub (local.get $n) (local.get $j)))
        (local.set $p (i32.const 0))
        (block $k_done
          (loop $rows
            (br_if $k_done (i32.ge_s (local.get $p) (local.get $k)))
            (local.set $s (i32.add (local.get $src)
              (i32.shl (i32.add (i32.mul (local.get $p) (local.get $ld)) (local.get $j)) (i32.const 2))))
            (if (i32.ge_s (local.get $w) (i32.const 8))
              (then
                (v128.store (local.get $dst) (v128.load (local.get $s)))
                (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s))))
              (else
                (local.set $c (i32.const 0))
                (loop $lanes
                  (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2)))
                    (select
                      (f32.load (i32.add (local.get $s) (i32.shl (local.get $c) (i32.const 2))))
                      (f32.const 0)
                      (i32.lt_s (local.get $c) (local.get $w))))
                  (local.set $c (i32.add (local.get $c) (i32.const 1)))
                  (br_if $lanes (i32.lt_s (local.get $c) (i32.const 8))))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $rows)))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $panels))))

  ;; Packs Bᵀ where B is given as [n, k] (row stride ld), e.g. the keys of Q·Kᵀ or a Linear
  ;; weight [out, in]: panel j, row p holds B[8j .. 8j+7, p]. Full panels go 4 values of k
  ;; at a time (two 4×4 transposes by shuffles); the ragged last panel and k tail are scalar.
  (func $pack_bt (export "pack_bt")
    (param $src i32) (param $ld i32) (param $n i32) (param $k i32) (param $dst i32)
    (local $j i32) (local $p i32) (local $c i32) (local $w i32) (local $s i32) (local $ldb i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $r4 v128) (local $r5 v128) (local $r6 v128) (local $r7 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local.set $ldb (i32.shl (local.get $ld) (i32.const 2)))
    (block $done
      (loop $panels
        (br_if $done (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $w (i32.sub (local.get $n) (local.get $j)))
        (local.set $p (i32.const 0))
        ;; s: B[j, 0]
        (local.set $s (i32.add (local.get $src)
          (i32.shl (i32.mul (local.get $j) (local.get $ld)) (i32.const 2))))
        (if (i32.ge_s (local.get $w) (i32.const 8))
          (then
            (block $v_done
              (loop $vrows
                (br_if $v_done (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $k)))
                (local.set $c (i32.add (local.get $s) (i32.shl (local.get $p) (i32.const 2))))
                (local.set $r0 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r1 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r2 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r3 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r4 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r5 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r6 (v128.load (local.get $c)))
                (local.set $c (i32.add (local.get $c) (local.get $ldb)))
                (local.set $r7 (v128.load (local.get $c)))
                ;; rows 0..3: t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = c0 d0 c1 d1, t3 = c2 d2 c3 d3
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r4) (local.get $r5)))
                (local.set $u1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r4) (local.get $r5)))
                (local.set $u2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r6) (local.get $r7)))
                (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r6) (local.get $r7)))
                ;; row p: (a0 b0 c0 d0)(e0 f0 g0 h0), row p+1: the 1s, ...
                (v128.store offset=0 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=16 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u2)))
                (v128.store offset=32 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=48 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u2)))
                (v128.store offset=64 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=80 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u1) (local.get $u3)))
                (v128.store offset=96 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (v128.store offset=112 (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u1) (local.get $u3)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 128)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $vrows)))))
        (block $k_done
          (loop $rows
            (br_if $k_done (i32.ge_s (local.get $p) (local.get $k)))
            (local.set $c (i32.const 0))
            (loop $lanes
              (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2)))
                (if (result f32) (i32.lt_s (local.get $c) (local.get $w))
                  (then (f32.load (i32.add (i32.add (local.get $s) (i32.shl (local.get $p) (i32.const 2)))
                    (i32.mul (local.get $c) (local.get $ldb)))))
                  (else (f32.const 0))))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br_if $lanes (i32.lt_s (local.get $c) (i32.const 8))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $rows)))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $panels))))

  ;; For each block of 4 mask rows (row stride mrs bytes, 0 = one broadcast row), the last
  ;; allowed key + 1, as an i32 at out + 4*block: keys past it need no scores at all.
  (func (export "mask_limits")
    (param $mask i32) (param $mrs i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $r i32) (local $m i32) (local $e i32) (local $o i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $m (i32.add (local.get $mask) (i32.mul (local.get $r) (local.get $mrs))))
        (local.set $e (local.get $cols))
        ;; 1) scalar steps down to a multiple of 16
        (block $a_done
          (loop $a
            (br_if $a_done (i32.eqz (i32.and (local.get $e) (i32.const 15))))
            (br_if $a_done (i32.load8_u (i32.sub (i32.add (local.get $m) (local.get $e)) (i32.const 1))))
            (local.set $e (i32.sub (local.get $e) (i32.const 1)))
            (br $a)))
        ;; 2) 16 blocked keys at a time
        (if (i32.eqz (i32.and (local.get $e) (i32.const 15)))
          (then
            (block $b_done
              (loop $b
                (br_if $b_done (i32.lt_s (local.get $e) (i32.const 16)))
                (br_if $b_done (v128.any_true
                  (v128.load (i32.sub (i32.add (local.get $m) (local.get $e)) (i32.const 16)))))
                (local.set $e (i32.sub (local.get $e) (i32.const 16)))
                (br $b)))
            ;; 3) scalar again inside the last 16
            (block $c_done
              (loop $c
                (br_if $c_done (i32.eqz (local.get $e)))
                (br_if $c_done (i32.load8_u (i32.sub (i32.add (local.get $m) (local.get $e)) (i32.const 1))))
                (local.set $e (i32.sub (local.get $e) (i32.const 1)))
                (br $c)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.shr_u (local.get $r) (i32.const 2)) (i32.const 2))))
        (if (i32.eqz (i32.and (local.get $r) (i32.const 3)))
          (then (i32.store (local.get $o) (local.get $e)))
          (else
            (if (i32.gt_s (local.get $e) (i32.load (local.get $o)))
              (then (i32.store (local.get $o) (local.get $e))))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; exp(x) for x <= 0 (the shifted softmax logits), four lanes: x = n·ln2 + r with
  ;; |r| <= ln2/2, exp(r) by a degree-7 Taylor polynomial (relative error < 2e-8 before
  ;; float32 rounding), times 2^n built in the exponent bits. n = round(x·log2 e) comes from
  ;; adding 1.5·2^23 (the float's low bits then hold n as an integer), which is cheaper than
  ;; f32x4.nearest + i32x4.trunc_sat. exp(-inf) and anything below -87.33 (under float32's
  ;; smallest normal) give exactly 0; NaN stays NaN.
  (func $exp4 (param $x v128) (result v128)
    (local $xc v128) (local $t v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $xc (f32x4.pmax (local.get $x) (v128.const f32x4 -87.5 -87.5 -87.5 -87.5)))
    (local.set $t (f32x4.relaxed_madd (local.get $xc)
      (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504)
      (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $n (f32x4.sub (local.get $t) (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $r (f32x4.relaxed_nmadd (local.get $n)
      (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375) (local.get $xc)))
    (local.set $r (f32x4.relaxed_nmadd (local.get $n)
      (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4) (local.get $r)))
    (local.set $p (f32x4.relaxed_madd (local.get $r)
      (v128.const f32x4 1.98412698e-4 1.98412698e-4 1.98412698e-4 1.98412698e-4)
      (v128.const f32x4 1.38888889e-3 1.38888889e-3 1.38888889e-3 1.38888889e-3)))
    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $r)
      (v128.const f32x4 8.33333333e-3 8.33333333e-3 8.33333333e-3 8.33333333e-3)))
    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $r)
      (v128.const f32x4 4.16666667e-2 4.16666667e-2 4.16666667e-2 4.16666667e-2)))
    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $r)
      (v128.const f32x4 0.166666667 0.166666667 0.166666667 0.166666667)))
    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $r) (v128.const f32x4 0.5 0.5 0.5 0.5)))
    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $r) (v128.const f32x4 1 1 1 1)))
    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $r) (v128.const f32x4 1 1 1 1)))
    ;; 2^n: (n + 127) << 23; the 1.5·2^23 offset's bits shift out
    (local.set $p (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (local.get $t) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (v128.bitselect (v128.const f32x4 0 0 0 0) (local.get $p)
      (f32x4.lt (local.get $x) (v128.const f32x4 -87.33 -87.33 -87.33 -87.33))))

  ;; In place x <- exp(x - max) over the floats in [p, end) (a multiple of 4 apart); returns
  ;; the four lane sums. $exp4's steps inlined with its constants in locals: V8 rebuilds a
  ;; v128.const at every use, which made a call per vector cost ~3x the arithmetic.
  (func $exp_sub_sum (param $p i32) (param $end i32) (param $vmax v128) (result v128)
    (local $x v128) (local $t v128) (local $n v128) (local $r v128) (local $q v128) (local $sum v128)
    (local $lo v128) (local $log2e v128) (local $shift v128) (local $ln2hi v128) (local $ln2lo v128)
    (local $c7 v128) (local $c6 v128) (local $c5 v128) (local $c4 v128) (local $c3 v128)
    (local $c2 v128) (local $one v128) (local $bias v128) (local $under v128)
    (local.set $lo (v128.const f32x4 -87.5 -87.5 -87.5 -87.5))
    (local.set $log2e (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))
    (local.set $shift (v128.const f32x4 12582912 12582912 12582912 12582912))
    (local.set $ln2hi (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
    (local.set $ln2lo (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
    (local.set $c7 (v128.const f32x4 1.98412698e-4 1.98412698e-4 1.98412698e-4 1.98412698e-4))
    (local.set $c6 (v128.const f32x4 1.38888889e-3 1.38888889e-3 1.38888889e-3 1.38888889e-3))
    (local.set $c5 (v128.const f32x4 8.33333333e-3 8.33333333e-3 8.33333333e-3 8.33333333e-3))
    (local.set $c4 (v128.const f32x4 4.16666667e-2 4.16666667e-2 4.16666667e-2 4.16666667e-2))
    (local.set $c3 (v128.const f32x4 0.166666667 0.166666667 0.166666667 0.166666667))
    (local.set $c2 (v128.const f32x4 0.5 0.5 0.5 0.5))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $bias (v128.const i32x4 127 127 127 127))
    (local.set $under (v128.const f32x4 -87.33 -87.33 -87.33 -87.33))
    (local.set $sum (v128.const f32x4 0 0 0 0))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (f32x4.sub (v128.load (local.get $p)) (local.get $vmax)))
        (local.set $t (f32x4.relaxed_madd (f32x4.pmax (local.get $x) (local.get $lo))
          (local.get $log2e) (local.get $shift)))
        (local.set $n (f32x4.sub (local.get $t) (local.get $shift)))
        (local.set $r (f32x4.relaxed_nmadd (local.get $n) (local.get $ln2hi)
          (f32x4.pmax (local.get $x) (local.get $lo))))
        (local.set $r (f32x4.relaxed_nmadd (local.get $n) (local.get $ln2lo) (local.get $r)))
        (local.set $q (f32x4.relaxed_madd (local.get $r) (local.get $c7) (local.get $c6)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $r) (local.get $c5)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $r) (local.get $c4)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $r) (local.get $c3)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $r) (local.get $c2)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $r) (local.get $one)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $r) (local.get $one)))
        (local.set $q (f32x4.mul (local.get $q)
          (i32x4.shl (i32x4.add (local.get $t) (local.get $bias)) (i32.const 23))))
        (local.set $q (v128.andnot (local.get $q) (f32x4.lt (local.get $x) (local.get $under))))
        (v128.store (local.get $p) (local.get $q))
        (local.set $sum (f32x4.add (local.get $sum) (local.get $q)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (local.get $sum))

  ;; How many of the n floats at p are ±inf or NaN (exponent bits all ones): the attention
  ;; drivers' check that V is finite, one pass over the copy they make anyway.
  (func (export "count_nonfinite") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $end4 i32) (local $acc v128) (local $e v128) (local $cnt i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $p)
      (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $e (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $p) (local.get $end4)))
        ;; a true lane is -1: subtracting counts it
        (local.set $acc (i32x4.sub (local.get $acc)
          (i32x4.eq (v128.and (v128.load (local.get $p)) (local.get $e)) (local.get $e))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $v)))
    (local.set $cnt (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
    (block $s_done
      (loop $s
        (br_if $s_done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eq (i32.and (i32.load (local.get $p)) (i32.const 0x7f800000)) (i32.const 0x7f800000))
          (then (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $s)))
    (local.get $cnt))

  ;; 1 when one of the n floats at p is NaN. Only rows whose maximum is -inf or +inf need it
  ;; (f32x4.pmax skips NaN; any other row gets NaN through its sum), so scalar is enough.
  (func $has_nan (param $p i32) (param $n i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $no
      (loop $l
        (br_if $no (i32.ge_u (local.get $p) (local.get $end)))
        (if (f32.ne (f32.load (local.get $p)) (f32.load (local.get $p)))
          (then (return (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $l)))
    (i32.const 0))

  ;; n floats at p <- NaN.
  (func $fill_nan (param $p i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (f32.store (local.get $p) (f32.const nan))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $l))))

  ;; Fused scale + mask + softmax, in place, over `rows` rows of `cols` scores (row stride
  ;; ld): x = s·scale; blocked keys (mask byte 0; mask = 0 means no mask, row stride mrs
  ;; bytes, 0 = one broadcast row) get -inf; then softmax stabilised by the row maximum.
  ;; A fully masked row becomes zeros; a row with +inf shares its weight among its +infs; a
  ;; row with a NaN becomes NaN.
  (func $softmax (export "softmax")
    (param $s i32) (param $ld i32) (param $rows i32) (param $cols i32) (param $scale f32)
    (param $mask i32) (param $mrs i32)
    (local $r i32) (local $row i32) (local $m i32) (local $j i32) (local $c4 i32) (local $cnt i32)
    (local $p i32)
    (local $vs v128) (local $vmax v128) (local $x v128) (local $vsum v128) (local $e v128)
    (local $max f32) (local $sum f32) (local $xs f32) (local $inv f32)
    (local.set $vs (f32x4.splat (local.get $scale)))
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (block $done
      (loop $rowloop
        (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $s)
          (i32.shl (i32.mul (local.get $r) (local.get $ld)) (i32.const 2))))
        (local.set $m (i32.add (local.get $mask) (i32.mul (local.get $r) (local.get $mrs))))
        ;; 1) scale, mask, row maximum
        (local.set $vmax (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $max (f32.const -inf))
        (local.set $j (i32.const 0))
        (block $v1_done
          (loop $v1
            (br_if $v1_done (i32.ge_s (local.get $j) (local.get $c4)))
            (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $x (f32x4.mul (v128.load (local.get $p)) (local.get $vs)))
            (if (local.get $mask)
              (then
                (local.set $x (v128.bitselect (local.get $x) (v128.const f32x4 -inf -inf -inf -inf)
                  (i32x4.ne
                    (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                      (v128.load32_zero (i32.add (local.get $m) (local.get $j)))))
                    (v128.const i32x4 0 0 0 0))))))
            (v128.store (local.get $p) (local.get $x))
            (local.set $vmax (f32x4.pmax (local.get $vmax) (local.get $x)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $v1)))
        (block $s1_done
          (loop $s1
            (br_if $s1_done (i32.ge_s (local.get $j) (local.get $cols)))
            (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $xs (f32.mul (f32.load (local.get $p)) (local.get $scale)))
            (if (local.get $mask)
              (then
                (if (i32.eqz (i32.load8_u (i32.add (local.get $m) (local.get $j))))
                  (then (local.set $xs (f32.const -inf))))))
            (f32.store (local.get $p) (local.get $xs))
            (local.set $max (f32.max (local.get $max) (local.get $xs)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $s1)))
        (local.set $max (f32.max (local.get $max)
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
            (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax))))))
        ;; the vector maximum (pmax) skips NaN: a row whose maximum is -inf or +inf must
        ;; look for one (any other row gets a NaN through its sum)
        (if (f32.eq (local.get $max) (f32.const -inf))
          (then
            (if (call $has_nan (local.get $row) (local.get $cols))
              (then (call $fill_nan (local.get $row) (local.get $cols)))
              (else
                ;; fully masked row: zeros
                (memory.fill (local.get $row) (i32.const 0)
                  (i32.shl (local.get $cols) (i32.const 2))))))
          (else
            (if (f32.eq (local.get $max) (f32.const inf))
              (then
                (if (call $has_nan (local.get $row) (local.get $cols))
                  (then (call $fill_nan (local.get $row) (local.get $cols)))
                  (else
                ;; +inf logits share the weight equally
                (local.set $cnt (i32.const 0))
                (local.set $j (i32.const 0))
                (block $i1_done
                  (loop $i1
                    (br_if $i1_done (i32.ge_s (local.get $j) (local.get $cols)))
                    (if (f32.eq (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                          (f32.const inf))
                      (then (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $i1)))
                (local.set $inv (f32.div (f32.const 1) (f32.convert_i32_s (local.get $cnt))))
                (local.set $j (i32.const 0))
                (block $i2_done
                  (loop $i2
                    (br_if $i2_done (i32.ge_s (local.get $j) (local.get $cols)))
                    (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                    (f32.store (local.get $p)
                      (select (local.get $inv) (f32.const 0)
                        (f32.eq (f32.load (local.get $p)) (f32.const inf))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $i2))))))
              (else
                ;; 2) e = exp(x - max), row sum
                (local.set $vmax (f32x4.splat (local.get $max)))
                (local.set $vsum (v128.const f32x4 0 0 0 0))
                (local.set $sum (f32.const 0))
                (local.set $j (i32.const 0))
                (local.set $vsum (call $exp_sub_sum (local.get $row)
                  (i32.add (local.get $row) (i32.shl (local.get $c4) (i32.const 2))) (local.get $vmax)))
                (local.set $j (local.get $c4))
                (block $s2_done
                  (loop $s2
                    (br_if $s2_done (i32.ge_s (local.get $j) (local.get $cols)))
                    (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                    (local.set $xs (f32x4.extract_lane 0 (call $exp4
                      (f32x4.splat (f32.sub (f32.load (local.get $p)) (local.get $max))))))
                    (f32.store (local.get $p) (local.get $xs))
                    (local.set $sum (f32.add (local.get $sum) (local.get $xs)))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $s2)))
                (local.set $sum (f32.add (local.get $sum)
                  (f32.add
                    (f32.add (f32x4.extract_lane 0 (local.get $vsum)) (f32x4.extract_lane 1 (local.get $vsum)))
                    (f32.add (f32x4.extract_lane 2 (local.get $vsum)) (f32x4.extract_lane 3 (local.get $vsum))))))
                ;; 3) normalise
                (local.set $inv (f32.div (f32.const 1) (local.get $sum)))
                (local.set $x (f32x4.splat (local.get $inv)))
                (local.set $j (i32.const 0))
                (block $v3_done
                  (loop $v3
                    (br_if $v3_done (i32.ge_s (local.get $j) (local.get $c4)))
                    (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                    (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $x)))
                    (local.set $j (i32.add (local.get $j) (i32.const 4)))
                    (br $v3)))
                (block $s3_done
                  (loop $s3
                    (br_if $s3_done (i32.ge_s (local.get $j) (local.get $cols)))
                    (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                    (f32.store (local.get $p) (f32.mul (f32.load (local.get $p)) (local.get $inv)))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $s3)))))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowloop))))

  ;; The fused row backward of softmax (log = 0; y = p) and logSoftmax (log = 1; y = log p)
  ;; over `rows` contiguous rows of `cols` floats, dL/dx written over dy (each row's dy is
  ;; read whole in pass 1 before pass 2 overwrites it entry by entry):
  ;;   softmax:    dx_j = p_j (dy_j - Σ_i p_i dy_i)
  ;;   logSoftmax: dx_j = dy_j - e^{y_j} Σ_i dy_i, and a row of -inf (fully masked) gets 0.
  ;; Float32 sums in four lanes, combined (l0 + l1) + (l2 + l3), then the tail.
  (func (export "softmax_backward")
    (param $y i32) (param $dy i32) (param $rows i32) (param $cols i32) (param $log i32)
    (local $r i32) (local $yr i32) (local $dr i32) (local $j i32) (local $c4 i32) (local $off i32)
    (local $vacc v128) (local $vs v128) (local $live v128) (local $yv v128)
    (local $acc f32) (local $s f32) (local $any i32) (local $ys f32)
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (block $done
      (loop $rowloop
        (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $off (i32.shl (i32.mul (local.get $r) (local.get $cols)) (i32.const 2)))
        (local.set $yr (i32.add (local.get $y) (local.get $off)))
        (local.set $dr (i32.add (local.get $dy) (local.get $off)))
        (local.set $vacc (v128.const f32x4 0 0 0 0))
        (local.set $acc (f32.const 0))
        (if (local.get $log)
          (then
            ;; 1) s = Σ dy; is any y above -inf (a live entry)?
            (local.set $live (v128.const i32x4 0 0 0 0))
            (local.set $any (i32.const 0))
            (local.set $j (i32.const 0))
            (block $l1_done
              (loop $l1
                (br_if $l1_done (i32.ge_s (local.get $j) (local.get $c4)))
                (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                (local.set $vacc (f32x4.add (local.get $vacc)
                  (v128.load (i32.add (local.get $dr) (local.get $off)))))
                (local.set $live (v128.or (local.get $live)
                  (f32x4.ne (v128.load (i32.add (local.get $yr) (local.get $off)))
                    (v128.const f32x4 -inf -inf -inf -inf))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $l1)))
            (local.set $any (v128.any_true (local.get $live)))
            (block $t1_done
              (loop $t1
                (br_if $t1_done (i32.ge_s (local.get $j) (local.get $cols)))
                (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                (local.set $acc (f32.add (local.get $acc)
                  (f32.load (i32.add (local.get $dr) (local.get $off)))))
                (if (f32.ne (f32.load (i32.add (local.get $yr) (local.get $off))) (f32.const -inf))
                  (then (local.set $any (i32.const 1))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $t1)))
            (if (i32.eqz (local.get $any))
              (then
                ;; fully masked row: no gradient
                (memory.fill (local.get $dr) (i32.const 0) (i32.shl (local.get $cols) (i32.const 2))))
              (else
                (local.set $s (f32.add (local.get $acc)
                  (f32.add
                    (f32.add (f32x4.extract_lane 0 (local.get $vacc)) (f32x4.extract_lane 1 (local.get $vacc)))
                    (f32.add (f32x4.extract_lane 2 (local.get $vacc)) (f32x4.extract_lane 3 (local.get $vacc))))))
                (local.set $vs (f32x4.splat (local.get $s)))
                ;; 2) dx = dy - e^y · s (y <= 0: log-probabilities, as $exp4 needs)
                (local.set $j (i32.const 0))
                (block $l2_done
                  (loop $l2
                    (br_if $l2_done (i32.ge_s (local.get $j) (local.get $c4)))
                    (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                    (v128.store (i32.add (local.get $dr) (local.get $off))
                      (f32x4.sub (v128.load (i32.add (local.get $dr) (local.get $off)))
                        (f32x4.mul (call $exp4 (v128.load (i32.add (local.get $yr) (local.get $off))))
                          (local.get $vs))))
                    (local.set $j (i32.add (local.get $j) (i32.const 4)))
                    (br $l2)))
                (block $t2_done
                  (loop $t2
                    (br_if $t2_done (i32.ge_s (local.get $j) (local.get $cols)))
                    (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                    (local.set $ys (f32x4.extract_lane 0 (call $exp4
                      (f32x4.splat (f32.load (i32.add (local.get $yr) (local.get $off)))))))
                    (f32.store (i32.add (local.get $dr) (local.get $off))
                      (f32.sub (f32.load (i32.add (local.get $dr) (local.get $off)))
                        (f32.mul (local.get $ys) (local.get $s))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $t2))))))
          (else
            ;; 1) s = Σ p·dy
            (local.set $j (i32.const 0))
            (block $l3_done
              (loop $l3
                (br_if $l3_done (i32.ge_s (local.get $j) (local.get $c4)))
                (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                (local.set $vacc (f32x4.add (local.get $vacc)
                  (f32x4.mul (v128.load (i32.add (local.get $yr) (local.get $off)))
                    (v128.load (i32.add (local.get $dr) (local.get $off))))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $l3)))
            (block $t3_done
              (loop $t3
                (br_if $t3_done (i32.ge_s (local.get $j) (local.get $cols)))
                (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                (local.set $acc (f32.add (local.get $acc)
                  (f32.mul (f32.load (i32.add (local.get $yr) (local.get $off)))
                    (f32.load (i32.add (local.get $dr) (local.get $off))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $t3)))
            (local.set $s (f32.add (local.get $acc)
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $vacc)) (f32x4.extract_lane 1 (local.get $vacc)))
                (f32.add (f32x4.extract_lane 2 (local.get $vacc)) (f32x4.extract_lane 3 (local.get $vacc))))))
            (local.set $vs (f32x4.splat (local.get $s)))
            ;; 2) dx = p · (dy - s); a masked row (p = 0) gets 0
            (local.set $j (i32.const 0))
            (block $l4_done
              (loop $l4
                (br_if $l4_done (i32.ge_s (local.get $j) (local.get $c4)))
                (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                (local.set $yv (v128.load (i32.add (local.get $yr) (local.get $off))))
                (v128.store (i32.add (local.get $dr) (local.get $off))
                  (f32x4.mul (local.get $yv)
                    (f32x4.sub (v128.load (i32.add (local.get $dr) (local.get $off))) (local.get $vs))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $l4)))
            (block $t4_done
              (loop $t4
                (br_if $t4_done (i32.ge_s (local.get $j) (local.get $cols)))
                (local.set $off (i32.shl (local.get $j) (i32.const 2)))
                (f32.store (i32.add (local.get $dr) (local.get $off))
                  (f32.mul (f32.load (i32.add (local.get $yr) (local.get $off)))
                    (f32.sub (f32.load (i32.add (local.get $dr) (local.get $off))) (local.get $s))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $t4)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowloop))))

  ;; The row backward of LayerNorm (centred = 1) and RMSNorm (centred = 0; stats' means are 0)
  ;; over `rows` rows of `d` floats, llm.c style from the forward's saved statistics:
  ;; stats holds (mean, rstd) per row as two f32; w the gain [d] (ones when there is none).
  ;; With norm = (x - mean)·rstd and dnorm = w·dy, per row:
  ;;   dx = rstd·(dnorm - centred·mean(dnorm) - norm·mean(dnorm·norm)), written over dy
  ;;   dw += dy·norm and db += dy, accumulated into the [d] buffers dw and db.
  ;; Float32 sums in four lanes, combined (l0 + l1) + (l2 + l3), then the tail.
  (func (export "layer_norm_backward")
    (param $x i32) (param $dy i32) (param $stats i32) (param $w i32) (param $dw i32)
    (param $db i32) (param $rows i32) (param $d i32) (param $centred i32)
    (local $r i32) (local $j i32) (local $d4 i32) (local $off i32) (local $xr i32) (local $dr i32)
    (local $vm v128) (local $vr v128) (local $va v128) (local $vb v128) (local $n v128)
    (local $g v128) (local $dn v128) (local $acca v128) (local $accb v128)
    (local $mean f32) (local $rstd f32) (local $sa f32) (local $sb f32) (local $ns f32)
    (local $gs f32) (local $dns f32) (local $a f32) (local $b f32)
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (block $done
      (loop $rowloop
        (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $off (i32.shl (i32.mul (local.get $r) (local.get $d)) (i32.const 2)))
        (local.set $xr (i32.add (local.get $x) (local.get $off)))
        (local.set $dr (i32.add (local.get $dy) (local.get $off)))
        (local.set $mean (f32.load (i32.add (local.get $stats) (i32.shl (local.get $r) (i32.const 3)))))
        (local.set $rstd
          (f32.load offset=4 (i32.add (local.get $stats) (i32.shl (local.get $r) (i32.const 3)))))
        (local.set $vm (f32x4.splat (local.get $mean)))
        (local.set $vr (f32x4.splat (local.get $rstd)))
        (local.set $acca (v128.const f32x4 0 0 0 0))
        (local.set $accb (v128.const f32x4 0 0 0 0))
        (local.set $sa (f32.const 0))
        (local.set $sb (f32.const 0))
        ;; 1) Σ dnorm and Σ dnorm·norm over the row; dw += dy·norm, db += dy
        (local.set $j (i32.const 0))
        (block $l1_done
          (loop $l1
            (br_if $l1_done (i32.ge_s (local.get $j) (local.get $d4)))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (local.set $n (f32x4.mul
              (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $vm))
              (local.get $vr)))
            (local.set $g (v128.load (i32.add (local.get $dr) (local.get $off))))
            (local.set $dn (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $off))) (local.get $g)))
            (local.set $acca (f32x4.add (local.get $acca) (local.get $dn)))
            (local.set $accb (f32x4.add (local.get $accb) (f32x4.mul (local.get $dn) (local.get $n))))
            (v128.store (i32.add (local.get $dw) (local.get $off))
              (f32x4.add (v128.load (i32.add (local.get $dw) (local.get $off)))
                (f32x4.mul (local.get $g) (local.get $n))))
            (v128.store (i32.add (local.get $db) (local.get $off))
              (f32x4.add (v128.load (i32.add (local.get $db) (local.get $off))) (local.get $g)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $l1)))
        (block $t1_done
          (loop $t1
            (br_if $t1_done (i32.ge_s (local.get $j) (local.get $d)))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (local.set $ns (f32.mul
              (f32.sub (f32.load (i32.add (local.get $xr) (local.get $off))) (local.get $mean))
              (local.get $rstd)))
            (local.set $gs (f32.load (i32.add (local.get $dr) (local.get $off))))
            (local.set $dns (f32.mul (f32.load (i32.add (local.get $w) (local.get $off))) (local.get $gs)))
            (local.set $sa (f32.add (local.get $sa) (local.get $dns)))
            (local.set $sb (f32.add (local.get $sb) (f32.mul (local.get $dns) (local.get $ns))))
            (f32.store (i32.add (local.get $dw) (local.get $off))
              (f32.add (f32.load (i32.add (local.get $dw) (local.get $off)))
                (f32.mul (local.get $gs) (local.get $ns))))
            (f32.store (i32.add (local.get $db) (local.get $off))
              (f32.add (f32.load (i32.add (local.get $db) (local.get $off))) (local.get $gs)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $t1)))
        ;; 2) the two row means (the mean term only when centred)
        (local.set $a (f32.div
          (f32.add (local.get $sa)
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acca)) (f32x4.extract_lane 1 (local.get $acca)))
              (f32.add (f32x4.extract_lane 2 (local.get $acca)) (f32x4.extract_lane 3 (local.get $acca)))))
          (f32.convert_i32_s (local.get $d))))
        (if (i32.eqz (local.get $centred)) (then (local.set $a (f32.const 0))))
        (local.set $b (f32.div
          (f32.add (local.get $sb)
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $accb)) (f32x4.extract_lane 1 (local.get $accb)))
              (f32.add (f32x4.extract_lane 2 (local.get $accb)) (f32x4.extract_lane 3 (local.get $accb)))))
          (f32.convert_i32_s (local.get $d))))
        (local.set $va (f32x4.splat (local.get $a)))
        (local.set $vb (f32x4.splat (local.get $b)))
        ;; 3) dx = rstd·(dnorm - a - norm·b) over dy (each dy read before it is overwritten)
        (local.set $j (i32.const 0))
        (block $l2_done
          (loop $l2
            (br_if $l2_done (i32.ge_s (local.get $j) (local.get $d4)))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (local.set $n (f32x4.mul
              (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $vm))
              (local.get $vr)))
            (local.set $dn (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $off)))
              (v128.load (i32.add (local.get $dr) (local.get $off)))))
            (v128.store (i32.add (local.get $dr) (local.get $off))
              (f32x4.mul (local.get $vr)
                (f32x4.sub (f32x4.sub (local.get $dn) (local.get $va))
                  (f32x4.mul (local.get $n) (local.get $vb)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $l2)))
        (block $t2_done
          (loop $t2
            (br_if $t2_done (i32.ge_s (local.get $j) (local.get $d)))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (local.set $ns (f32.mul
              (f32.sub (f32.load (i32.add (local.get $xr) (local.get $off))) (local.get $mean))
              (local.get $rstd)))
            (local.set $dns (f32.mul (f32.load (i32.add (local.get $w) (local.get $off)))
              (f32.load (i32.add (local.get $dr) (local.get $off)))))
            (f32.store (i32.add (local.get $dr) (local.get $off))
              (f32.mul (local.get $rstd)
                (f32.sub (f32.sub (local.get $dns) (local.get $a))
                  (f32.mul (local.get $ns) (local.get $b)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $t2)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowloop))))

  ;; C[6*mb, 8*np] = A[6*mb, k] . B (+ bias) over the whole k with the 6×8 tile (gemm6; A
  ;; packed by pack_a6). Work units are (6 row blocks = 36 rows, ncb panels) pairs, taken one
  ;; at a time from the shared i32 at `counter` (set to 0 first) by every thread running this
  ;; same call, panel block by panel block: the units of one block of B (ncb panels) follow
  ;; each other, so B is read from memory about once while the row chunks come back through
  ;; the cache (A of a Linear layer on 128 tokens is 256 KiB; its weight, 4 MiB, is what
  ;; costs to stream), and small units keep the threads evenly loaded. Per unit: k in slices
  ;; of kcb accumulated into C. B packed as `gemm` reads it (panel stride k*32 bytes).
  ;; bias = 0, or a pointer to 8*np floats added to the unit's columns at the end.
  (func $gemm_blocked (export "gemm_blocked")
    (param $a i32) (param $counter i32) (param $bp i32) (param $c i32) (param $ldc i32)
    (param $mb i32) (param $np i32) (param $k i32) (param $kcb i32) (param $ncb i32)
    (param $bias i32)
    (local $k0 i32) (local $j0 i32) (local $kc i32) (local $nc i32) (local $i i32) (local $j i32)
    (local $row i32) (local $end i32) (local $bv i32) (local $i0 i32) (local $nb i32)
    (local $ca i32) (local $cc i32) (local $u i32) (local $nrc i32)
    ;; row chunks of 6 row blocks
    (local.set $nrc (i32.div_u (i32.add (local.get $mb) (i32.const 5)) (i32.const 6)))
    (if (i32.eqz (local.get $nrc)) (then (return))) ;; m = 0: nothing to compute
    (block $all_done
      (loop $units
        (local.set $u (i32.atomic.rmw.add (local.get $counter) (i32.const 1)))
        (local.set $j0 (i32.mul (i32.div_u (local.get $u) (local.get $nrc)) (local.get $ncb)))
        (br_if $all_done (i32.ge_s (local.get $j0) (local.get $np)))
        (local.set $i0 (i32.mul (i32.rem_u (local.get $u) (local.get $nrc)) (i32.const 6)))
        (local.set $nb (i32.sub (local.get $mb) (local.get $i0)))
        (if (i32.gt_s (local.get $nb) (i32.const 6)) (then (local.set $nb (i32.const 6))))
        (local.set $nc (i32.sub (local.get $np) (local.get $j0)))
        (if (i32.gt_s (local.get $nc) (local.get $ncb)) (then (local.set $nc (local.get $ncb))))
        ;; this unit's A blocks (24·k bytes each) and C rows
        (local.set $ca (i32.add (local.get $a) (i32.mul (local.get $i0) (i32.mul (local.get $k) (i32.const 24)))))
        (local.set $cc (i32.add (local.get $c)
          (i32.shl (i32.mul (i32.mul (local.get $i0) (i32.const 6)) (local.get $ldc)) (i32.const 2))))
        (local.set $k0 (i32.const 0))
        (loop $kslices
          (local.set $kc (select (local.get $kcb) (i32.sub (local.get $k) (local.get $k0))
            (i32.lt_s (local.get $kcb) (i32.sub (local.get $k) (local.get $k0)))))
          (call $gemm6
            (i32.add (local.get $ca) (i32.mul (local.get $k0) (i32.const 24)))
            (i32.mul (local.get $k) (i32.const 6))
            (i32.add (local.get $bp) (i32.shl (i32.add (i32.mul (local.get $j0) (local.get $k))
              (local.get $k0)) (i32.const 5)))
            (i32.shl (local.get $k) (i32.const 5))
            (i32.add (local.get $cc) (i32.shl (local.get $j0) (i32.const 5)))
            (local.get $ldc) (local.get $nb) (local.get $nc) (local.get $kc)
            (i32.gt_s (local.get $k0) (i32.const 0)))
          (local.set $k0 (i32.add (local.get $k0) (local.get $kcb)))
          (br_if $kslices (i32.lt_s (local.get $k0) (local.get $k))))
        (if (local.get $bias)
          (then
            ;; columns 8*j0 .. 8*(j0 + nc) of the unit's rows, in bytes
            (local.set $end (i32.shl (i32.add (local.get $j0) (local.get $nc)) (i32.const 5)))
            (local.set $i (i32.const 0))
            (block $r_done
              (loop $rows
                (br_if $r_done (i32.ge_s (local.get $i) (i32.mul (local.get $nb) (i32.const 6))))
                (local.set $row (i32.add (local.get $cc)
                  (i32.shl (i32.mul (local.get $i) (local.get $ldc)) (i32.const 2))))
                (local.set $j (i32.shl (local.get $j0) (i32.const 5)))
                (block $c_done
                  (loop $cols
                    (br_if $c_done (i32.ge_s (local.get $j) (local.get $end)))
                    (local.set $bv (i32.add (local.get $row) (local.get $j)))
                    (v128.store (local.get $bv) (f32x4.add (v128.load (local.get $bv))
                      (v128.load (i32.add (local.get $bias) (local.get $j)))))
                    (local.set $j (i32.add (local.get $j) (i32.const 16)))
                    (br $cols)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $rows)))))
        (br $units))))

  ;; Rows of attention in chunks of 4 row blocks (16 rows), taken from the shared i32 at
  ;; `counter` (set to 0 first) by every thread that runs this same call, so a core slowed by
  ;; other work just takes fewer chunks; a chunk's scores stay in cache from Q·Kᵀ through
  ;; softmax to weights·V (at n = 2048 a thread's whole [rows, tk] block does not). Per chunk:
  ;; scores = Q·Kᵀ (Q packed by pack_a at pq, Kᵀ packed at pk), the fused scale + mask +
  ;; softmax on its real rows (of `rows` = tq), then out = weights·V (V packed at pv; the
  ;; weights are read in place: repacking them for gemm_pa cost more than it saved, 36 vs
  ;; 32 ms at n = 2048). lim as in `gemm` (0 or per-row-block key limits); mask/mrs as in
  ;; `softmax`.
  (func (export "attention_rows")
    (param $pq i32) (param $dk i32) (param $pk i32) (param $ps i32) (param $lds i32)
    (param $pv i32) (param $po i32) (param $ldo i32) (param $mb i32) (param $npk i32)
    (param $npv i32) (param $rows i32) (param $tk i32) (param $scale f32) (param $mask i32)
    (param $mrs i32) (param $lim i32) (param $counter i32)
    (local $c i32)
    (block $done
      (loop $chunks
        ;; the next chunk nobody has taken (threads running this same call share the counter)
        (local.set $c (i32.atomic.rmw.add (local.get $counter) (i32.const 4)))
        (br_if $done (i32.ge_s (local.get $c) (local.get $mb)))
        (call $attention_chunk (local.get $pq) (local.get $dk) (local.get $pk) (local.get $ps)
          (local.get $lds) (local.get $pv) (local.get $po) (local.get $ldo) (local.get $mb)
          (local.get $npk) (local.get $npv) (local.get $rows) (local.get $tk) (local.get $scale)
          (local.get $mask) (local.get $mrs) (local.get $lim) (local.get $c))
        (br $chunks))))

  ;; Many attention problems of the same sizes in one call (the heads and batch elements of
  ;; scaledDotProductAttention): problem p's operands are seven i32 pointers at desc + 28p
  ;; (pq, pk, ps, pv, po, mask, lim, each as in attention_rows; mask and lim 0 for none).
  ;; Work units are (problem, chunk of 4 row blocks) pairs, taken one at a time from the
  ;; shared i32 at `counter` (set to 0 first) by every thread running this same call, so
  ;; small problems (one head at n = 128) still keep every thread busy.
  (func (export "attention_batch")
    (param $desc i32) (param $nprob i32) (param $dk i32) (param $lds i32) (param $ldo i32)
    (param $mb i32) (param $npk i32) (param $npv i32) (param $rows i32) (param $tk i32)
    (param $scale f32) (param $mrs i32) (param $counter i32)
    (local $u i32) (local $p i32) (local $cpp i32) (local $d i32)
    (local.set $cpp (i32.shr_u (i32.add (local.get $mb) (i32.const 3)) (i32.const 2)))
    (block $done
      (loop $units
        (local.set $u (i32.atomic.rmw.add (local.get $counter) (i32.const 1)))
        (br_if $done (i32.ge_u (local.get $u) (i32.mul (local.get $nprob) (local.get $cpp))))
        (local.set $p (i32.div_u (local.get $u) (local.get $cpp)))
        (local.set $d (i32.add (local.get $desc) (i32.mul (local.get $p) (i32.const 28))))
        (call $attention_chunk
          (i32.load offset=0 (local.get $d)) (local.get $dk) (i32.load offset=4 (local.get $d))
          (i32.load offset=8 (local.get $d)) (local.get $lds) (i32.load offset=12 (local.get $d))
          (i32.load offset=16 (local.get $d)) (local.get $ldo) (local.get $mb) (local.get $npk)
          (local.get $npv) (local.get $rows) (local.get $tk) (local.get $scale)
          (i32.load offset=20 (local.get $d)) (local.get $mrs) (i32.load offset=24 (local.get $d))
          (i32.shl (i32.sub (local.get $u) (i32.mul (local.get $p) (local.get $cpp))) (i32.const 2)))
        (br $units))))

  ;; One chunk of attention_rows: row blocks c .. c+3 (16 query rows; fewer at the end).
  (func $attention_chunk
    (param $pq i32) (param $dk i32) (param $pk i32) (param $ps i32) (param $lds i32)
    (param $pv i32) (param $po i32) (param $ldo i32) (param $mb i32) (param $npk i32)
    (param $npv i32) (param $rows i32) (param $tk i32) (param $scale f32) (param $mask i32)
    (param $mrs i32) (param $lim i32) (param $c i32)
    (local $nb i32) (local $r i32) (local $s i32) (local $l i32)
    (local.set $nb (i32.sub (local.get $mb) (local.get $c)))
    (if (i32.gt_s (local.get $nb) (i32.const 4)) (then (local.set $nb (i32.const 4))))
    (local.set $r (i32.sub (local.get $rows) (i32.shl (local.get $c) (i32.const 2))))
    (if (i32.gt_s (local.get $r) (i32.shl (local.get $nb) (i32.const 2)))
      (then (local.set $r (i32.shl (local.get $nb) (i32.const 2)))))
    (local.set $s (i32.add (local.get $ps)
      (i32.shl (i32.mul (i32.shl (local.get $c) (i32.const 2)) (local.get $lds)) (i32.const 2))))
    (local.set $l (select (i32.add (local.get $lim) (i32.shl (local.get $c) (i32.const 2)))
      (i32.const 0) (local.get $lim)))
    (call $gemm_pa
      (i32.add (local.get $pq) (i32.shl (i32.mul (i32.shl (local.get $c) (i32.const 2)) (local.get $dk)) (i32.const 2)))
      (i32.shl (local.get $dk) (i32.const 2)) (local.get $pk) (i32.shl (local.get $dk) (i32.const 5))
      (local.get $s) (local.get $lds) (local.get $nb) (local.get $npk) (local.get $dk)
      (local.get $l) (i32.const 0) (i32.const 0))
    (call $softmax (local.get $s) (local.get $lds) (local.get $r) (local.get $tk)
      (local.get $scale)
      (select (i32.add (local.get $mask) (i32.mul (i32.shl (local.get $c) (i32.const 2)) (local.get $mrs)))
        (i32.const 0) (local.get $mask))
      (local.get $mrs))
    (call $gemm (local.get $s) (local.get $lds) (local.get $pv) (i32.shl (local.get $tk) (i32.const 5))
      (i32.add (local.get $po) (i32.shl (i32.mul (i32.shl (local.get $c) (i32.const 2)) (local.get $ldo)) (i32.const 2)))
      (local.get $ldo) (local.get $nb) (local.get $npv) (local.get $tk)
      (local.get $l) (i32.const 1) (i32.const 0)))

  ;; A packing job split by panels or row blocks: op 0 packs B [k, n] (pack_b), op 1 packs
  ;; Bᵀ (pack_bt), op 2 packs A [n, k] for gemm_pa (pack_a; n rows), op 3 for gemm6 (pack_a6).
  (func (export "pack") (param $op i32) (param $src i32) (param $ld i32) (param $n i32)
    (param $k i32) (param $dst i32)
    (if (i32.eq (local.get $op) (i32.const 3))
      (then (call $pack_a6 (local.get $src) (local.get $ld) (local.get $n) (local.get $k) (local.get $dst)))
      (else
    (if (i32.eq (local.get $op) (i32.const 2))
      (then (call $pack_a (local.get $src) (local.get $ld) (local.get $n) (local.get $k) (local.get $dst)))
      (else
        (if (local.get $op)
          (then (call $pack_bt (local.get $src) (local.get $ld) (local.get $n) (local.get $k) (local.get $dst)))
          (else (call $pack_b (local.get $src) (local.get $ld) (local.get $k) (local.get $n) (local.get $dst)))))))))

  ;; The online-softmax step of FlashAttention on one tile of scores s [rows, cols] (row stride
  ;; lds): x = s·scale, masked keys -> -inf; per row, m' = max(m, max x), p = exp(x - m') in
  ;; place, l' = e^(m - m')·l + Σp, and the running output row (ldo floats at acc) times
  ;; e^(m - m'). A row with nothing visible yet keeps m = -inf, l = 0 and gets p = 0, unless
  ;; the tile holds a NaN there (the maximum skips it): then p = NaN and l = NaN.
  (func $online_softmax
    (param $s i32) (param $lds i32) (param $rows i32) (param $cols i32) (param $scale f32)
    (param $mask i32) (param $mrs i32) (param $mrun i32) (param $lrun i32) (param $acc i32)
    (param $ldo i32)
    (local $r i32) (local $row i32) (local $m i32) (local $j i32) (local $c4 i32) (local $p i32)
    (local $vs v128) (local $vmax v128) (local $x v128) (local $vsum v128) (local $e v128)
    (local $max f32) (local $sum f32) (local $xs f32) (local $mold f32) (local $alpha f32)
    (local.set $vs (f32x4.splat (local.get $scale)))
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (block $done
      (loop $rowloop
        (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $s)
          (i32.shl (i32.mul (local.get $r) (local.get $lds)) (i32.const 2))))
        (local.set $m (i32.add (local.get $mask) (i32.mul (local.get $r) (local.get $mrs))))
        ;; 1) scale, mask, tile maximum
        (local.set $vmax (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $max (f32.const -inf))
        (local.set $j (i32.const 0))
        (block $v1_done
          (loop $v1
            (br_if $v1_done (i32.ge_s (local.get $j) (local.get $c4)))
            (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $x (f32x4.mul (v128.load (local.get $p)) (local.get $vs)))
            (if (local.get $mask)
              (then
                (local.set $x (v128.bitselect (local.get $x) (v128.const f32x4 -inf -inf -inf -inf)
                  (i32x4.ne
                    (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                      (v128.load32_zero (i32.add (local.get $m) (local.get $j)))))
                    (v128.const i32x4 0 0 0 0))))))
            (v128.store (local.get $p) (local.get $x))
            (local.set $vmax (f32x4.pmax (local.get $vmax) (local.get $x)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $v1)))
        (block $s1_done
          (loop $s1
            (br_if $s1_done (i32.ge_s (local.get $j) (local.get $cols)))
            (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $xs (f32.mul (f32.load (local.get $p)) (local.get $scale)))
            (if (local.get $mask)
              (then
                (if (i32.eqz (i32.load8_u (i32.add (local.get $m) (local.get $j))))
                  (then (local.set $xs (f32.const -inf))))))
            (f32.store (local.get $p) (local.get $xs))
            (local.set $max (f32.max (local.get $max) (local.get $xs)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $s1)))
        (local.set $max (f32.max (local.get $max)
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
            (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax))))))
        ;; 2) m' = max(m, tile max)
        (local.set $p (i32.add (local.get $mrun) (i32.shl (local.get $r) (i32.const 2))))
        (local.set $mold (f32.load (local.get $p)))
        (local.set $max (f32.max (local.get $max) (local.get $mold)))
        (if (f32.eq (local.get $max) (f32.const -inf))
          (then
            (if (call $has_nan (local.get $row) (local.get $cols))
              (then
                ;; a NaN the maximum skipped: p = NaN and l = NaN carry it to the output
                (call $fill_nan (local.get $row) (local.get $cols))
                (f32.store (i32.add (local.get $lrun) (i32.shl (local.get $r) (i32.const 2)))
                  (f32.const nan)))
              (else
                ;; nothing visible yet in this row: p = 0
                (memory.fill (local.get $row) (i32.const 0)
                  (i32.shl (local.get $cols) (i32.const 2))))))
          (else
            (f32.store (local.get $p) (local.get $max))
            ;; 3) p = exp(x - m'), row sum
            (local.set $vmax (f32x4.splat (local.get $max)))
            (local.set $vsum (v128.const f32x4 0 0 0 0))
            (local.set $sum (f32.const 0))
            (local.set $j (i32.const 0))
            (local.set $vsum (call $exp_sub_sum (local.get $row)
              (i32.add (local.get $row) (i32.shl (local.get $c4) (i32.const 2))) (local.get $vmax)))
            (local.set $j (local.get $c4))
            (block $s2_done
              (loop $s2
                (br_if $s2_done (i32.ge_s (local.get $j) (local.get $cols)))
                (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $xs (f32x4.extract_lane 0 (call $exp4
                  (f32x4.splat (f32.sub (f32.load (local.get $p)) (local.get $max))))))
                (f32.store (local.get $p) (local.get $xs))
                (local.set $sum (f32.add (local.get $sum) (local.get $xs)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $s2)))
            (local.set $sum (f32.add (local.get $sum)
              (f32.add
                (f32.add (f32x4.extract_lane 0 (local.get $vsum)) (f32x4.extract_lane 1 (local.get $vsum)))
                (f32.add (f32x4.extract_lane 2 (local.get $vsum)) (f32x4.extract_lane 3 (local.get $vsum))))))
            ;; 4) alpha = e^(m - m') (0 when m was -inf); l' = alpha·l + sum; O *= alpha
            (local.set $alpha (f32x4.extract_lane 0 (call $exp4
              (f32x4.splat (f32.sub (local.get $mold) (local.get $max))))))
            (local.set $p (i32.add (local.get $lrun) (i32.shl (local.get $r) (i32.const 2))))
            (f32.store (local.get $p) (f32.add (f32.mul (f32.load (local.get $p)) (local.get $alpha))
              (local.get $sum)))
            (if (f32.ne (local.get $alpha) (f32.const 1))
              (then
                (local.set $x (f32x4.splat (local.get $alpha)))
                (local.set $p (i32.add (local.get $acc)
                  (i32.shl (i32.mul (local.get $r) (local.get $ldo)) (i32.const 2))))
                (local.set $j (i32.const 0))
                (block $a_done
                  (loop $a
                    (br_if $a_done (i32.ge_s (local.get $j) (local.get $ldo)))
                    (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $x)))
                    (local.set $p (i32.add (local.get $p) (i32.const 16)))
                    (local.set $j (i32.add (local.get $j) (i32.const 4)))
                    (br $a)))))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowloop))))

  ;; FlashAttention over query blocks qb0, qb0 + qstep, ... (so threads interleave blocks and
  ;; share a causal mask's uneven work): a query block is bqb row blocks (4 rows each) of Q at
  ;; pq (packed by pack_a; mb row blocks in all, tq real rows); keys go in tiles of bk (a multiple of 8) up to
  ;; the block's largest key limit (lim, or tk). Kᵀ packed at pk, V packed at pv (panel stride
  ;; tk*32); s: this thread's [4*bqb, lds] scores tile; mrun, lrun: running max and sum per
  ;; row (4*mb floats each); the output [4*mb, ldo] at po is accumulated, then divided by l
  ;; (0 for a row that saw no key; NaN stays NaN).
  (func (export "flash_rows")
    (param $pq i32) (param $dk i32) (param $pk i32) (param $pv i32) (param $tk i32)
    (param $npv i32) (param $po i32) (param $ldo i32) (param $s i32) (param $lds i32)
    (param $mrun i32) (param $lrun i32) (param $qb0 i32) (param $qstep i32) (param $mb i32)
    (param $bqb i32) (param $bk i32) (param $scale f32) (param $mask i32) (param $mrs i32)
    (param $lim i32) (param $tq i32)
    (local $b i32) (local $i0 i32) (local $rb i32) (local $rows i32) (local $r i32) (local $kmax i32)
    (local $j0 i32) (local $cols i32) (local $acc i32) (local $v i32) (local $p i32) (local $j i32)
    (local $inv v128) (local $l f32)
    (local.set $b (local.get $qb0))
    (block $done
      (loop $qblocks
        (local.set $i0 (i32.mul (local.get $b) (local.get $bqb)))
        (br_if $done (i32.ge_s (local.get $i0) (local.get $mb)))
        (local.set $rb (i32.sub (local.get $mb) (local.get $i0)))
        (if (i32.gt_s (local.get $rb) (local.get $bqb)) (then (local.set $rb (local.get $bqb))))
        (local.set $rows (i32.sub (local.get $tq) (i32.shl (local.get $i0) (i32.const 2))))
        (if (i32.gt_s (local.get $rows) (i32.shl (local.get $rb) (i32.const 2)))
          (then (local.set $rows (i32.shl (local.get $rb) (i32.const 2)))))
        (local.set $acc (i32.add (local.get $po)
          (i32.shl (i32.mul (i32.shl (local.get $i0) (i32.const 2)) (local.get $ldo)) (i32.const 2))))
        ;; 1) m = -inf, l = 0, O = 0 for the block's rows
        (local.set $r (i32.const 0))
        (block $i_done
          (loop $init
            (br_if $i_done (i32.ge_s (local.get $r) (i32.shl (local.get $rb) (i32.const 2))))
            (local.set $p (i32.shl (i32.add (i32.shl (local.get $i0) (i32.const 2)) (local.get $r)) (i32.const 2)))
            (f32.store (i32.add (local.get $mrun) (local.get $p)) (f32.const -inf))
            (f32.store (i32.add (local.get $lrun) (local.get $p)) (f32.const 0))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $init)))
        (memory.fill (local.get $acc) (i32.const 0)
          (i32.shl (i32.mul (i32.shl (local.get $rb) (i32.const 2)) (local.get $ldo)) (i32.const 2)))
        ;; 2) keys past every row's last allowed key are never visited
        (local.set $kmax (local.get $tk))
        (if (local.get $lim)
          (then
            (local.set $kmax (i32.const 0))
            (local.set $r (i32.const 0))
            (block $l_done
              (loop $lims
                (br_if $l_done (i32.ge_s (local.get $r) (local.get $rb)))
                (local.set $v (i32.load (i32.add (local.get $lim)
                  (i32.shl (i32.add (local.get $i0) (local.get $r)) (i32.const 2)))))
                (if (i32.gt_s (local.get $v) (local.get $kmax)) (then (local.set $kmax (local.get $v))))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $lims)))))
        (local.set $j0 (i32.const 0))
        (block $k_done
          (loop $ktiles
            (br_if $k_done (i32.ge_s (local.get $j0) (local.get $kmax)))
            (local.set $cols (i32.sub (local.get $tk) (local.get $j0)))
            (if (i32.gt_s (local.get $cols) (local.get $bk)) (then (local.set $cols (local.get $bk))))
            ;; 3) S [4rb, cols] = Q block · Kᵀ tile
            (call $gemm_pa
              (i32.add (local.get $pq) (i32.shl (i32.mul (i32.shl (local.get $i0) (i32.const 2)) (local.get $dk)) (i32.const 2)))
              (i32.shl (local.get $dk) (i32.const 2))
              (i32.add (local.get $pk) (i32.shl (i32.mul (i32.shr_u (local.get $j0) (i32.const 3)) (local.get $dk)) (i32.const 5)))
              (i32.shl (local.get $dk) (i32.const 5))
              (local.get $s) (local.get $lds) (local.get $rb)
              (i32.shr_u (i32.add (local.get $cols) (i32.const 7)) (i32.const 3))
              (local.get $dk) (i32.const 0) (i32.const 0) (i32.const 0))
            ;; 4) online softmax; O rows rescaled
            (call $online_softmax (local.get $s) (local.get $lds) (local.get $rows) (local.get $cols)
              (local.get $scale)
              (select
                (i32.add (i32.add (local.get $mask)
                  (i32.mul (i32.shl (local.get $i0) (i32.const 2)) (local.get $mrs))) (local.get $j0))
                (i32.const 0) (local.get $mask))
              (local.get $mrs)
              (i32.add (local.get $mrun) (i32.shl (local.get $i0) (i32.const 4)))
              (i32.add (local.get $lrun) (i32.shl (local.get $i0) (i32.const 4)))
              (local.get $acc) (local.get $ldo))
            ;; 5) O += P [4rb, cols] · V tile [cols, 8npv]
            (call $gemm (local.get $s) (local.get $lds)
              (i32.add (local.get $pv) (i32.shl (local.get $j0) (i32.const 5)))
              (i32.shl (local.get $tk) (i32.const 5))
              (local.get $acc) (local.get $ldo) (local.get $rb) (local.get $npv) (local.get $cols)
              (i32.const 0) (i32.const 0) (i32.const 1))
            (local.set $j0 (i32.add (local.get $j0) (local.get $bk)))
            (br $ktiles)))
        ;; 6) O /= l (0 where l = 0)
        (local.set $r (i32.const 0))
        (block $f_done
          (loop $fin
            (br_if $f_done (i32.ge_s (local.get $r) (local.get $rows)))
            (local.set $l (f32.load (i32.add (local.get $lrun)
              (i32.shl (i32.add (i32.shl (local.get $i0) (i32.const 2)) (local.get $r)) (i32.const 2)))))
            ;; l = 0: the row saw no key; a NaN l stays NaN
            (local.set $inv (f32x4.splat (select (f32.const 0) (f32.div (f32.const 1) (local.get $l))
              (f32.eq (local.get $l) (f32.const 0)))))
            (local.set $p (i32.add (local.get $acc)
              (i32.shl (i32.mul (local.get $r) (local.get $ldo)) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $d_done
              (loop $d
                (br_if $d_done (i32.ge_s (local.get $j) (local.get $ldo)))
                (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $inv)))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $d)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $fin)))
        (local.set $b (i32.add (local.get $b) (local.get $qstep)))
        (br $qblocks))))

  ;; The backward of many small attention problems of the same sizes, whole (formulas in
  ;; attention_backward.ts), one problem per unit from the shared i32 at `counter` (set to 0
  ;; first) by every thread running this same call. Problem u's operands are 19 i32 byte
  ;; pointers at desc + 76u: pq pk pv pdo (Q [tq, dk], K' [tk, dk], V' [tk, dv], dO [tq, dv],
  ;; rows past tq/tk readable), pkt pvt (Kᵀ, Vᵀ panels), ps pdp ([4mb, lds] S then dS·scale,
  ;; dP'), ppt pdst ([4mbk, tq] (P)ᵀ and (dS·scale)ᵀ), pdob pkb pqb (dO, K, Q panels), pgq pgk
  ;; pgv (dQ [4mb, ldd], dK [4mbk, ldd], dV [4mbk, ldv]), pl pd (L and D, tq floats each),
  ;; mask (0: none; row stride mrs, keys contiguous). want: 1 dV, 2 dQ, 4 dK.
  (func (export "attention_backward_batch")
    (param $desc i32) (param $nprob i32) (param $dk i32) (param $dv i32) (param $tq i32)
    (param $tk i32) (param $scale f32) (param $mrs i32) (param $want i32) (param $counter i32)
    (local $u i32)
    (block $done
      (loop $units
        (local.set $u (i32.atomic.rmw.add (local.get $counter) (i32.const 1)))
        (br_if $done (i32.ge_u (local.get $u) (local.get $nprob)))
        (call $attention_backward_problem (i32.add (local.get $desc) (i32.mul (local.get $u) (i32.const 76)))
          (local.get $dk) (local.get $dv) (local.get $tq) (local.get $tk) (local.get $scale)
          (local.get $mrs) (local.get $want))
        (br $units))))

  ;; One problem of attention_backward_batch: the packs, S = Q·Kᵀ and dP' = dO·Vᵀ, the
  ;; element-wise pass, then dV = Pᵀ·dO, dQ = dS·K and dK = dSᵀ·Q (scale already in dS).
  (func $attention_backward_problem
    (param $d i32) (param $dk i32) (param $dv i32) (param $tq i32) (param $tk i32)
    (param $scale f32) (param $mrs i32) (param $want i32)
    (local $mb i32) (local $mbk i32) (local $npk i32) (local $npd i32) (local $npv i32) (local $lds i32)
    (local.set $mb (i32.shr_u (i32.add (local.get $tq) (i32.const 3)) (i32.const 2)))
    (local.set $mbk (i32.shr_u (i32.add (local.get $tk) (i32.const 3)) (i32.const 2)))
    (local.set $npk (i32.shr_u (i32.add (local.get $tk) (i32.const 7)) (i32.const 3)))
    (local.set $npd (i32.shr_u (i32.add (local.get $dk) (i32.const 7)) (i32.const 3)))
    (local.set $npv (i32.shr_u (i32.add (local.get $dv) (i32.const 7)) (i32.const 3)))
    (local.set $lds (i32.shl (local.get $npk) (i32.const 3)))
    ;; S [4mb, lds] = Q [4mb, dk] · Kᵀ; dP' [4mb, lds] = dO [4mb, dv] · Vᵀ
    (call $pack_bt (i32.load offset=4 (local.get $d)) (local.get $dk) (local.get $tk) (local.get $dk)
      (i32.load offset=16 (local.get $d)))
    (call $pack_bt (i32.load offset=8 (local.get $d)) (local.get $dv) (local.get $tk) (local.get $dv)
      (i32.load offset=20 (local.get $d)))
    (call $gemm (i32.load offset=0 (local.get $d)) (local.get $dk) (i32.load offset=16 (local.get $d))
      (i32.shl (local.get $dk) (i32.const 5)) (i32.load offset=24 (local.get $d)) (local.get $lds)
      (local.get $mb) (local.get $npk) (local.get $dk) (i32.const 0) (i32.const 0) (i32.const 0))
    (call $gemm (i32.load offset=12 (local.get $d)) (local.get $dv) (i32.load offset=20 (local.get $d))
      (i32.shl (local.get $dv) (i32.const 5)) (i32.load offset=28 (local.get $d)) (local.get $lds)
      (local.get $mb) (local.get $npk) (local.get $dv) (i32.const 0) (i32.const 0) (i32.const 0))
    (call $attention_backward_scores (i32.load offset=24 (local.get $d)) (i32.load offset=28 (local.get $d))
      (local.get $lds) (i32.load offset=32 (local.get $d)) (i32.load offset=36 (local.get $d))
      (i32.load offset=64 (local.get $d)) (i32.load offset=68 (local.get $d))
      (i32.load offset=72 (local.get $d)) (local.get $mrs) (local.get $tq) (local.get $tk)
      (local.get $scale))
    ;; dV [4mbk, ldv] = Pᵀ [4mbk, tq] · dO [tq, ldv]
    (if (i32.and (local.get $want) (i32.const 1))
      (then
        (call $pack_b (i32.load offset=12 (local.get $d)) (local.get $dv) (local.get $tq) (local.get $dv)
          (i32.load offset=40 (local.get $d)))
        (call $gemm (i32.load offset=32 (local.get $d)) (local.get $tq) (i32.load offset=40 (local.get $d))
          (i32.shl (local.get $tq) (i32.const 5)) (i32.load offset=60 (local.get $d))
          (i32.shl (local.get $npv) (i32.const 3)) (local.get $mbk) (local.get $npv) (local.get $tq)
          (i32.const 0) (i32.const 0) (i32.const 0))))
    ;; dQ [4mb, ldd] = dS·scale [4mb, tk] · K' [tk, ldd]
    (if (i32.and (local.get $want) (i32.const 2))
      (then
        (call $pack_b (i32.load offset=4 (local.get $d)) (local.get $dk) (local.get $tk) (local.get $dk)
          (i32.load offset=44 (local.get $d)))
        (call $gemm (i32.load offset=24 (local.get $d)) (local.get $lds) (i32.load offset=44 (local.get $d))
          (i32.shl (local.get $tk) (i32.const 5)) (i32.load offset=52 (local.get $d))
          (i32.shl (local.get $npd) (i32.const 3)) (local.get $mb) (local.get $npd) (local.get $tk)
          (i32.const 0) (i32.const 0) (i32.const 0))))
    ;; dK [4mbk, ldd] = (dS·scale)ᵀ [4mbk, tq] · Q [tq, ldd]
    (if (i32.and (local.get $want) (i32.const 4))
      (then
        (call $pack_b (i32.load offset=0 (local.get $d)) (local.get $dk) (local.get $tq) (local.get $dk)
          (i32.load offset=48 (local.get $d)))
        (call $gemm (i32.load offset=36 (local.get $d)) (local.get $tq) (i32.load offset=48 (local.get $d))
          (i32.shl (local.get $tq) (i32.const 5)) (i32.load offset=56 (local.get $d))
          (i32.shl (local.get $npd) (i32.const 3)) (local.get $mbk) (local.get $npd) (local.get $tq)
          (i32.const 0) (i32.const 0) (i32.const 0)))))

  ;; The element-wise pass of the attention backward over rows i < tq, keys j < tk:
  ;; P_ij = exp(s_ij·scale − L_i) (the argument in float64; 0 for a masked key or a row with
  ;; L = -∞), dS_ij = P_ij·(dP'_ij − D_i) (0 where P = 0); dS·scale replaces S in place and
  ;; Pᵀ, (dS·scale)ᵀ go to ppt, pdst (row stride tq).
  (func $attention_backward_scores
    (param $ps i32) (param $pdp i32) (param $lds i32) (param $ppt i32) (param $pdst i32)
    (param $pl i32) (param $pd i32) (param $mask i32) (param $mrs i32) (param $tq i32)
    (param $tk i32) (param $scale f32)
    (local $i i32) (local $j i32) (local $s i32) (local $t i32) (local $m i32)
    (local $L f32) (local $D f32) (local $p f32) (local $ds f32)
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_s (local.get $i) (local.get $tq)))
        (local.set $L (f32.load (i32.add (local.get $pl) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $D (f32.load (i32.add (local.get $pd) (i32.shl (local.get $i) (i32.const 2)))))
        ;; byte offsets: row i of S and dP', column i of the transposed outputs, mask row i
        (local.set $s (i32.shl (i32.mul (local.get $i) (local.get $lds)) (i32.const 2)))
        (local.set $t (i32.shl (local.get $i) (i32.const 2)))
        (local.set $m (i32.add (local.get $mask) (i32.mul (local.get $i) (local.get $mrs))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_s (local.get $j) (local.get $tk)))
            (local.set $p (f32.const 0))
            (if (i32.and (f32.ne (local.get $L) (f32.const -inf))
                  (i32.or (i32.eqz (local.get $mask))
                    (i32.ne (i32.load8_u (i32.add (local.get $m) (local.get $j))) (i32.const 0))))
              (then
                (local.set $p (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (f32.demote_f64
                  (f64.sub
                    (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $ps) (local.get $s))))
                      (f64.promote_f32 (local.get $scale)))
                    (f64.promote_f32 (local.get $L))))))))))
            (local.set $ds (f32.const 0))
            (if (f32.ne (local.get $p) (f32.const 0))
              (then
                (local.set $ds (f32.mul (f32.mul (local.get $p)
                  (f32.sub (f32.load (i32.add (local.get $pdp) (local.get $s))) (local.get $D)))
                  (local.get $scale)))))
            (f32.store (i32.add (local.get $ps) (local.get $s)) (local.get $ds))
            (f32.store (i32.add (local.get $ppt) (local.get $t)) (local.get $p))
            (f32.store (i32.add (local.get $pdst) (local.get $t)) (local.get $ds))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (local.set $t (i32.add (local.get $t) (i32.shl (local.get $tq) (i32.const 2))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))
)
