import * as tf from '@tensorflow/tfjs-core';
import type { ArchSpec } from '../../../src-shared/arch-spec.ts';
import { buildGraph, summarize } from '../arch/graph.ts';
import { Model } from '../model/model.ts';
import { Rng } from '../util/rng.ts';
import { trainStep } from './train-step.ts';
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
  /** Most images per forward/backward pass, as a real run on this backend would use (see trainStep). */
  microBatch?: number;
  /** Also time one extra step kernel by kernel (tf.profile). */
  profile?: boolean;
}

/** One kernel's share of a profiled training step. */
export interface KernelCost {
  kernel: string;
  ms: number;
  calls: number;
}

export interface ThroughputResult {
  trainImagesPerSec: number;
  inferImagesPerSec: number;
  /** Median seconds of one training step. */
  trainStepSeconds: number;
  /** Forward FLOPs of one image, from the architecture (a multiply-add counts as two). */
  forwardFlopsPerImage: number;
  /** Achieved training GFLOP/s, counting a step as 3× the forward FLOPs (forward, input and weight gradients). */
  trainGflops: number;
  /**
   * CPU seconds (all of this process's threads) per training step, averaged over the timed steps. On a shared machine
   * wall time also measures the neighbours; images per CPU-second is what the work itself cost.
   */
  trainCpuSecondsPerStep: number;
  /** Kernels of one profiled step, most expensive first, when `profile` was asked for. */
  profile?: KernelCost[];
}

/** Per-kernel wall time of one call of `fn`, summed by kernel name, most expensive first. */
export async function profileKernels(fn: () => Promise<void>): Promise<KernelCost[]> {
  const info = await tf.profile(fn);
  const byKernel = new Map<string, KernelCost>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byKernel.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    byKernel.set(k.name, e);
  }
  return [...byKernel.values()].sort((a, b) => b.ms - a.ms);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Images per second of full SGD steps (forward, loss, backward, update) and of inference on random
 * data, as the PyTorch reference in bench/torch measures them: median step time after a warm-up.
 */
export async function measureThroughput(spec: ArchSpec, opts: ThroughputOptions): Promise<ThroughputResult> {
  const size = opts.imageSize ?? 32;
  const k = opts.numClasses ?? 10;
  const graph = buildGraph(spec, { imageSize: size, numClasses: k });
  const forwardFlopsPerImage = summarize(graph).flopsPerImage;
  const model = new Model(graph, 0);
  const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: false });
  const rng = new Rng(0);
  const x = tf.tensor4d(
    Float32Array.from({ length: opts.batch * size * size * 3 }, () => rng.normal()),
    [opts.batch, size, size, 3],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: opts.batch }, () => rng.int(k)),
    'int32',
  );
  const step = async () => {
    const stats = trainStep(model, sgd, x, y, {
      lr: 0.01,
      momentum: 0.9,
      labelSmoothing: 0.2,
      dropoutSeed: 0,
      microBatch: opts.microBatch,
    });
    await stats.data();
    stats.dispose();
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
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < opts.steps; i++) trainTimes.push(await time(step));
    const cpu = process.cpuUsage(cpu0);
    await infer();
    const inferTimes: number[] = [];
    for (let i = 0; i < opts.inferSteps; i++) inferTimes.push(await time(infer));
    const trainStepSeconds = median(trainTimes);
    const profile = opts.profile ? await profileKernels(step) : undefined;
    return {
      trainImagesPerSec: opts.batch / trainStepSeconds,
      inferImagesPerSec: opts.batch / median(inferTimes),
      trainStepSeconds,
      trainCpuSecondsPerStep: (cpu.user + cpu.system) / 1e6 / opts.steps,
      forwardFlopsPerImage,
      trainGflops: (3 * forwardFlopsPerImage * opts.batch) / trainStepSeconds / 1e9,
      ...(profile ? { profile } : {}),
    };
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
    sgd.dispose();
  }
}
