import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { resolveRun } from '../../training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../../src-shared/run-config.ts';
import { makeSyntheticDataset } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { Learner, type StepMetrics } from './learner.ts';
import { Sgd } from './sgd.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';

const tiny: ArchSpec = { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 };
const dataset = makeSyntheticDataset({ train: 96, val: 32, imageSize: 16 });

function makeLearner(opts: { epochs: number; seed?: number }) {
  const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
    opt: { epochs: opts.epochs, batchSize: 16, lrMax: 0.2 },
    seed: opts.seed ?? 0,
    backend: 'cpu',
  });
  const resolved = resolveRun(config, dataset.train.count, dataset.val.count);
  const model = new Model(buildGraph(tiny, { imageSize: 16, numClasses: 10 }), config.seed);
  const sgd = new Sgd(model.params, resolved.config.opt);
  return { learner: new Learner(model, sgd, dataset, resolved), model, sgd };
}

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('Learner', () => {
  it('keeps the number of live tensors flat across epochs', async () => {
    const { learner, model, sgd } = makeLearner({ epochs: 3 });
    const counts: number[] = [];
    learner.callbacks.push({ onEpochEnd: () => void counts.push(tf.memory().numTensors) });
    await learner.fit();
    expect(counts).toHaveLength(3);
    expect(counts[2]).toBe(counts[0]);
    expect(counts[1]).toBe(counts[0]);
    const before = tf.memory().numTensors;
    model.dispose();
    sgd.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it('reports every step with the schedule and stops when asked', async () => {
    const { learner } = makeLearner({ epochs: 2 });
    const steps: StepMetrics[] = [];
    learner.callbacks.push({
      onBatchEnd: (l, m) => {
        steps.push(m);
        if (m.step === 7) l.requestStop('pause');
      },
    });
    expect(await learner.fit()).toBe('paused');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(learner.position).toMatchObject({ epoch: 1, stepInEpoch: 1, step: 7 });
    // The first step is at lrMax / startDiv, with Page's recipe's startDiv (1e4): the recipe is what runs.
    expect(steps[0]!.lr).toBeCloseTo(0.2 / 1e4, 10);
  });

  it('repeats itself exactly for the same seed, and differs for another', async () => {
    const epochs = async (seed: number) => {
      const { learner, model, sgd } = makeLearner({ epochs: 1, seed });
      const out: EpochMetrics[] = [];
      learner.callbacks.push({ onEpochEnd: (_l, m) => void out.push(m) });
      await learner.fit();
      model.dispose();
      sgd.dispose();
      return out.map(({ trainLoss, valLoss, valAcc }) => ({ trainLoss, valLoss, valAcc }));
    };
    const a = await epochs(3);
    expect(await epochs(3)).toEqual(a);
    expect((await epochs(4))[0]!.trainLoss).not.toBe(a[0]!.trainLoss);
  });
});

describe('Learner hooks', () => {
  it('calls before and after hooks of fit, epoch and batch in order, lets a batch hook set the LR, and skips validation when asked', async () => {
    const { learner, model, sgd } = makeLearner({ epochs: 2 });
    const events: string[] = [];
    learner.callbacks.push({
      onFitStart: () => void events.push('fit:start'),
      onEpochStart: (_l, e) => void events.push(`epoch:start:${e}`),
      onBatchStart: (_l, b) => {
        events.push(`batch:start:${b.step}`);
        b.lr = 0.001 * (b.step + 1);
      },
      onBatchEnd: (_l, m) => void events.push(`batch:end:${m.step}:${m.lr.toFixed(3)}`),
      beforeValidate: () => false,
      onEpochEnd: (_l, m) => void events.push(`epoch:end:${m.epoch}:${Number.isNaN(m.valAcc) ? 'no-val' : 'val'}`),
      onFitEnd: (_l, o) => void events.push(`fit:end:${o}`),
    });
    expect(await learner.fit()).toBe('finished');
    const spe = learner.resolved.stepsPerEpoch;
    const epoch = (e: number) => [
      `epoch:start:${e}`,
      ...Array.from({ length: spe }, (_, i) => e * spe + i).flatMap((s) => [
        `batch:start:${s}`,
        `batch:end:${s + 1}:${(0.001 * (s + 1)).toFixed(3)}`,
      ]),
      `epoch:end:${e + 1}:no-val`,
    ];
    expect(events).toEqual(['fit:start', ...epoch(0), ...epoch(1), 'fit:end:finished']);
    model.dispose();
    sgd.dispose();
  });

  it('stops at the next batch when its abort signal fires, pausing when the reason says so', async () => {
    const { learner, model, sgd } = makeLearner({ epochs: 2 });
    const controller = new AbortController();
    learner.callbacks.push({ onBatchEnd: (_l, m) => (m.step === 2 ? controller.abort('pause') : undefined) });
    expect(await learner.fit(controller.signal)).toBe('paused');
    expect(learner.position.step).toBe(2);
    model.dispose();
    sgd.dispose();
  });
});
