import type { ImageSplit } from '../../common/dataset-types.ts';
import { Rng } from '../util/rng.ts';

export interface AugOptions {
  /** Reflect-pad by this many pixels, then crop back at a random offset (0 = off). */
  cropPadding: number;
  flip: boolean;
  /** Side of the zeroed square (0 = off). */
  cutout: number;
}

/**
 * Everything random about one epoch, drawn up front from (seed, epoch): the order and
 * each image's crop, flip and cutout. Resuming mid-epoch redraws the same plan and skips ahead,
 * so pause/resume needs no RNG state in the checkpoint.
 */
export interface EpochPlan {
  order: Uint32Array;
  /** Per position in the order: crop offsets dy, dx in [0, 2·pad]. */
  crop: Uint8Array;
  flip: Uint8Array;
  /** Per position: cutout centre y, x (or -1 when off). */
  cutout: Int16Array;
}

const STREAM_EPOCH = 0x5eed;

export function planEpoch(count: number, imageSize: number, aug: AugOptions, seed: number, epoch: number): EpochPlan {
  const rng = new Rng(seed, STREAM_EPOCH, epoch);
  const order = rng.permutation(count);
  const crop = new Uint8Array(count * 2);
  const flip = new Uint8Array(count);
  const cutout = new Int16Array(count * 2).fill(-1);
  for (let i = 0; i < count; i++) {
    if (aug.cropPadding > 0) {
      crop[2 * i] = rng.int(2 * aug.cropPadding + 1);
      crop[2 * i + 1] = rng.int(2 * aug.cropPadding + 1);
    }
    if (aug.flip) flip[i] = rng.float() < 0.5 ? 1 : 0;
    if (aug.cutout > 0) {
      cutout[2 * i] = rng.int(imageSize);
      cutout[2 * i + 1] = rng.int(imageSize);
    }
  }
  return { order, crop, flip, cutout };
}

/** (v/255 − mean_c)/std_c for every byte value and channel, so normalising is one lookup a pixel. */
export function normalisationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]!) / std[c]!;
  return lut;
}

const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);

/**
 * Fill `out` (batch × S × S × 3, NHWC) with the augmented, normalised images at
 * plan positions [start, start + batch) and `labels` with their classes.
 */
export function assembleTrainBatch(
  split: ImageSplit,
  size: number,
  plan: EpochPlan,
  start: number,
  batch: number,
  aug: AugOptions,
  lut: Float32Array,
  out: Float32Array,
  labels: Int32Array,
): void {
  const pad = aug.cropPadding;
  const half = aug.cutout / 2;
  for (let b = 0; b < batch; b++) {
    const pos = start + b;
    const src = plan.order[pos]!;
    labels[b] = split.labels[src]!;
    const dy = plan.crop[2 * pos]! - pad;
    const dx = plan.crop[2 * pos + 1]! - pad;
    const flip = plan.flip[pos] === 1;
    const cy = plan.cutout[2 * pos]!;
    const cx = plan.cutout[2 * pos + 1]!;
    const srcBase = src * size * size * 3;
    const dstBase = b * size * size * 3;
    for (let y = 0; y < size; y++) {
      const sy = reflect(y + dy, size);
      const inCutY = cy >= 0 && y >= cy - half && y < cy + half;
      for (let x = 0; x < size; x++) {
        const o = dstBase + (y * size + x) * 3;
        if (inCutY && x >= cx - half && x < cx + half) {
          out[o] = out[o + 1] = out[o + 2] = 0;
          continue;
        }
        const sx = reflect((flip ? size - 1 - x : x) + dx, size);
        const i = srcBase + (sy * size + sx) * 3;
        out[o] = lut[split.images[i]!]!;
        out[o + 1] = lut[256 + split.images[i + 1]!]!;
        out[o + 2] = lut[512 + split.images[i + 2]!]!;
      }
    }
  }
}

/** Normalised images [start, start + batch) in stored order, for evaluation. */
export function assembleEvalBatch(
  split: ImageSplit,
  size: number,
  start: number,
  batch: number,
  lut: Float32Array,
  out: Float32Array,
  labels: Int32Array,
): void {
  const per = size * size * 3;
  for (let b = 0; b < batch; b++) {
    labels[b] = split.labels[start + b]!;
    const srcBase = (start + b) * per;
    const dstBase = b * per;
    for (let i = 0; i < per; i += 3) {
      out[dstBase + i] = lut[split.images[srcBase + i]!]!;
      out[dstBase + i + 1] = lut[256 + split.images[srcBase + i + 1]!]!;
      out[dstBase + i + 2] = lut[512 + split.images[srcBase + i + 2]!]!;
    }
  }
}
