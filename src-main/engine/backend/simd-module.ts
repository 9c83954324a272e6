import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/*
 * Kiln's own wasm SIMD loops, instantiated on the tfjs wasm module's memory so they read and write tensors in place.
 * tfjs's wasm build cannot be rebuilt here (no emscripten), and a chain of its stock kernels makes one full pass over
 * a tensor per operation: batch norm alone took a dozen passes forward and backward. These loops are small enough to
 * keep as text (assembled by wabt when the backend starts) and are checked against the cpu backend in the tests.
 *
 * Layout: an NHWC tensor seen as rows × C, C a multiple of 4; per-channel vectors are C floats; pointers are byte
 * offsets into the heap.
 */
const WAT = (memory: string) => `(module
  (import "env" "memory" ${memory})

  ;; o1[c] += Σ_r (a[r,c] − sa[c]);  o2[c] += Σ_r (a[r,c] − sa[c])·(b[r,c] − sb[c])
  (func (export "moments") (param $a i32) (param $b i32) (param $rows i32) (param $c i32)
        (param $sa i32) (param $sb i32) (param $o1 i32) (param $o2 i32)
    (local $r i32) (local $j i32) (local $row i32) (local $da v128) (local $db v128)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done (loop $rows_loop
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $cdone (loop $cols
        (br_if $cdone (i32.ge_u (local.get $j) (local.get $row)))
        (local.set $da (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $j))) (v128.load (i32.add (local.get $sa) (local.get $j)))))
        (local.set $db (f32x4.sub (v128.load (i32.add (local.get $b) (local.get $j))) (v128.load (i32.add (local.get $sb) (local.get $j)))))
        (v128.store (i32.add (local.get $o1) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $o1) (local.get $j))) (local.get $da)))
        (v128.store (i32.add (local.get $o2) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $o2) (local.get $j))) (f32x4.mul (local.get $da) (local.get $db))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols)))
      (local.set $a (i32.add (local.get $a) (local.get $row)))
      (local.set $b (i32.add (local.get $b) (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; as moments, with a[r,c] counted only where m[r,c] > 0 (the gradient through a ReLU whose output is m), sa = 0
  (func (export "moments_masked") (param $a i32) (param $m i32) (param $b i32) (param $rows i32) (param $c i32)
        (param $sb i32) (param $o1 i32) (param $o2 i32)
    (local $r i32) (local $j i32) (local $row i32) (local $da v128) (local $db v128)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done (loop $rows_loop
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $cdone (loop $cols
        (br_if $cdone (i32.ge_u (local.get $j) (local.get $row)))
        (local.set $da (v128.and (v128.load (i32.add (local.get $a) (local.get $j)))
          (f32x4.gt (v128.load (i32.add (local.get $m) (local.get $j))) (v128.const f32x4 0 0 0 0))))
        (local.set $db (f32x4.sub (v128.load (i32.add (local.get $b) (local.get $j))) (v128.load (i32.add (local.get $sb) (local.get $j)))))
        (v128.store (i32.add (local.get $o1) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $o1) (local.get $j))) (local.get $da)))
        (v128.store (i32.add (local.get $o2) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $o2) (local.get $j))) (f32x4.mul (local.get $da) (local.get $db))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols)))
      (local.set $a (i32.add (local.get $a) (local.get $row)))
      (local.set $m (i32.add (local.get $m) (local.get $row)))
      (local.set $b (i32.add (local.get $b) (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; MaxPool 2×2 stride 2 gradient over an input of exactly 2·rows × 2·cols pixels (rows = images × output rows):
  ;; each window's dy goes to the first position (row-major) holding its maximum, every other dx is 0.
  (func (export "maxpool2_grad") (param $x i32) (param $dy i32) (param $dx i32) (param $rows i32) (param $cols i32) (param $c i32)
    (local $r i32) (local $l i32) (local $j i32) (local $cb i32) (local $in i32) (local $p0 i32) (local $p1 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $best v128) (local $g v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128) (local $d v128) (local $taken v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $in (i32.mul (local.get $cb) (i32.shl (local.get $cols) (i32.const 1)))) ;; bytes of one input row
    (block $done (loop $rows_loop
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $l (i32.const 0))
      (block $ldone (loop $cols_loop
        (br_if $ldone (i32.ge_u (local.get $l) (local.get $cols)))
        ;; top-left of this window in the input (and dx), byte offset
        (local.set $p0 (i32.add (i32.mul (i32.shl (local.get $r) (i32.const 1)) (local.get $in))
                                (i32.mul (i32.shl (local.get $l) (i32.const 1)) (local.get $cb))))
        (local.set $p1 (i32.add (local.get $p0) (local.get $in)))
        (local.set $j (i32.const 0))
        (block $cdone (loop $chan
          (br_if $cdone (i32.ge_u (local.get $j) (local.get $cb)))
          (local.set $v0 (v128.load (i32.add (local.get $x) (i32.add (local.get $p0) (local.get $j)))))
          (local.set $v1 (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $p0) (local.get $cb)) (local.get $j)))))
          (local.set $v2 (v128.load (i32.add (local.get $x) (i32.add (local.get $p1) (local.get $j)))))
          (local.set $v3 (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $p1) (local.get $cb)) (local.get $j)))))
          ;; strictly greater, in order: the first maximum wins; NaN and an all −∞ window never do
          (local.set $g0 (f32x4.gt (local.get $v0) (v128.const f32x4 -inf -inf -inf -inf)))
          (local.set $best (v128.bitselect (local.get $v0) (v128.const f32x4 -inf -inf -inf -inf) (local.get $g0)))
          (local.set $g1 (f32x4.gt (local.get $v1) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v1) (local.get $best) (local.get $g1)))
          (local.set $g2 (f32x4.gt (local.get $v2) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $g2)))
          (local.set $g3 (f32x4.gt (local.get $v3) (local.get $best)))
          (local.set $d (v128.load (i32.add (local.get $dy) (local.get $j))))
          (local.set $taken (local.get $g3))
          (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $p1) (local.get $cb)) (local.get $j)))
            (v128.and (local.get $d) (local.get $g3)))
          (v128.store (i32.add (local.get $dx) (i32.add (local.get $p1) (local.get $j)))
            (v128.and (local.get $d) (v128.andnot (local.get $g2) (local.get $taken))))
          (local.set $taken (v128.or (local.get $taken) (local.get $g2)))
          (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $p0) (local.get $cb)) (local.get $j)))
            (v128.and (local.get $d) (v128.andnot (local.get $g1) (local.get $taken))))
          (local.set $taken (v128.or (local.get $taken) (local.get $g1)))
          (v128.store (i32.add (local.get $dx) (i32.add (local.get $p0) (local.get $j)))
            (v128.and (local.get $d) (v128.andnot (local.get $g0) (local.get $taken))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $chan)))
        (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $cols_loop)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; y[r,c] = max(x[r,c]·s[c] + t[c], lo) with lo = 0 (ReLU) or −∞
  (func (export "affine") (param $x i32) (param $y i32) (param $rows i32) (param $c i32)
        (param $s i32) (param $t i32) (param $relu i32)
    (local $r i32) (local $j i32) (local $row i32) (local $lo v128)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (local.set $lo (select (v128.const f32x4 0 0 0 0) (v128.const f32x4 -inf -inf -inf -inf) (local.get $relu)))
    (block $done (loop $rows_loop
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $cdone (loop $cols
        (br_if $cdone (i32.ge_u (local.get $j) (local.get $row)))
        (v128.store (i32.add (local.get $y) (local.get $j))
          (f32x4.max
            (f32x4.add
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $s) (local.get $j))))
              (v128.load (i32.add (local.get $t) (local.get $j))))
            (local.get $lo)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols)))
      (local.set $x (i32.add (local.get $x) (local.get $row)))
      (local.set $y (i32.add (local.get $y) (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; dx[r,c] = a[c]·dy[r,c] + b[c]·x[r,c] + k[c]
  (func (export "affine2") (param $dy i32) (param $x i32) (param $dx i32) (param $rows i32) (param $c i32)
        (param $pa i32) (param $pb i32) (param $pk i32)
    (local $r i32) (local $j i32) (local $row i32)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done (loop $rows_loop
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $cdone (loop $cols
        (br_if $cdone (i32.ge_u (local.get $j) (local.get $row)))
        (v128.store (i32.add (local.get $dx) (local.get $j))
          (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $pa) (local.get $j))))
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $pb) (local.get $j)))))
            (v128.load (i32.add (local.get $pk) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols)))
      (local.set $dy (i32.add (local.get $dy) (local.get $row)))
      (local.set $x (i32.add (local.get $x) (local.get $row)))
      (local.set $dx (i32.add (local.get $dx) (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; as affine2, with dy[r,c] taken as 0 where m[r,c] ≤ 0
  (func (export "affine2_masked") (param $dy i32) (param $m i32) (param $x i32) (param $dx i32) (param $rows i32) (param $c i32)
        (param $pa i32) (param $pb i32) (param $pk i32)
    (local $r i32) (local $j i32) (local $row i32)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done (loop $rows_loop
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $cdone (loop $cols
        (br_if $cdone (i32.ge_u (local.get $j) (local.get $row)))
        (v128.store (i32.add (local.get $dx) (local.get $j))
          (f32x4.add
            (f32x4.add
              (f32x4.mul
                (v128.and (v128.load (i32.add (local.get $dy) (local.get $j)))
                  (f32x4.gt (v128.load (i32.add (local.get $m) (local.get $j))) (v128.const f32x4 0 0 0 0)))
                (v128.load (i32.add (local.get $pa) (local.get $j))))
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $pb) (local.get $j)))))
            (v128.load (i32.add (local.get $pk) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols)))
      (local.set $dy (i32.add (local.get $dy) (local.get $row)))
      (local.set $m (i32.add (local.get $m) (local.get $row)))
      (local.set $x (i32.add (local.get $x) (local.get $row)))
      (local.set $dx (i32.add (local.get $dx) (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))
)`;

export interface SimdKernels {
  moments(a: number, b: number, rows: number, c: number, sa: number, sb: number, o1: number, o2: number): void;
  affine(x: number, y: number, rows: number, c: number, s: number, t: number, relu: number): void;
  affine2(dy: number, x: number, dx: number, rows: number, c: number, a: number, b: number, k: number): void;
  maxpool2_grad(x: number, dy: number, dx: number, rows: number, cols: number, c: number): void;
  moments_masked(a: number, m: number, b: number, rows: number, c: number, sb: number, o1: number, o2: number): void;
  affine2_masked(dy: number, m: number, x: number, dx: number, rows: number, c: number, a: number, b: number, k: number): void;
}

type WasmModuleLike = BackendWasm['wasm'] & { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };

const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();
type Wabt = Awaited<ReturnType<typeof import('wabt')>>;
let wabtReady: Promise<Wabt> | null = null;

/** The heap of a tfjs wasm module: imported by the threaded build, exported by the single-threaded one. */
function heapMemory(backend: BackendWasm): WebAssembly.Memory | null {
  const m = backend.wasm as WasmModuleLike;
  return m.wasmMemory ?? m.asm?.memory ?? null;
}

/**
 * Assembles and instantiates the SIMD loops on the active wasm backend's heap; null when that heap cannot be reached
 * (callers then use their tf-op path). Call once per backend before use (`simdKernels` is synchronous).
 */
export async function prepareSimdKernels(backend: BackendWasm): Promise<SimdKernels | null> {
  const memory = heapMemory(backend);
  if (!memory) return null;
  const known = instances.get(memory);
  if (known) return known;
  wabtReady ??= import('wabt').then((m) => (m as unknown as { default: () => Promise<Wabt> }).default());
  const wabt = await wabtReady;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const parsed = wabt.parseWat('kiln-simd.wat', WAT(shared ? '(memory 1 65536 shared)' : '(memory 1)'), { simd: true, threads: shared });
  try {
    const { buffer } = parsed.toBinary({});
    const module = await WebAssembly.compile(new Uint8Array(buffer));
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const kernels = instance.exports as unknown as SimdKernels;
    instances.set(memory, kernels);
    return kernels;
  } finally {
    parsed.destroy();
  }
}

/** The SIMD loops for this backend's heap, when prepareSimdKernels has made them. */
export function simdKernels(backend: BackendWasm): SimdKernels | null {
  const memory = heapMemory(backend);
  return memory ? (instances.get(memory) ?? null) : null;
}
