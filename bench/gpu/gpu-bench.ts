/**
 * Training throughput of the resnet-9 and wrn-22 presets on WebGPU at batch 512, through Kiln's own training
 * loop (Learner: batch assembly with crop + flip, forward, backward, SGD), on random CIFAR-shaped images.
 * Prints images/s, the projected wall time of each preset's recipe on CIFAR-10 (epochs × 50,000 / rate) and
 * the adapter. `run.sh` runs the esbuild bundle of this file on a bare GPU machine; here:
 *
 *   npx tsx bench/gpu/gpu-bench.ts
 *
 * Environment: KILN_GPU_BENCH_STEPS="warm,timed" (default 2,5), KILN_GPU_BENCH_BATCH (default 512),
 * KILN_GPU_BENCH_MODELS (default resnet-9,wrn-22), KILN_GPU_BENCH_BUDGET_S (whole run, default 420),
 * KILN_GPU_BENCH_ALLOW_SOFTWARE=1 to measure a software adapter (how the script is tried without a GPU),
 * OUT: a folder whose gpu-bench.txt the report is appended to.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../../src-main/engine/backend/load-backend.ts';
import { buildGraph } from '../../src-main/engine/arch/graph.ts';
import { findPreset } from '../../src-main/engine/arch/presets.ts';
import { Model } from '../../src-main/engine/model/model.ts';
import { Learner } from '../../src-main/engine/train/learner.ts';
import { Sgd } from '../../src-main/engine/train/sgd.ts';
import { resolveRun } from '../../src-main/training/resolve-config.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig } from '../../src-shared/run-config.ts';
import type { LoadedDataset } from '../../src-main/common/dataset-types.ts';

const CIFAR_TRAIN = 50_000;
const started = performance.now();

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (!v) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}
const [warm, timed] = (process.env.KILN_GPU_BENCH_STEPS ?? '2,5').split(',').map(Number) as [number, number];
if (!Number.isInteger(warm) || !Number.isInteger(timed) || warm < 1 || timed < 1) {
  throw new Error(`KILN_GPU_BENCH_STEPS must be "warm,timed" with both ≥ 1, got "${process.env.KILN_GPU_BENCH_STEPS}"`);
}
const batch = envInt('KILN_GPU_BENCH_BATCH', 512);
const budgetS = envInt('KILN_GPU_BENCH_BUDGET_S', 420);
const models = (process.env.KILN_GPU_BENCH_MODELS ?? 'resnet-9,wrn-22').split(',');

const report = process.env.OUT ? path.join(process.env.OUT, 'gpu-bench.txt') : null;
function say(line: string): void {
  console.log(line);
  if (report) fs.appendFileSync(report, `${line}\n`);
}

// A step that never returns cannot be interrupted from inside the loop: end the process with what was measured.
let current = '';
const watchdog = setTimeout(() => {
  say(
    `${current || 'gpu-bench'}: still running at the ${budgetS} s budget (KILN_GPU_BENCH_BUDGET_S): stopped, no rate measured; results above are complete`,
  );
  process.exit(3);
}, budgetS * 1000);
watchdog.unref();

/** Random CIFAR-shaped images: the step costs the same whatever the pixels are. */
function randomDataset(count: number): LoadedDataset {
  const images = new Uint8Array(count * 32 * 32 * 3);
  let s = 12345;
  for (let i = 0; i < images.length; i++) images[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return {
    id: 'gpu-bench',
    name: 'random 32×32',
    imageSize: 32,
    classes: Array.from({ length: 10 }, (_, i) => `c${i}`),
    mean: [0.49, 0.48, 0.45],
    std: [0.25, 0.24, 0.26],
    train: { count, images, labels },
    val: { count: 0, images: new Uint8Array(0), labels: new Uint8Array(0) },
    manifestHash: 'none',
  };
}

/** Waits until the device has finished all work queued so far. */
async function sync(model: Model): Promise<void> {
  await model.params[0]!.variable.data();
}

function formatDuration(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

async function benchModel(id: string, shareS: number): Promise<void> {
  current = id;
  const preset = findPreset(id);
  if (!preset) throw new Error(`unknown preset "${id}" in KILN_GPU_BENCH_MODELS`);
  const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
    net: { arch: id },
    opt: { epochs: 1, batchSize: batch },
    aug: { tta: false },
    backend: 'webgpu',
  });
  const model = new Model(buildGraph(preset.spec, { imageSize: 32, numClasses: 10 }), 0);
  const t0 = performance.now();
  const state = { over: false };
  // One Learner per phase (an epoch of exactly `steps` batches), both training the same model: the loop reads
  // results a step behind the device, so a callback's moment says nothing about when a step finished. Each phase
  // ends with a sync; the timed phase is what lies between two syncs.
  let sgd: Sgd | undefined;
  const phase = async (steps: number): Promise<number> => {
    const dataset = randomDataset(steps * batch);
    const resolved = resolveRun(config, dataset.train.count, 0);
    sgd ??= new Sgd(model.params, resolved.config.opt);
    const learner = new Learner(model, sgd, dataset, resolved, [
      {
        onBatchEnd: (l, m) => {
          if ((performance.now() - t0) / 1000 > shareS && m.step < steps) {
            state.over = true;
            l.requestStop('stop');
          }
        },
        beforeValidate: () => false,
      },
    ]);
    await learner.fit();
    await sync(model);
    return learner.position.step || steps;
  };
  await phase(1);
  const firstStepS = (performance.now() - t0) / 1000;
  if (warm > 1 && !state.over) await phase(warm - 1);
  const timedFrom = performance.now();
  const done = state.over ? 0 : await phase(timed);
  const end = performance.now();
  const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  model.dispose();
  sgd?.dispose();
  if (state.over) {
    say(
      `${id}: over its ${shareS.toFixed(0)} s share (first step ${firstStepS.toFixed(1)} s, compile included)` +
        (done > 0
          ? `; ${done} timed steps took ${((end - timedFrom) / 1000).toFixed(1)} s, ${((done * batch * 1000) / (end - timedFrom)).toPrecision(3)} images/s`
          : '; no rate measured'),
    );
    return;
  }
  const seconds = (end - timedFrom) / 1000;
  const rate = (timed * batch) / seconds;
  const epochs = preset.recipe.opt.epochs;
  const r = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  say(
    `${id}: ${r(rate)} images/s training at batch ${batch} (${((1000 * seconds) / timed).toFixed(1)} ms/step over ${timed} steps; ` +
      `first step ${firstStepS.toFixed(1)} s with shader compilation)`,
  );
  say(
    `${id}: preset recipe ${epochs} epochs × ${CIFAR_TRAIN.toLocaleString('en')} images / ${r(rate)} images/s → ` +
      `${formatDuration((epochs * CIFAR_TRAIN) / rate)} projected training time on CIFAR-10 (evaluation not included)` +
      (memory.numBytesInGPU && memory.numBytesInGPU > 2 ** 26
        ? `; ${(memory.numBytesInGPU / 2 ** 30).toFixed(1)} GiB in GPU buffers at the end`
        : ''),
  );
}

async function main(): Promise<void> {
  const allowSoftware = Boolean(process.env.KILN_GPU_BENCH_ALLOW_SOFTWARE);
  const info = await loadBackend('webgpu');
  const a = info.adapter!;
  say(
    `Kiln GPU benchmark: WebGPU (Dawn), batch ${batch}, ${warm} warm-up + ${timed} timed steps per model; Node ${process.version}, tfjs ${tf.version_core}, ${os.cpus().length} CPUs`,
  );
  say(
    `adapter: ${a.description || '(no description)'}; vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}${a.software ? ' [SOFTWARE adapter]' : ''}`,
  );
  if (a.software && !allowSoftware) {
    say(
      'gpu-bench: only a software adapter was found (no GPU Vulkan driver reached Dawn); set KILN_GPU_BENCH_ALLOW_SOFTWARE=1 to measure it anyway',
    );
    process.exitCode = 2;
    return;
  }
  for (let i = 0; i < models.length; i++) {
    const left = budgetS - (performance.now() - started) / 1000;
    // Each model gets an equal share of what is left.
    await benchModel(models[i]!, left / (models.length - i));
  }
  say(`gpu-bench: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

try {
  await main();
} catch (err) {
  say(`gpu-bench: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
