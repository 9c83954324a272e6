import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { ArchSpec } from '../../src-shared/arch-spec.ts';
import { withoutExcluded } from '../common/dataset-types.ts';
import { buildGraph } from '../engine/arch/graph.ts';
import { loadBackend } from '../engine/backend/load-backend.ts';
import { makeSyntheticDataset } from '../engine/data/synthetic.ts';
import { Model } from '../engine/model/model.ts';
import { fitHead, type FeatureSplit } from '../engine/train/head-fit.ts';
import { featureCachePaths, frozenFeatures, type FeatureKey } from './feature-cache.ts';

// A tiny random-weight "backbone": its pooled features are what the head learns from.
const spec: ArchSpec = { kind: 'resnet9', widths: [8, 16, 16, 16], outputScale: 1 };
const dataset = makeSyntheticDataset({ train: 120, val: 40, imageSize: 16 });
const counts = { train: 120, val: 40 };
const base: FeatureKey = { datasetId: 'shapes', manifestHash: 'h1', backbone: 'tiny', weightsSha256: 'w1', imageSize: 16, augment: true };
const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

let dir: string;
let model: Model;

beforeAll(async () => {
  await loadBackend('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-features-'));
  model = new Model(buildGraph(spec, { imageSize: 16, numClasses: 10 }), 3);
});
afterAll(() => {
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pass = (key: FeatureKey, d = dataset, use = counts) =>
  frozenFeatures(d, use, key, { dir, storedCounts: counts }, { model, node: 'head/pool', ...imagenet, batch: 32 });

describe('frozen features and their cache', () => {
  it('computes each image once, reuses the file, and recomputes when any key changes', async () => {
    const first = await pass(base);
    expect(first.computed).toBe(160);
    expect(first.train).toMatchObject({ count: 120, views: 2, dim: 16 });
    expect(fs.existsSync(featureCachePaths(dir, base).data)).toBe(true);

    const again = await pass(base);
    expect(again.computed).toBe(0);
    expect(Array.from(again.train.data)).toEqual(Array.from(first.train.data));

    // The flip is the second view, and it differs from the image's own features.
    const v0 = first.train.data.subarray(0, 16);
    const v1 = first.train.data.subarray(16, 32);
    expect(Array.from(v0)).not.toEqual(Array.from(v1));

    for (const change of [
      { manifestHash: 'h2' },
      { weightsSha256: 'w2' },
      { backbone: 'other' },
      { imageSize: 17 },
      { augment: false },
    ] as Partial<FeatureKey>[]) {
      const key = { ...base, ...change };
      // The size key is only a key here: the synthetic images stay 16 px.
      const r = await pass(key);
      expect(r.computed, JSON.stringify(change)).toBe(160);
      expect(r.train.views).toBe(key.augment ? 2 : 1);
      expect((await pass(key)).computed, JSON.stringify(change)).toBe(0);
    }
    // The dataset re-imported under the same name overwrote the entry of its old hash: the old key recomputes.
    expect((await pass(base)).computed).toBe(160);
  });

  it('computes only what a pass stopped part-way left, and indexes by stored image when some are excluded', async () => {
    const key = { ...base, backbone: 'partial' };
    const controller = new AbortController();
    let seen = 0;
    await expect(
      frozenFeatures(
        dataset,
        counts,
        key,
        { dir, storedCounts: counts },
        {
          model,
          node: 'head/pool',
          ...imagenet,
          batch: 16,
          signal: controller.signal,
          onProgress: (p) => {
            seen = p.done;
            if (p.done >= 48) controller.abort(new Error('pause'));
          },
        },
      ),
    ).rejects.toThrow('pause');
    expect(seen).toBe(48);
    const rest = await pass(key);
    expect(rest.computed).toBe(112);
    const full = await pass(key);
    expect(full.computed).toBe(0);

    const fewer = withoutExcluded(dataset, { train: [0, 5], val: [] });
    const sub = await pass(key, fewer, { train: fewer.train.count, val: 40 });
    expect(sub.computed).toBe(0);
    expect(sub.train.count).toBe(118);
    // Image 0 of the reduced split is stored image 1.
    expect(Array.from(sub.train.data.subarray(0, 32))).toEqual(Array.from(full.train.data.subarray(32, 64)));
    expect(Array.from(sub.train.labels.subarray(0, 3))).toEqual(Array.from(fewer.train.labels.subarray(0, 3)));
  });

  it('a linear head learns separable features, and its folded weights score raw features as training measured', async () => {
    // Three classes around offset, scaled centres (the head standardises, then folds that back into its weights).
    const C = 3;
    const dim = 24;
    let s = 9;
    const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
    const split = (count: number): FeatureSplit => {
      const data = new Float32Array(count * 2 * dim);
      const labels = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        labels[i] = i % C;
        for (let v = 0; v < 2; v++)
          for (let d = 0; d < dim; d++) data[(i * 2 + v) * dim + d] = 5 + 3 * d + (d % C === labels[i] ? 1.5 : 0) + 1.2 * rand();
      }
      return { count, views: 2, dim, data, labels };
    };
    const train = split(90);
    const val = split(30);
    const before = tf.memory().numTensors;
    const result = await fitHead(train, val, {
      classes: C,
      epochs: 12,
      batchSize: 16,
      nesterov: true,
      weightDecay: 5e-4,
      labelSmoothing: 0.1,
      seed: 0,
      flip: true,
      tta: true,
      schedule: {
        schedule: 'one-cycle',
        shape: 'linear',
        lrMax: 0.1,
        warmupFraction: 0.25,
        startDiv: 20,
        finalDiv: 1000,
        momentumMax: 0.95,
        momentumMin: 0.85,
      },
      kernel: new Float32Array(dim * C),
      bias: new Float32Array(C),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.epochs).toHaveLength(12);
    const first = result.epochs[0]!;
    const last = result.epochs.at(-1)!;
    expect(last.trainLoss).toBeLessThan(first.trainLoss);
    expect(last.valAcc).toBeGreaterThan(0.9);
    expect(last.ttaAcc).toBeGreaterThan(0.9);
    // The folded head on raw features gives the accuracy the training measured.
    const logits = tf.tidy(() =>
      tf.add(
        tf.matMul(tf.tensor2d(val.data, [val.count * 2, dim]), tf.tensor2d(result.last.kernel, [dim, C])),
        tf.tensor1d(result.last.bias),
      ),
    );
    const top = tf.argMax(logits, 1);
    const pred = (await top.data()) as Int32Array;
    tf.dispose([logits, top]);
    let hits = 0;
    for (let i = 0; i < val.count; i++) hits += pred[2 * i] === val.labels[i] ? 1 : 0;
    expect(hits / val.count).toBeCloseTo(last.valAcc, 5);
    expect(result.epochs[result.best.epoch - 1]!.valAcc).toBe(Math.max(...result.epochs.map((e) => e.valAcc)));
  });
});
