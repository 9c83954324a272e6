import { describe, expect, it } from 'vitest';
import { resolveArch, resolveOpt } from './resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../src-shared/run-config.ts';

describe('resolveOpt', () => {
  const { recipe } = resolveArch('resnet-9');

  it('takes the full recipe on full CIFAR-10', () => {
    const r = resolveOpt(mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch: 'resnet-9' } }), recipe, 50_000, 10_000);
    expect(r).toMatchObject({ epochs: 24, batchSize: 512, lrMax: 0.4, weightDecay: 5e-4, stepsPerEpoch: 97, totalSteps: 24 * 97 });
  });

  it('shrinks the batch and scales the learning rate for a small budget', () => {
    const cfg = mergeRunConfig(DEFAULT_RUN_CONFIG, { opt: { epochs: 4 }, data: { dataset: 'cifar10', limitTrain: 10_000 } });
    const r = resolveOpt(cfg, recipe, 50_000, 10_000);
    expect(r.batchSize).toBe(128);
    expect(r.lrMax).toBeCloseTo(0.1, 12);
    expect(r.totalSteps).toBeGreaterThanOrEqual(300);
  });

  it('keeps what the person set', () => {
    const cfg = mergeRunConfig(DEFAULT_RUN_CONFIG, { opt: { epochs: 2, batchSize: 64, lrMax: 0.05, weightDecay: 0 } });
    expect(resolveOpt(cfg, recipe, 1000, 100)).toMatchObject({ epochs: 2, batchSize: 64, lrMax: 0.05, weightDecay: 0, stepsPerEpoch: 15 });
  });

  it('names an unknown preset', () => {
    expect(() => resolveArch('resnet-1000')).toThrow(/unknown architecture "resnet-1000"/);
  });
});
