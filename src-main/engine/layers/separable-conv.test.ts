import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { loadBackend } from '../backend/load-backend.ts';
import { buildGraph } from '../arch/graph.ts';
import { Model } from '../model/model.ts';
import { buildLayersModel } from '../model/layers-model.ts';
import { Sgd } from '../train/sgd.ts';
import { trainStep } from '../train/train-step.ts';
import { Rng } from '../util/rng.ts';
import { shiftedDepthwise } from './depthwise-conv.ts';

const separable: ArchSpec = { kind: 'resnet9', widths: [8, 16, 16, 16], outputScale: 0.125, conv: 'separable' };
const standard: ArchSpec = { ...separable, conv: 'standard' };

function batch(n: number, size: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new Rng(seed, 3);
  const x = tf.tensor4d(
    Float32Array.from({ length: n * size * size * 3 }, () => rng.normal()),
    [n, size, size, 3],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: n }, (_, i) => i % 2),
    'int32',
  );
  return { x, y };
}

describe('depthwise-separable convolution layer', () => {
  it('trains as shifted slices that equal tfjs depthwiseConv2d, and has a gradient on wasm', async () => {
    await loadBackend('wasm', { wasmThreads: 1 });
    const rng = new Rng(5, 1);
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 7 * 6 * 3 }, () => rng.normal()),
      [2, 7, 6, 3],
    );
    const w = tf.tensor4d(
      Float32Array.from({ length: 3 * 3 * 3 }, () => rng.normal()),
      [3, 3, 3, 1],
    );
    const ours = shiftedDepthwise(x, w, 3).arraySync();
    const theirs = tf.depthwiseConv2d(x, w, 1, 'same').arraySync();
    expect(ours).toHaveLength(2);
    const flat = (a: unknown) => (a as number[][][][]).flat(3);
    flat(ours).forEach((v, i) => expect(v).toBeCloseTo(flat(theirs)[i]!, 4));
    const g = tf.grad((k: tf.Tensor) => tf.sum(shiftedDepthwise(x, k as tf.Tensor4D, 3)))(w);
    expect(g.shape).toEqual([3, 3, 3, 1]);
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('has far fewer weights and FLOPs than the standard convolution it replaces', () => {
    const a = buildGraph(separable, { imageSize: 16, numClasses: 2 });
    const b = buildGraph(standard, { imageSize: 16, numClasses: 2 });
    const sum = (g: typeof a, f: (l: (typeof a.layers)[number]) => number) => g.layers.reduce((s, l) => s + f(l), 0);
    expect(a.layers.filter((l) => l.op === 'sepconv')).toHaveLength(8);
    expect(sum(a, (l) => l.params)).toBeLessThan(0.4 * sum(b, (l) => l.params));
    expect(sum(a, (l) => l.flops)).toBeLessThan(0.4 * sum(b, (l) => l.flops));
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`trains on ${backend}: the loss of a fixed batch falls`, async () => {
      await loadBackend(backend, { wasmThreads: 1 });
      // Small: tfjs's plain-JS cpu backend is ~100× slower than wasm.
      const model = new Model(buildGraph(separable, { imageSize: 8, numClasses: 2 }), 1);
      const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: false });
      const { x, y } = batch(8, 8, 7);
      const losses: number[] = [];
      for (let step = 0; step < 10; step++) {
        const stats = trainStep(model, sgd, x, y, { lr: 0.2, momentum: 0.9, labelSmoothing: 0, dropoutSeed: step });
        losses.push(stats.dataSync()[0]!);
        stats.dispose();
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1)!).toBeLessThan(0.8 * losses[0]!);
      tf.dispose([x, y]);
      model.dispose();
      sgd.dispose();
    });
  }

  it('exports to a tfjs-layers SeparableConv2D model that predicts what the engine predicts', async () => {
    await loadBackend('cpu');
    const model = new Model(buildGraph(separable, { imageSize: 16, numClasses: 2 }), 2);
    const exported = buildLayersModel(model.graph, model.namedVariables() as Map<string, tf.Tensor>);
    expect(exported.layers.filter((l) => l.getClassName() === 'SeparableConv2D')).toHaveLength(8);
    const { x } = batch(4, 16, 9);
    const ours = model.forward(x, false).dataSync();
    const theirs = (exported.predict(x) as tf.Tensor).dataSync();
    Array.from(ours).forEach((v, i) => expect(theirs[i]).toBeCloseTo(v, 4));
    model.dispose();
  });
});
