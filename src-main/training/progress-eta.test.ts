import { describe, expect, it } from 'vitest';
import type { Learner } from '../engine/train/learner.ts';
import type { ResolvedRun } from '../../src-shared/run-config.ts';
import type { TrainerMessage } from '../../src-shared/trainer-protocol.ts';
import type { EpochMetrics } from '../../src-shared/train-types.ts';
import { progressReporter, WARMUP_STEPS } from './session-callbacks.ts';

/** The progress line's ETA, fed by a learner whose first steps are slow (kernel compilation), as a real one's are. */
describe('training ETA', () => {
  const resolved = {
    totalSteps: 100,
    stepsPerEpoch: 50,
    valCount: 1000,
    config: { aug: { tta: true }, opt: { epochs: 2, batchSize: 10 } },
  } as unknown as ResolvedRun;

  function drive() {
    const sent: number[] = [];
    const reporter = progressReporter(
      (m: TrainerMessage) => m.type === 'progress' && sent.push(m.progress.etaSeconds ?? NaN),
      'r',
      resolved,
    );
    const position = { epoch: 0, step: 0, stepInEpoch: 0, trainSeconds: 0, seen: 0, lossSum: 0, correct: 0 };
    const l = { position, epochValSample: 400 } as unknown as Learner;
    const step = (seconds: number) => {
      position.step++;
      position.stepInEpoch++;
      position.trainSeconds += seconds;
      position.seen += 10;
      reporter.onBatchEnd!(l, { step: position.step, epoch: position.epoch, loss: 1, lr: 0.1, momentum: 0.9 });
    };
    const eta = () => {
      reporter.finish(l);
      return sent.at(-1)!;
    };
    const endEpoch = (m: Partial<EpochMetrics>) => {
      reporter.onEpochEnd!(l, m as EpochMetrics);
      Object.assign(position, { epoch: position.epoch + 1, stepInEpoch: 0, trainSeconds: 0, seen: 0 });
    };
    return { step, eta, endEpoch };
  }

  it('leaves the warm-up steps out of the step time, and counts the evaluations left', () => {
    const run = drive();
    for (let i = 0; i < WARMUP_STEPS; i++) run.step(3);
    run.step(1);
    run.step(1);
    // 95 steps at 1 s; evaluations not timed yet, so guessed at a third of a step per image: the 400-image
    // sample after epoch 1, the whole split twice (TTA) after epoch 2, and the best checkpoint's evaluation (twice).
    const images = 400 + 2000 + 2000;
    expect(run.eta()).toBeCloseTo(95 + images * (1 / 10 / 3), 6);
  });

  it('times evaluations per image once one ran, and restarts the step timing each epoch', () => {
    const run = drive();
    for (let i = 0; i < 50; i++) run.step(i < WARMUP_STEPS ? 3 : 1);
    run.endEpoch({ evalSeconds: 8, valImages: 400 });
    run.step(5); // the first step after an evaluation is slow as well
    run.step(1);
    run.step(1);
    expect(run.eta()).toBeCloseTo(47 * 1 + (2000 + 2000) * (8 / 400), 6);
  });
});
