/**
 * How long the training loop's thread waits for the device per step, with and without the pipelined loop
 * (Learner.pipelined): the same steps of one preset on WebGPU, first reading every step's results as soon as it
 * is queued (the loop before), then pipelined. On Mesa's software adapter the "device" shares the CPU, so this
 * shows the loop's behaviour, not a GPU's speed.
 *
 *   npx tsx bench/step-wait.ts [--arch resnet-9-s] [--batch 32] [--steps 12]
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { buildGraph } from '../src-main/engine/arch/graph.ts';
import { findPreset } from '../src-main/engine/arch/presets.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { Learner } from '../src-main/engine/train/learner.ts';
import { Sgd } from '../src-main/engine/train/sgd.ts';
import { resolveRun } from '../src-main/training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../src-shared/run-config.ts';
import { makeSyntheticDataset } from '../src-main/engine/data/synthetic.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const arch = arg('arch', 'resnet-9-s');
const batch = Number(arg('batch', '32'));
const steps = Number(arg('steps', '12'));

const info = await loadBackend((process.env.KILN_BACKEND as 'webgpu') ?? 'webgpu');
console.log(`${arch}, batch ${batch}, ${steps} steps (+1 warm-up) on ${info.device}`);
const preset = findPreset(arch)!;
const dataset = makeSyntheticDataset({ train: (steps + 1) * batch, val: 0, imageSize: 32 });
const config = mergeRunConfig(DEFAULT_RUN_CONFIG, { net: { arch }, opt: { epochs: 1, batchSize: batch }, aug: { tta: false } });
const resolved = resolveRun(config, dataset.train.count, 0);

for (const pipelined of [false, true]) {
  const model = new Model(buildGraph(preset.spec, { imageSize: 32, numClasses: 10 }), 0);
  const sgd = new Sgd(model.params, resolved.config.opt);
  const learner = new Learner(model, sgd, dataset, resolved, [{ beforeValidate: () => false }]);
  learner.pipelined = pipelined;
  let waitMs = 0;
  let reads = 0;
  let t0 = 0;
  let idle0 = 0;
  let tensorsAfterWarmup = 0;
  const tensors: number[] = [];
  learner.onRead = (e) => {
    if (t0 === 0) return;
    waitMs += e.waitMs;
    reads++;
  };
  learner.callbacks.push({
    onBatchEnd: async (_l, m) => {
      if (m.step === 1) {
        await model.params[0]!.variable.data();
        t0 = performance.now();
        idle0 = learner.deviceIdleMs;
        tensorsAfterWarmup = tf.memory().numTensors;
      } else tensors.push(tf.memory().numTensors);
    },
  });
  await learner.fit();
  await model.params[0]!.variable.data();
  const wall = performance.now() - t0;
  console.log(
    `${pipelined ? 'after  (pipelined)' : 'before (read each)'}: ${(wall / steps).toFixed(0)} ms/step, thread waiting on reads ` +
      `${(waitMs / steps).toFixed(0)} ms/step, device idle waiting for this thread ${((learner.deviceIdleMs - idle0) / steps).toFixed(1)} ms/step ` +
      `(${((100 * (learner.deviceIdleMs - idle0)) / wall).toFixed(1)}% of the wall time), ${reads} reads for ${steps} steps; ` +
      `tf.memory().numTensors ${tensorsAfterWarmup} after warm-up, ${Math.min(...tensors)}–${Math.max(...tensors)} during`,
  );
  model.dispose();
  sgd.dispose();
}
