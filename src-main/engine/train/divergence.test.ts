import { beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { resolveRun } from '../../training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfig } from '../../../src-shared/run-config.ts';
import { makeSyntheticDataset } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { Learner } from './learner.ts';
import { Sgd } from './sgd.ts';
import { describeDivergence, divergenceGuard } from './divergence.ts';

const tiny: ArchSpec = { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 };
const dataset = makeSyntheticDataset({ train: 256, val: 32, imageSize: 16 });

function learnerAt(opt: Partial<RunConfig['opt']>) {
  const config = mergeRunConfig(DEFAULT_RUN_CONFIG, { opt: { epochs: 3, batchSize: 16, ...opt }, backend: 'cpu' });
  const resolved = resolveRun(config, dataset.train.count, dataset.val.count);
  const model = new Model(buildGraph(tiny, { imageSize: 16, numClasses: 10 }), config.seed);
  const sgd = new Sgd(model.params, resolved.config.opt);
  const guard = divergenceGuard();
  const epochsEnded: number[] = [];
  const learner = new Learner(model, sgd, dataset, resolved, [guard, { onEpochEnd: (_l, m) => void epochsEnded.push(m.epoch) }]);
  const dispose = () => (model.dispose(), sgd.dispose());
  return { learner, guard, epochsEnded, dispose };
}

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('divergence guard', () => {
  it('ends a run at learning rate 13 as diverged, with the step, the LR and advice', async () => {
    // One-cycle up to 13 (the typo of 1e-3 the old form made): the loss swings to 20, 15, 172 near the peak.
    const { learner, guard, epochsEnded, dispose } = learnerAt({ lrMax: 13 });
    expect(await learner.fit()).toBe('diverged');
    const d = guard.diverged!;
    expect(d.lr).toBeGreaterThan(5);
    expect(learner.position.step).toBe(d.step);
    expect(d.step).toBeLessThan(learner.resolved.totalSteps);
    // Nothing after it: the epoch it diverged in has no evaluation and no checkpoint.
    expect(epochsEnded.length).toBeLessThan(d.epoch);
    expect(describeDivergence(d)).toMatch(
      /diverged at step \d+ \(epoch \d, learning rate [\d.]+\).*try a max learning rate of [\d.]+ or lower/,
    );
    dispose();
  });

  it('leaves a sane run alone', async () => {
    const { learner, guard, epochsEnded, dispose } = learnerAt({ lrMax: 0.2 });
    expect(await learner.fit()).toBe('finished');
    expect(guard.diverged).toBeNull();
    expect(epochsEnded).toEqual([1, 2, 3]);
    dispose();
  });

  it('diverging in the second epoch keeps the first epoch as the last one ended (its checkpoint stays latest)', async () => {
    const { learner, guard, epochsEnded, dispose } = learnerAt({ lrMax: 0.2 });
    // The second epoch at a learning rate far too high, as a bad schedule would give it.
    learner.callbacks.unshift({ onBatchStart: (_l, b) => void (b.epoch === 1 ? (b.lr = 50) : undefined) });
    expect(await learner.fit()).toBe('diverged');
    expect(epochsEnded).toEqual([1]);
    expect(guard.diverged).toMatchObject({ epoch: 2, lr: 50 });
    expect(learner.position.epoch).toBe(1);
    dispose();
  });
});
