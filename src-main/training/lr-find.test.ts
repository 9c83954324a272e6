import { beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../engine/backend/load-backend.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../src-shared/run-config.ts';
import { makeSyntheticDataset } from '../engine/data/synthetic.ts';
import { lrFind, lrFindBatchSize, scaleLr, suggest } from './lr-find.ts';
import type { LoadedDataset } from '../common/dataset-types.ts';
import type { LrFindPoint } from '../../src-shared/train-types.ts';

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('suggest', () => {
  /** 100 points from 1e-5 to 10, as the finder takes them. */
  const sweep = (loss: (i: number) => number): LrFindPoint[] =>
    Array.from({ length: 100 }, (_, i) => ({ step: i + 1, lr: 1e-5 * 10 ** ((6 * i) / 99), loss: loss(i), smoothedLoss: loss(i) }));
  /** Flat at 2.3, a long fall from step 33 (LR 1e-3) to the minimum at step 67 (LR 0.1), then up steeply. */
  const valleyShape = (i: number) => (i < 33 ? 2.3 : i <= 67 ? 2.3 - (1.3 * (i - 33)) / 34 : 1.0 + 0.2 * (i - 67) ** 1.5);

  it('picks the LR partway down the longest descent (fastai valley), and a tenth of the minimum', () => {
    const s = suggest(sweep(valleyShape));
    expect(s.suggestedLr).toBeGreaterThan(3e-3);
    expect(s.suggestedLr).toBeLessThan(0.05);
    expect(s.minLossLr).toBeCloseTo((1e-5 * 10 ** ((6 * 67) / 99)) / 10, 10);
  });

  it('is not led off by a sharp dip of noise early on, nor by a spike near the end', () => {
    // The photo set's case: a dip at LR ~1e-4 (steeper than the real fall) made the old rule suggest 1.07e-4.
    const noisy = (i: number) => valleyShape(i) - (i === 18 ? 0.25 : 0) + (i === 70 ? 11 : 0);
    const s = suggest(sweep(noisy));
    expect(s.suggestedLr).toBeGreaterThan(3e-3);
    expect(s.suggestedLr).toBeLessThan(0.05);
  });

  it('suggests no less than a tenth of the LR at the minimum (valley runs low for a one-cycle max LR)', () => {
    // A short early descent, then a long flat stretch to a minimum far to the right.
    const late = (i: number) => (i < 20 ? 2.3 - 0.01 * i : i < 85 ? 2.1 - 0.0005 * (i - 20) : 3);
    const s = suggest(sweep(late));
    expect(s.suggestedLr).toBe(s.minLossLr);
    expect(s.minLossLr).toBeCloseTo((1e-5 * 10 ** ((6 * 84) / 99)) / 10, 10);
  });

  it('ignores everything from a non-finite loss on, and gives nothing from too few points', () => {
    const pts = sweep(valleyShape).map((p, i) => (i >= 60 ? { ...p, loss: NaN, smoothedLoss: NaN } : p));
    const s = suggest(pts);
    expect(s.suggestedLr).toBeLessThan(pts[60]!.lr);
    expect(suggest(sweep(valleyShape).slice(0, 8))).toEqual({ suggestedLr: null, minLossLr: null });
  });
});

describe('lrFind', () => {
  it('raises the LR exponentially from start to end, and stops when the loss blows up', async () => {
    const dataset = makeSyntheticDataset({ train: 128, val: 16, imageSize: 16 });
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      opt: { batchSize: 16 },
      net: { arch: { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 } },
    });
    const result = await lrFind(dataset, config, { startLr: 1e-4, endLr: 1e3, steps: 30, divergeFactor: 4 });
    expect(result.points[0]!.lr).toBeCloseTo(1e-4, 12);
    for (let i = 1; i < result.points.length; i++) expect(result.points[i]!.lr).toBeGreaterThan(result.points[i - 1]!.lr);
    // An LR of 1000 diverges long before the 30th step.
    expect(result.stoppedEarly).toBe(true);
    expect(result.points.length).toBeLessThan(30);
    expect(result.points.length).toBeGreaterThan(10);
    expect(result.batchSize).toBe(16);
  });

  it('trains at the batch kiln train resolves for the same options, and scales a suggestion linearly to another', () => {
    // The README's two commands: `train --limit-train 10000 --epochs 4` runs at the auto batch 128; lr-find
    // given the same options measures at 128, without them at the recipe's 512 on the whole of CIFAR-10.
    const cifar = (train: number) => ({ train: { count: train }, val: { count: 10000 } }) as LoadedDataset;
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: 'resnet-9-s' } });
    expect(lrFindBatchSize(cifar(50000), config)).toBe(512);
    expect(lrFindBatchSize(cifar(10000), mergeRunConfig(config, { data: { limitTrain: 10000 }, opt: { epochs: 4 } }))).toBe(128);
    expect(scaleLr(0.4, 512, 128)).toBeCloseTo(0.1, 12);
    expect(scaleLr(null, 512, 128)).toBeNull();
  });
});
