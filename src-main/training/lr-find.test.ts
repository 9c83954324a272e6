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

const points = (losses: number[]): LrFindPoint[] =>
  losses.map((loss, i) => ({ step: i + 1, lr: 1e-4 * 10 ** (i / 4), loss, smoothedLoss: loss }));

describe('suggest', () => {
  it('picks the steepest fall before the minimum, and a tenth of the minimum', () => {
    // Flat, then falling fastest between points 9 and 10, minimum at 13, then diverging.
    const s = suggest(points([2.3, 2.3, 2.3, 2.3, 2.3, 2.3, 2.29, 2.25, 2.2, 1.7, 1.5, 1.4, 1.3, 1.6, 3, 9]));
    expect(s.suggestedLr).toBeCloseTo(1e-4 * 10 ** (9 / 4), 12);
    expect(s.minLossLr).toBeCloseTo((1e-4 * 10 ** (12 / 4)) / 10, 12);
  });

  it('gives no suggestion from too few points', () => {
    expect(suggest(points([2, 1]))).toEqual({ suggestedLr: null, minLossLr: null });
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
