import { beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import { resolveRun } from '../../training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../../src-shared/run-config.ts';
import { makeSyntheticDataset } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { Learner } from './learner.ts';
import { Sgd } from './sgd.ts';
import { fixedValSample } from './val-sample.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';

const dataset = makeSyntheticDataset({ train: 64, val: 40, imageSize: 16 });

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('per-epoch validation', () => {
  it('a fixed sample spreads evenly over the split; a split no larger than the cap is used whole', () => {
    const s = fixedValSample(dataset.val, 10, 16);
    expect(s.count).toBe(10);
    const per = 16 * 16 * 3;
    for (let i = 0; i < 10; i++) {
      expect(s.labels[i]).toBe(dataset.val.labels[i * 4]);
      expect(Array.from(s.images.subarray(i * per, i * per + 6))).toEqual(
        Array.from(dataset.val.images.subarray(i * 4 * per, i * 4 * per + 6)),
      );
    }
    expect(fixedValSample(dataset.val, 40, 16)).toBe(dataset.val);
  });

  it('validates a fixed sample without TTA after each epoch but the last, the whole split with TTA after the last', async () => {
    const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      opt: { epochs: 3, batchSize: 32, lrMax: 0.2 },
      aug: { tta: true },
      backend: 'wasm',
    });
    const resolved = resolveRun(config, dataset.train.count, dataset.val.count);
    const model = new Model(
      buildGraph({ kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 }, { imageSize: 16, numClasses: 10 }),
      0,
    );
    const sgd = new Sgd(model.params, resolved.config.opt);
    const learner = new Learner(model, sgd, dataset, resolved);
    learner.epochValSample = 10;
    const epochs: EpochMetrics[] = [];
    learner.callbacks.push({ onEpochEnd: (_l, m) => void epochs.push(m) });
    await learner.fit();
    expect(epochs.map((e) => e.valImages)).toEqual([10, 10, 40]);
    expect(epochs.map((e) => e.ttaAcc !== undefined)).toEqual([false, false, true]);
    // Accuracies over 10 images come in tenths; the sample is the same images every epoch.
    for (const e of epochs.slice(0, 2)) expect(Math.round(e.valAcc * 10)).toBeCloseTo(e.valAcc * 10, 6);
    const full = await learner.evaluate(learner.valSplit, true);
    expect(epochs[2]!.valAcc).toBeCloseTo(full.acc, 10);
    expect(epochs[2]!.ttaAcc).toBeCloseTo(full.ttaAcc!, 10);
    model.dispose();
    sgd.dispose();
  });
});
