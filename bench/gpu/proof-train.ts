/**
 * The real-GPU proof's training half: ResNet-9 on CIFAR-10 with its full recipe (the resnet-9 preset: Page's
 * DAWNBench recipe, 24 epochs, batch 512, TTA) on WebGPU, in this process (no tsx, no fork: bundled into
 * bench/gpu/carry/proof-train.mjs by prepare.sh for a bare GPU machine). Prints wall time, images/s and the test
 * accuracy with TTA, one `proof:` line each, and a JSON line. Outside Electron WebGPU is Dawn for Node, the same
 * Dawn Chromium runs behind its GPU process.
 *   node proof-train.mjs --data cifar-10-binary.tar.gz [--smoke] [--backend webgpu|wasm|…] [--epochs N]
 * --smoke: ResNet-9 at quarter width, 128 training and 128 test images, one epoch at batch 32, on any adapter (a software one too): checks
 * the path end to end, in seconds, on a machine without a GPU.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DatasetStore } from '../../src-main/datasets/dataset-store.ts';
import { downloadCifar10 } from '../../src-main/datasets/download-cifar10.ts';
import { createRun } from '../../src-main/training/create-run.ts';
import { runTrainingSession } from '../../src-main/training/train-session.ts';
import { RunStore } from '../../src-main/runs/run-store.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfig } from '../../src-shared/run-config.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'webgpu' },
    epochs: { type: 'string' },
    home: { type: 'string' },
  },
});
const say = (line: string) => console.log(`proof: ${line}`);
if (!values.data || !fs.existsSync(values.data)) {
  console.error(`proof-train: --data must name cifar-10-binary.tar.gz (got ${values.data ?? 'nothing'})`);
  process.exit(2);
}

const home = values.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-proof-'));
const started = performance.now();
// The shared copy is a rebuild of the official tarball (its README): it is checked against its own SHA-256.
const sha256 = crypto.createHash('sha256').update(fs.readFileSync(values.data)).digest('hex');
const store = new DatasetStore(home);
if (!(await store.has('cifar10'))) await downloadCifar10(store, { file: values.data, sha256 });
say(`CIFAR-10 imported in ${((performance.now() - started) / 1000).toFixed(1)} s into ${home}`);

const config: RunConfig = mergeRunConfig(DEFAULT_RUN_CONFIG, {
  data: { dataset: 'cifar10', ...(values.smoke ? { limitTrain: 128, limitVal: 128 } : {}) },
  // The smoke run takes the quarter-width preset: full ResNet-9 takes minutes a step on a software adapter.
  net: { arch: values.smoke ? 'resnet-9-s' : 'resnet-9' },
  backend: values.backend as RunConfig['backend'],
  ...(values.smoke ? { opt: { epochs: 1, batchSize: 32 } } : values.epochs ? { opt: { epochs: Number(values.epochs) } } : {}),
});
const run = await createRun(home, config, values.smoke ? 'proof (smoke)' : 'proof');
let lastLine = 0;
await runTrainingSession({
  home,
  runId: run.id,
  emit: (m) => {
    if (m.type === 'started') say(`training on ${m.backend.device} (${m.backend.name}), ${m.totalSteps} steps`);
    if (m.type === 'epoch')
      say(
        `epoch ${m.metrics.epoch}: train loss ${m.metrics.trainLoss.toFixed(3)}, val ${(m.metrics.valAcc * 100).toFixed(2)}%${m.metrics.ttaAcc !== undefined ? `, TTA ${(m.metrics.ttaAcc * 100).toFixed(2)}%` : ''}, ${m.metrics.imagesPerSec.toFixed(0)} images/s`,
      );
    if (m.type === 'progress' && performance.now() - lastLine > 15_000) {
      lastLine = performance.now();
      say(`step ${m.progress.step}/${m.progress.totalSteps}, ${m.progress.imagesPerSec.toFixed(0)} images/s`);
    }
  },
});
const record = await new RunStore(home).get(run.id);
const epochs = (await new RunStore(home).readMetrics(run.id)).epochs;
const trainSeconds = epochs.reduce((a, e) => a + e.seconds, 0);
const images = (record.resolved?.trainCount ?? 0) * epochs.length;
const result = {
  status: record.status,
  backend: record.backend,
  epochs: epochs.length,
  wallSeconds: record.wallSeconds,
  trainSeconds,
  imagesPerSec: trainSeconds > 0 ? images / trainSeconds : null,
  valAcc: record.final?.valAcc ?? null,
  ttaAcc: record.final?.ttaAcc ?? null,
};
say(`status ${result.status} on ${record.backend?.device}`);
say(
  `wall time ${result.wallSeconds.toFixed(1)} s (training ${trainSeconds.toFixed(1)} s), ${result.imagesPerSec?.toFixed(0) ?? '?'} images/s`,
);
say(
  `test accuracy ${result.valAcc === null ? '?' : (result.valAcc * 100).toFixed(2)}%, with TTA ${result.ttaAcc === null ? '?' : (result.ttaAcc * 100).toFixed(2)}%`,
);
console.log(JSON.stringify({ proof: result }));
process.exit(record.status === 'finished' ? 0 : 1);
