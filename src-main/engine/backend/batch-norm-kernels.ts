import { type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeInfos } from './wasm-kernel-call.ts';
import { simdKernels, type SimdKernels } from './simd-module.ts';

/*
 * Training-mode batch normalisation on wasm in three passes over the activation instead of a dozen stock kernels:
 *   KilnBnStats  x → per-channel mean and biased variance (one read of x),
 *   KilnBnApply  y = (x − mean)·γ/√(var+ε) + β, optionally ReLU'd (one read, one write),
 *   KilnBnGrad   dy, x → dx, dγ, dβ (two reads for the sums, one pass for dx); given the ReLU'd y as well, the
 *                gradient of relu(bn(x)), with the ReLU's mask applied inside the same passes.
 * batchNormTrain (ops/batch-norm.ts) uses them when the active backend has them and falls back to tf ops elsewhere.
 */
export const BN_STATS = 'KilnBnStats';
export const BN_APPLY = 'KilnBnApply';
export const BN_GRAD = 'KilnBnGrad';

/** Rows summed in float32 by the SIMD loop before the partial sums are added up in float64 here. */
const CHUNK_ROWS = 256;

function kernels(backend: BackendWasm): SimdKernels {
  const k = simdKernels(backend);
  if (!k) throw new Error('Kiln batch-norm kernels: the SIMD module was not prepared for this wasm backend');
  return k;
}

function geometry(x: TensorInfo): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1]!;
  if (c % 4 !== 0) throw new Error(`Kiln batch-norm kernels need a multiple of 4 channels, got ${c}`);
  return { rows: x.shape.reduce((a, b) => a * b, 1) / c, c };
}

/**
 * Σ_r (a − sa) and Σ_r (a − sa)(b − sb) per channel, in float64: the SIMD loop sums CHUNK_ROWS rows at a time in
 * float32, so rounding error grows with the chunk, not with the whole batch.
 */
function channelSums(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  shiftA: Float32Array,
  shiftB: Float32Array,
  mask?: TensorInfo,
): { s1: Float64Array; s2: Float64Array } {
  const { rows, c } = geometry(a);
  const k = kernels(backend);
  const scratch = backend.makeOutput([4, c], 'float32'); // sa, sb, o1, o2
  const base = backend.dataIdMap.get(scratch.dataId)!.memoryOffset;
  const view = () => backend.typedArrayFromHeap(scratch) as Float32Array;
  view().set(shiftA, 0);
  view().set(shiftB, c);
  const pa = backend.dataIdMap.get(a.dataId)!.memoryOffset;
  const pb = backend.dataIdMap.get(b.dataId)!.memoryOffset;
  const pm = mask ? backend.dataIdMap.get(mask.dataId)!.memoryOffset : 0;
  const s1 = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let r0 = 0; r0 < rows; r0 += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, rows - r0);
    const v = view();
    v.fill(0, 2 * c);
    const at = r0 * c * 4;
    if (mask) k.moments_masked(pa + at, pm + at, pb + at, n, c, base + 4 * c, base + 8 * c, base + 12 * c);
    else k.moments(pa + at, pb + at, n, c, base, base + 4 * c, base + 8 * c, base + 12 * c);
    for (let ch = 0; ch < c; ch++) {
      s1[ch]! += v[2 * c + ch]!;
      s2[ch]! += v[3 * c + ch]!;
    }
  }
  disposeInfos(backend, scratch);
  return { s1, s2 };
}

function vector(backend: BackendWasm, values: ArrayLike<number>): TensorInfo {
  const out = backend.makeOutput([values.length], 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(values);
  return out;
}

const read = (backend: BackendWasm, t: TensorInfo) => Float32Array.from(backend.typedArrayFromHeap(t) as Float32Array);
const ptr = (backend: BackendWasm, t: TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;

const bnStats: KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as BackendWasm;
  const x = inputs.x as TensorInfo;
  const { rows, c } = geometry(x);
  // Shifting by the first row keeps Σ(x−K)² − (Σ(x−K))²/n from cancelling when the mean is large against the spread.
  const shift = (wasm.typedArrayFromHeap(x) as Float32Array).slice(0, c);
  const { s1, s2 } = channelSums(wasm, x, x, shift, shift);
  const mean = new Float32Array(c);
  const variance = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    const m = s1[ch]! / rows;
    mean[ch] = shift[ch]! + m;
    variance[ch] = Math.max(0, s2[ch]! / rows - m * m);
  }
  return [vector(wasm, mean), vector(wasm, variance)];
};

const bnApply: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const { x, mean, variance, gamma, beta } = inputs as Record<string, TensorInfo>;
  const { epsilon, relu } = attrs as unknown as { epsilon: number; relu: boolean };
  const { rows, c } = geometry(x!);
  const [m, v, g, b] = [mean, variance, gamma, beta].map((t) => read(wasm, t!));
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    scale[ch] = g![ch]! / Math.sqrt(v![ch]! + epsilon);
    shift[ch] = b![ch]! - m![ch]! * scale[ch]!;
  }
  const s = vector(wasm, scale);
  const t = vector(wasm, shift);
  const y = wasm.makeOutput(x!.shape, 'float32');
  kernels(wasm).affine(ptr(wasm, x!), ptr(wasm, y), rows, c, ptr(wasm, s), ptr(wasm, t), relu ? 1 : 0);
  disposeInfos(wasm, s, t);
  return y;
};

const bnGrad: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  // y, when given, is the ReLU'd output of a fused KilnBnApply: dy flows back only where it is positive.
  const { dy, x, mean, variance, gamma, y } = inputs as Record<string, TensorInfo | undefined>;
  const { epsilon } = attrs as unknown as { epsilon: number };
  const { rows, c } = geometry(x!);
  const [m, v, g] = [mean, variance, gamma].map((t) => read(wasm, t!));
  const { s1, s2 } = channelSums(wasm, dy!, x!, new Float32Array(c), m!, y);
  // dx = k·(dy − mean(dy) − x̂·mean(dy·x̂)), k = γ·inv, x̂ = (x − mean)·inv, written as a·dy + b·x + k0 per channel.
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  const k0 = new Float32Array(c);
  const dGamma = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    const inv = 1 / Math.sqrt(v![ch]! + epsilon);
    const k = g![ch]! * inv;
    const bb = -k * inv * inv * (s2[ch]! / rows);
    a[ch] = k;
    b[ch] = bb;
    k0[ch] = -k * (s1[ch]! / rows) - bb * m![ch]!;
    dGamma[ch] = s2[ch]! * inv;
  }
  const [pa, pb, pk] = [a, b, k0].map((values) => vector(wasm, values));
  const dx = wasm.makeOutput(x!.shape, 'float32');
  const k = kernels(wasm);
  if (y)
    k.affine2_masked(ptr(wasm, dy!), ptr(wasm, y), ptr(wasm, x!), ptr(wasm, dx), rows, c, ptr(wasm, pa!), ptr(wasm, pb!), ptr(wasm, pk!));
  else k.affine2(ptr(wasm, dy!), ptr(wasm, x!), ptr(wasm, dx), rows, c, ptr(wasm, pa!), ptr(wasm, pb!), ptr(wasm, pk!));
  disposeInfos(wasm, pa!, pb!, pk!);
  return [dx, vector(wasm, dGamma), vector(wasm, s1)];
};

export const bnStatsConfig: KernelConfig = { kernelName: BN_STATS, backendName: 'wasm', kernelFunc: bnStats };
export const bnApplyConfig: KernelConfig = { kernelName: BN_APPLY, backendName: 'wasm', kernelFunc: bnApply };
export const bnGradConfig: KernelConfig = { kernelName: BN_GRAD, backendName: 'wasm', kernelFunc: bnGrad };
