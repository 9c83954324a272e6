import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import { findPreset } from '../arch/presets.ts';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { Model } from '../model/model.ts';
import { Rng } from '../util/rng.ts';
import { smoothedCrossEntropy } from './loss.ts';
import { microBatchLimit, splitBatch } from './micro-batch.ts';
import { Sgd } from './sgd.ts';
import { trainStep } from './train-step.ts';

const tiny: ArchSpec = { kind: 'resnet9', widths: [4, 8, 8, 8], outputScale: 0.125 };
const SIZE = 8;

function setup() {
  const model = new Model(buildGraph(tiny, { imageSize: SIZE, numClasses: 5 }), 3);
  const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: false });
  return { model, sgd };
}

function batch(n: number) {
  const rng = new Rng(11);
  const x = tf.tensor4d(
    Float32Array.from({ length: n * SIZE * SIZE * 3 }, () => rng.normal()),
    [n, SIZE, SIZE, 3],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: n }, () => rng.int(5)),
    'int32',
  );
  return { x, y };
}

const weights = (m: Model) => new Map(m.params.map((p) => [p.name, p.variable.dataSync().slice()]));

beforeAll(async () => {
  await loadBackend('cpu');
});

describe('splitBatch and microBatchLimit', () => {
  it('splits into near-equal parts no larger than the limit', () => {
    expect(splitBatch(128, 128)).toEqual([128]);
    expect(splitBatch(128, 500)).toEqual([128]);
    expect(splitBatch(128, 95)).toEqual([64, 64]);
    expect(splitBatch(512, 95)).toEqual([86, 86, 85, 85, 85, 85]);
    expect(splitBatch(7, 1)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it('limits only wasm, and wrn-22 there below batch 128 (its activations alone approach the 4 GiB heap)', () => {
    const wrn = buildGraph(findPreset('wrn-22')!.spec, { imageSize: 32, numClasses: 10 });
    const r9s = buildGraph(findPreset('resnet-9-s')!.spec, { imageSize: 32, numClasses: 10 });
    expect(microBatchLimit(wrn, 128, 'tensorflow')).toBe(128);
    expect(microBatchLimit(r9s, 512, 'wasm')).toBe(512);
    const limit = microBatchLimit(wrn, 128, 'wasm');
    expect(limit).toBeGreaterThan(16);
    expect(limit).toBeLessThan(128);
    expect(microBatchLimit(wrn, 512, 'wasm')).toBe(limit);
  });
});

describe('trainStep with micro-batches', () => {
  it('applies the gradient of the whole batch: the size-weighted mean of the micro-batches’ gradients', () => {
    const { x, y } = batch(6);
    const a = setup();
    const stats = trainStep(a.model, a.sgd, x, y, { lr: 0.1, momentum: 0.9, labelSmoothing: 0.1, dropoutSeed: 0, microBatch: 4 });
    const [loss, correct] = stats.dataSync();

    // The same by hand: parts of 3 and 3 (splitBatch(6, 4)), each gradient weighted by 3/6.
    const b = setup();
    const vars = b.model.params.map((p) => p.variable);
    let expectedLoss = 0;
    let expectedCorrect = 0;
    const sums: tf.NamedTensorMap = {};
    for (const start of [0, 3]) {
      const xs = tf.slice(x, [start, 0, 0, 0], [3, -1, -1, -1]);
      const ys = tf.slice(y, [start], [3]);
      const { value, grads } = tf.variableGrads(() => {
        const logits = b.model.forward(xs, true);
        expectedCorrect += tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), ys), 'float32')).dataSync()[0]!;
        return smoothedCrossEntropy(logits, ys, 0.1);
      }, vars);
      expectedLoss += value.dataSync()[0]! / 2;
      for (const [k, g] of Object.entries(grads)) sums[k] = sums[k] ? tf.add(sums[k]!, tf.mul(g, 0.5)) : tf.mul(g, 0.5);
    }
    b.sgd.step(sums, 0.1, 0.9);

    expect(loss).toBeCloseTo(expectedLoss, 5);
    expect(correct).toBe(expectedCorrect);
    const wa = weights(a.model);
    for (const [name, wb] of weights(b.model)) {
      const got = wa.get(name)!;
      for (let i = 0; i < wb.length; i++) expect(Math.abs(got[i]! - wb[i]!), name).toBeLessThan(1e-5);
    }
  });

  it('leaves no tensors behind', () => {
    const { x, y } = batch(5);
    const { model, sgd } = setup();
    const step = () => trainStep(model, sgd, x, y, { lr: 0.05, momentum: 0.9, labelSmoothing: 0, dropoutSeed: 1, microBatch: 2 }).dispose();
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
