import * as tf from '@tensorflow/tfjs-core';
import type { ArchSpec } from '../arch/arch-spec.ts';
import { buildGraph } from '../arch/graph.ts';
import { Model } from '../model/model.ts';
import { Rng } from '../util/rng.ts';
import { smoothedCrossEntropy } from './loss.ts';
import { Sgd } from './sgd.ts';

export interface ThroughputOptions {
  batch: number;
  /** Timed training steps (after `warmup` untimed ones). */
  steps: number;
  warmup: number;
  /** Timed inference batches. */
  inferSteps: number;
  imageSize?: number;
  numClasses?: number;
}

export interface ThroughputResult {
  trainImagesPerSec: number;
  inferImagesPerSec: number;
  /** Median seconds of one training step. */
  trainStepSeconds: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Images per second of full SGD steps (forward, loss, backward, update) and of inference on random
 * data, as the PyTorch reference in bench/torch measures them: median step time after a warm-up.
 */
export async function measureThroughput(spec: ArchSpec, opts: ThroughputOptions): Promise<ThroughputResult> {
  const size = opts.imageSize ?? 32;
  const k = opts.numClasses ?? 10;
  const model = new Model(buildGraph(spec, { imageSize: size, numClasses: k }), 0);
  const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: false });
  const rng = new Rng(0);
  const x = tf.tensor4d(Float32Array.from({ length: opts.batch * size * size * 3 }, () => rng.normal()), [opts.batch, size, size, 3]);
  const y = tf.tensor1d(Int32Array.from({ length: opts.batch }, () => rng.int(k)), 'int32');
  const vars = model.params.map((p) => p.variable);
  const step = async () => {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => smoothedCrossEntropy(model.forward(x, true), y, 0.2), vars);
      sgd.step(grads, 0.01, 0.9);
      return value;
    });
    await loss.data();
    loss.dispose();
  };
  const infer = async () => {
    const out = tf.tidy(() => model.forward(x, false));
    await out.data();
    out.dispose();
  };
  const time = async (fn: () => Promise<void>) => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  try {
    for (let i = 0; i < opts.warmup; i++) await step();
    const trainTimes: number[] = [];
    for (let i = 0; i < opts.steps; i++) trainTimes.push(await time(step));
    await infer();
    const inferTimes: number[] = [];
    for (let i = 0; i < opts.inferSteps; i++) inferTimes.push(await time(infer));
    const trainStepSeconds = median(trainTimes);
    return { trainImagesPerSec: opts.batch / trainStepSeconds, inferImagesPerSec: opts.batch / median(inferTimes), trainStepSeconds };
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
    sgd.dispose();
  }
}
