/**
 * The WebGPU backend against tfjs's reference `cpu` backend: every kernel the presets train with, a short run
 * that learns, and a paused-and-resumed run against its uninterrupted twin. On CI and on machines without a GPU
 * this runs on Mesa's software Vulkan driver (lavapipe), which `.ci/run` installs; it is the same WGSL either way.
 * KILN_SKIP_WEBGPU=1 skips the file on a machine that has no Vulkan driver at all (it fails otherwise, saying why).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadBackend, type BackendInfo } from './load-backend.ts';
import { randomValues, relativeError } from '../testing/tensor-compare.ts';
import { batchNormTrain } from '../ops/batch-norm.ts';
import { smoothedCrossEntropy } from '../train/loss.ts';
import { Sgd } from '../train/sgd.ts';
import type { Param } from '../model/model.ts';
import { Model } from '../model/model.ts';
import { buildGraph } from '../arch/graph.ts';
import { resolveRun } from '../../training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfig } from '../../../src-shared/run-config.ts';
import { TINY_WEBGPU_RUN } from '../testing/tiny-webgpu-run.ts';
import { makeSyntheticDataset } from '../data/synthetic.ts';
import type { ImageSplit, LoadedDataset } from '../../common/dataset-types.ts';
import { Learner } from '../train/learner.ts';
import type { Position } from '../train/position.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../train/checkpoint.ts';

const skip = Boolean(process.env.KILN_SKIP_WEBGPU);

/** The first `n` training images of classes `a` and `b` (relabelled 0 and 1), and all their validation images. */
function twoShapes(d: LoadedDataset, n: number, a = 6, b = 7): LoadedDataset {
  const per = d.imageSize * d.imageSize * 3;
  const pick = (s: ImageSplit, limit: number): ImageSplit => {
    const idx = [...s.labels.keys()].filter((i) => s.labels[i] === a || s.labels[i] === b).slice(0, limit);
    const images = new Uint8Array(idx.length * per);
    idx.forEach((j, k) => images.set(s.images.subarray(j * per, (j + 1) * per), k * per));
    return { count: idx.length, images, labels: Uint8Array.from(idx, (j) => (s.labels[j] === a ? 0 : 1)) };
  };
  return { ...d, classes: [d.classes[a]!, d.classes[b]!], train: pick(d.train, n), val: pick(d.val, Infinity) };
}
let info: BackendInfo;

beforeAll(async () => {
  if (skip) return;
  info = await loadBackend('webgpu');
}, 120_000);

type Inputs = Record<string, { shape: number[]; scale?: number; offset?: number; dtype?: 'int32'; values?: number[] }>;

/** Runs `f` on fresh copies of the inputs on one backend and reads every output back. */
async function runOn(backend: string, inputs: Inputs, f: (t: Record<string, tf.Tensor>) => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(() => {
    const t: Record<string, tf.Tensor> = {};
    let seed = 1;
    for (const [name, spec] of Object.entries(inputs)) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      t[name] = spec.values
        ? tf.tensor(spec.values, spec.shape, spec.dtype ?? 'float32')
        : tf.tensor(randomValues(n, seed++ * 7919, spec.scale ?? 2, spec.offset ?? 0), spec.shape);
    }
    return f(t);
  });
  const values = await Promise.all(outs.map(async (o) => Float32Array.from(await o.data())));
  tf.dispose(outs);
  return values;
}

/** Every output of `f` on webgpu within 1e-3 (relative to the largest reference value) of cpu's. */
async function expectMatchesCpu(inputs: Inputs, f: (t: Record<string, tf.Tensor>) => tf.Tensor[]): Promise<void> {
  const want = await runOn('cpu', inputs, f);
  const got = await runOn('webgpu', inputs, f);
  expect(got).toHaveLength(want.length);
  for (let i = 0; i < want.length; i++) expect(relativeError(got[i]!, want[i]!), `output ${i}`).toBeLessThan(1e-3);
}

/** The value and the gradients of sum(f(...) · dy) with respect to every input but `dy`. */
function withGrads(names: string[], f: (...xs: tf.Tensor[]) => tf.Tensor) {
  return (t: Record<string, tf.Tensor>) => {
    const xs = names.map((n) => t[n]!);
    const y = f(...xs);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), t.dy!)))(xs);
    return [y, ...grads];
  };
}

const conv = (stride: number) => (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same');

describe.skipIf(skip)('webgpu backend', () => {
  it('runs on a WebGPU adapter and says which', () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.device).toContain('WebGPU');
    expect(info.adapter?.description || info.adapter?.vendor).toBeTruthy();
  });

  describe('kernels the presets train with, against cpu to 1e-3', () => {
    it.each([
      { name: '3×3 stride 1', x: [2, 8, 8, 4], w: [3, 3, 4, 8], s: 1, y: [2, 8, 8, 8] },
      { name: '3×3 stride 2', x: [2, 9, 9, 4], w: [3, 3, 4, 8], s: 2, y: [2, 5, 5, 8] },
      { name: '1×1 shortcut stride 2', x: [2, 8, 8, 4], w: [1, 1, 4, 8], s: 2, y: [2, 4, 4, 8] },
      { name: '1×1 stride 1', x: [2, 6, 6, 8], w: [1, 1, 8, 4], s: 1, y: [2, 6, 6, 4] },
    ])('conv2d $name: forward, input and filter gradients', async ({ x, w, s, y }) => {
      await expectMatchesCpu({ x: { shape: x }, w: { shape: w }, dy: { shape: y } }, withGrads(['x', 'w'], conv(s)));
    });

    it('batch norm (training): forward, batch statistics and the gradients of x, gamma and beta', async () => {
      const inputs = {
        x: { shape: [4, 5, 5, 6], scale: 4, offset: 1 },
        gamma: { shape: [6], offset: 1 },
        beta: { shape: [6] },
        dy: { shape: [4, 5, 5, 6] },
      };
      await expectMatchesCpu(inputs, (t) => {
        const { mean, variance } = batchNormTrain(t.x as tf.Tensor4D, t.gamma as tf.Tensor1D, t.beta as tf.Tensor1D, 1e-5);
        const grads = withGrads(
          ['x', 'gamma', 'beta'],
          (x, g, b) => batchNormTrain(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5).y,
        )(t);
        return [...grads, mean, variance];
      });
    });

    it('batch norm (inference) with running statistics', async () => {
      const inputs = {
        x: { shape: [2, 4, 4, 6] },
        mean: { shape: [6] },
        variance: { shape: [6], offset: 2 },
        gamma: { shape: [6], offset: 1 },
        beta: { shape: [6] },
      };
      await expectMatchesCpu(inputs, (t) => [
        tf.batchNorm(
          t.x as tf.Tensor4D,
          t.mean as tf.Tensor1D,
          t.variance as tf.Tensor1D,
          t.beta as tf.Tensor1D,
          t.gamma as tf.Tensor1D,
          1e-5,
        ),
      ]);
    });

    it('max pool 2×2, avg pool 2×2, global max and global average pooling: forward and gradients', async () => {
      const x = { shape: [2, 8, 8, 4] };
      await expectMatchesCpu(
        { x, dy: { shape: [2, 4, 4, 4] } },
        withGrads(['x'], (v) => tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid')),
      );
      await expectMatchesCpu(
        { x, dy: { shape: [2, 4, 4, 4] } },
        withGrads(['x'], (v) => tf.avgPool(v as tf.Tensor4D, 2, 2, 'valid')),
      );
      await expectMatchesCpu(
        { x, dy: { shape: [2, 4] } },
        withGrads(['x'], (v) => tf.reshape(tf.maxPool(v as tf.Tensor4D, [8, 8], [8, 8], 'valid'), [2, 4])),
      );
      await expectMatchesCpu(
        { x, dy: { shape: [2, 4] } },
        withGrads(['x'], (v) => tf.mean(v, [1, 2])),
      );
    });

    it('relu, add, scale and matMul: forward and gradients', async () => {
      await expectMatchesCpu(
        { a: { shape: [2, 6, 6, 4] }, b: { shape: [2, 6, 6, 4] }, dy: { shape: [2, 6, 6, 4] } },
        withGrads(['a', 'b'], (a, b) => tf.mul(tf.relu(tf.add(a, b)), 0.125)),
      );
      await expectMatchesCpu(
        { a: { shape: [8, 16] }, b: { shape: [16, 10] }, dy: { shape: [8, 10] } },
        withGrads(['a', 'b'], (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)),
      );
    });

    it('softmax cross-entropy with label smoothing: loss and logit gradient', async () => {
      const labels = { shape: [8], dtype: 'int32' as const, values: [0, 3, 9, 1, 1, 7, 5, 2] };
      await expectMatchesCpu({ logits: { shape: [8, 10], scale: 6 }, labels }, (t) => {
        const loss = (l: tf.Tensor) => smoothedCrossEntropy(l as tf.Tensor2D, t.labels as tf.Tensor1D, 0.2);
        return [loss(t.logits!), tf.grad(loss)(t.logits!)];
      });
    });

    it('the SGD update (Nesterov, weight decay, BN parameters excluded): weights and velocities after two steps', async () => {
      const inputs = { w: { shape: [3, 3, 2, 4] }, gamma: { shape: [4], offset: 1 }, gw: { shape: [3, 3, 2, 4] }, ggamma: { shape: [4] } };
      await expectMatchesCpu(inputs, (t) => {
        const params: Param[] = [
          { name: 'w', variable: tf.variable(t.w!), isBnOrBias: false },
          { name: 'gamma', variable: tf.variable(t.gamma!), isBnOrBias: true },
        ];
        const sgd = new Sgd(params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: true });
        const grads = { [params[0]!.variable.name]: t.gw!, [params[1]!.variable.name]: t.ggamma! };
        sgd.step(grads, 0.4, 0.9);
        sgd.step(grads, 0.2, 0.85);
        const out = [...params.map((p) => p.variable.clone()), ...params.map((p) => sgd.velocity.get(p.name)!.clone())];
        sgd.dispose();
        for (const p of params) p.variable.dispose();
        return out;
      });
    });
  });

  describe('training', () => {
    // Two of the synthetic shapes (horizontal vs vertical bar) at 16 px: separable in a few dozen steps, which is
    // all a software adapter can afford here. Chance is 0.5.
    const dataset = twoShapes(makeSyntheticDataset({ train: 1280, val: 400, imageSize: 16, seed: 5 }), 256);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-webgpu-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const config: RunConfig = mergeRunConfig(DEFAULT_RUN_CONFIG, {
      ...TINY_WEBGPU_RUN,
    });
    const resolved = resolveRun(config, dataset.train.count, dataset.val.count);
    const learner = (position?: Position) => {
      const spec = resolved.config.net.arch;
      const model = new Model(buildGraph(spec, { imageSize: 16, numClasses: 2 }), config.seed);
      const sgd = new Sgd(model.params, resolved.config.opt);
      const l = new Learner(model, sgd, dataset, resolved, [], position);
      const epochs: EpochMetrics[] = [];
      l.callbacks.push({ onEpochEnd: (_l, m) => void epochs.push(m) });
      return { l, epochs };
    };
    const weights = async (l: Learner) =>
      Promise.all([...l.model.namedVariables().values()].map(async (v) => Float32Array.from(await v.data())));
    let straight: { epochs: EpochMetrics[]; weights: Float32Array[] };

    it('learns above chance in 2 epochs of a tiny synthetic run, with tf.memory flat', async () => {
      const { l, epochs } = learner();
      const counts: number[] = [];
      const steps: number[] = [];
      l.callbacks.push({ onEpochEnd: () => void counts.push(tf.memory().numTensors), onBatchEnd: (_l, m) => void steps.push(m.step) });
      expect(l.pipelined).toBe(true);
      expect(await l.fit()).toBe('finished');
      // Read back in groups, but every step reported once, in order.
      expect(steps).toEqual(Array.from({ length: 2 * resolved.stepsPerEpoch }, (_, i) => i + 1));
      expect(epochs.map((m) => m.epoch)).toEqual([1, 2]);
      expect(counts[1]).toBe(counts[0]);
      expect(epochs[1]!.trainLoss).toBeLessThan(epochs[0]!.trainLoss);
      expect(epochs[1]!.valAcc).toBeGreaterThan(0.7);
      straight = { epochs, weights: await weights(l) };
      l.model.dispose();
      l.sgd.dispose();
    });

    it('a run paused mid-epoch and resumed from its checkpoint matches its uninterrupted twin', async () => {
      expect(straight, 'needs the run of the previous test').toBeDefined();
      const first = learner();
      first.l.callbacks.push({ onBatchEnd: (l, m) => (m.step === 3 ? l.requestStop('pause') : undefined) });
      expect(await first.l.fit()).toBe('paused');
      const ckpt = path.join(dir, 'latest');
      await saveCheckpoint(ckpt, first.l.model, first.l.sgd, first.l.position);
      first.l.model.dispose();
      first.l.sgd.dispose();
      const meta = await readCheckpointMeta(ckpt);
      // Pipelined, steps already queued behind the one that asked for the pause (at most 9) are finished and
      // counted too; the pause still lands mid-epoch (16 steps).
      expect(meta.position.step, 'paused at').toBeGreaterThanOrEqual(3);
      expect(meta.position.step, 'paused at').toBeLessThan(resolved.stepsPerEpoch);
      expect(meta.position).toMatchObject({ epoch: 0, stepInEpoch: meta.position.step, seen: 16 * meta.position.step });

      const second = learner(meta.position);
      await loadCheckpoint(ckpt, second.l.model, second.l.sgd);
      expect(await second.l.fit()).toBe('finished');
      const got = [...first.epochs, ...second.epochs];
      expect(got.map((m) => [m.epoch, m.step])).toEqual(straight.epochs.map((m) => [m.epoch, m.step]));
      // Measured on Mesa 25 lavapipe: the same inputs give bit-identical results run to run, so the resumed
      // twin ends on exactly the same weights; metrics are compared to 1e-4 all the same.
      const end = await weights(second.l);
      for (let i = 0; i < end.length; i++) expect(end[i], `weight tensor ${i}`).toEqual(straight.weights[i]);
      for (let i = 0; i < got.length; i++) {
        for (const k of ['trainLoss', 'trainAcc', 'valLoss', 'valAcc'] as const) {
          expect(Math.abs(got[i]![k] - straight.epochs[i]![k]), `epoch ${i + 1} ${k}`).toBeLessThanOrEqual(
            1e-4 * Math.max(1, Math.abs(straight.epochs[i]![k])),
          );
        }
      }
      second.l.model.dispose();
      second.l.sgd.dispose();
    });
  });
});
