import { describe, expect, it } from 'vitest';
import { assembleEvalBatch, assembleTrainBatch, normalisationTable, planEpoch, type AugOptions } from './batches.ts';
import { makeSyntheticDataset, SYNTHETIC_CLASSES } from './synthetic.ts';
import type { ImageSplit } from '../../common/dataset-types.ts';

const S = 6;
/** Images whose pixel values encode their position, so crops and flips can be read back. */
function coordSplit(count: number): ImageSplit {
  const images = new Uint8Array(count * S * S * 3);
  for (let n = 0; n < count; n++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const o = ((n * S + y) * S + x) * 3;
        images[o] = y * 10 + x;
        images[o + 1] = n;
        images[o + 2] = 200;
      }
  return { count, images, labels: Uint8Array.from({ length: count }, (_, i) => i % 3) };
}
const identity = normalisationTable([0, 0, 0], [1 / 255, 1 / 255, 1 / 255]);

function run(aug: AugOptions, seed: number, epoch = 0, count = 8) {
  const split = coordSplit(count);
  const plan = planEpoch(count, S, aug, seed, epoch);
  const out = new Float32Array(count * S * S * 3);
  const labels = new Int32Array(count);
  assembleTrainBatch(split, S, plan, 0, count, aug, identity, out, labels);
  return { plan, out, labels, split };
}

describe('training batches', () => {
  it('without augmentation, gives the images in plan order with their labels', () => {
    const { plan, out, labels, split } = run({ cropPadding: 0, flip: false, cutout: 0 }, 1);
    for (let b = 0; b < 8; b++) {
      const src = plan.order[b]!;
      expect(labels[b]).toBe(split.labels[src]);
      expect(out[(b * S * S + 2 * S + 3) * 3]).toBeCloseTo(23, 3);
      expect(out[b * S * S * 3 + 1]).toBeCloseTo(src, 3);
    }
  });

  it('crops with reflect padding and flips horizontally', () => {
    const aug = { cropPadding: 2, flip: true, cutout: 0 };
    const { plan, out } = run(aug, 5, 0, 32);
    const reflect = (i: number) => (i < 0 ? -i : i >= S ? 2 * (S - 1) - i : i);
    for (let b = 0; b < 32; b++) {
      const dy = plan.crop[2 * b]! - 2;
      const dx = plan.crop[2 * b + 1]! - 2;
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const sx = reflect((plan.flip[b] ? S - 1 - x : x) + dx);
          expect(out[(b * S * S + y * S + x) * 3]).toBeCloseTo(reflect(y + dy) * 10 + sx, 3);
        }
    }
    // Over 32 images both flips and several offsets occur.
    expect(new Set(plan.flip).size).toBe(2);
    expect(new Set(plan.crop).size).toBeGreaterThan(2);
  });

  it('zeroes a cutout square', () => {
    const { out, plan } = run({ cropPadding: 0, flip: false, cutout: 2 }, 9);
    for (let b = 0; b < 8; b++) {
      const cy = plan.cutout[2 * b]!;
      const cx = plan.cutout[2 * b + 1]!;
      expect(out[(b * S * S + cy * S + cx) * 3 + 2]).toBe(0);
      let zeros = 0;
      for (let p = 0; p < S * S; p++) if (out[(b * S * S + p) * 3 + 2] === 0) zeros++;
      expect(zeros).toBeGreaterThanOrEqual(1);
      expect(zeros).toBeLessThanOrEqual(4);
    }
  });

  it('is determined by (seed, epoch) and changes between epochs', () => {
    const aug = { cropPadding: 4, flip: true, cutout: 8 };
    const a = planEpoch(100, 32, aug, 3, 2);
    expect(planEpoch(100, 32, aug, 3, 2)).toEqual(a);
    expect(planEpoch(100, 32, aug, 3, 3).order).not.toEqual(a.order);
    expect(planEpoch(100, 32, aug, 4, 2).order).not.toEqual(a.order);
  });
});

describe('evaluation batches and normalisation', () => {
  it('normalises with the per-channel mean and std', () => {
    const split = coordSplit(2);
    const lut = normalisationTable([0.5, 0.25, 0], [0.5, 0.25, 1]);
    const out = new Float32Array(2 * S * S * 3);
    assembleEvalBatch(split, S, 0, 2, lut, out, new Int32Array(2));
    expect(out[(S * S + 1) * 3]).toBeCloseTo((1 / 255 - 0.5) / 0.5, 5);
    expect(out[(S * S + 1) * 3 + 1]).toBeCloseTo((1 / 255 - 0.25) / 0.25, 5);
    expect(out[(S * S + 1) * 3 + 2]).toBeCloseTo(200 / 255, 5);
  });
});

describe('synthetic dataset', () => {
  it('is the same every time, balanced over its 10 classes, with sane statistics', () => {
    const a = makeSyntheticDataset({ train: 200, val: 50 });
    const b = makeSyntheticDataset({ train: 200, val: 50 });
    expect(a.train.images).toEqual(b.train.images);
    expect(a.manifestHash).toBe(b.manifestHash);
    expect(a.classes).toEqual(SYNTHETIC_CLASSES);
    const counts = new Array(10).fill(0);
    a.train.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual(new Array(10).fill(20));
    for (let c = 0; c < 3; c++) {
      expect(a.mean[c]).toBeGreaterThan(0.3);
      expect(a.mean[c]).toBeLessThan(0.7);
      expect(a.std[c]).toBeGreaterThan(0.15);
    }
    expect(makeSyntheticDataset({ train: 200, val: 50, seed: 2 }).train.images).not.toEqual(a.train.images);
  });
});
