import { describe, expect, it } from 'vitest';
import { runHint, type HintInput } from './run-hint.ts';

const base: HintInput = {
  valAcc: 0.72,
  trainAcc: 0.75,
  totalSteps: 600,
  stepsPerEpoch: 15,
  epochsGiven: false,
  classes: ['cats', 'dogs'],
  trainPerClass: [400, 380],
  imageSize: 64,
  medianShortSide: 480,
};

describe('runHint: one line for a weak result with a nameable reason', () => {
  it('names a short run first, with the epochs that give enough steps', () => {
    expect(runHint({ ...base, totalSteps: 70, stepsPerEpoch: 7, epochsGiven: true })).toBe(
      "only 70 optimiser steps: the model stopped half-trained. Leave --epochs out (Kiln then picks the length from the dataset's size) or try --epochs 86.",
    );
  });

  it('names photos stored too small', () => {
    expect(runHint({ ...base, imageSize: 32 })).toMatch(/^the photos \(about 480 px\) were stored at 32 px.*--size 64\.$/);
    // Small source images stored at 32 px are not blurred by it.
    expect(runHint({ ...base, imageSize: 32, medianShortSide: 32 })).toBeNull();
  });

  it('names memorising, even when validation accuracy is fine', () => {
    expect(runHint({ ...base, trainAcc: 0.99, valAcc: 0.6 })).toMatch(
      /^train accuracy 99% against validation 60%: the model memorises.*--cutout 16/,
    );
    expect(runHint({ ...base, trainAcc: 1, valAcc: 0.78 })).toMatch(/memorises/);
    expect(runHint({ ...base, trainAcc: 0.97, valAcc: 0.9 })).toBeNull();
  });

  it('names the class with too few images, and is silent about good or unexplained results', () => {
    expect(runHint({ ...base, trainPerClass: [400, 41] })).toBe(
      'only 41 training image(s) of "dogs": from scratch, a model needs a few hundred per class; add images before tuning settings.',
    );
    expect(runHint({ ...base, valAcc: 0.93, trainAcc: 0.95, trainPerClass: [40, 41] })).toBeNull();
    expect(runHint(base)).toBeNull();
  });
});
