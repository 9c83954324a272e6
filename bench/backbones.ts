/**
 * The pretrained backbones on this machine (issue 20, item 7): for each backbone at 128/160/224 px, the frozen
 * feature pass's images/s on wasm (inference, the fast mode's one pass over the images) beside PyTorch's forward
 * on the same machine, batch and threads (bench/torch/backbones.py, run with /usr/bin/python3 when Debian's
 * python3-torch is there); the head's training time on cached features (a few hundred photos, the fast mode's
 * auto schedule); and a fine-tune step's images/s (forward, backward, SGD) on both. Random weights: speed does
 * not depend on them. Never part of `npm test`.
 *
 *   npx tsx bench/backbones.ts [--sizes 128,160,224] [--batch 16] [--batches 3] [--train-batches 2] [--archs resnet18,resnet50,mobilenetv2] [--json]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { buildGraph } from '../src-main/engine/arch/graph.ts';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { findBackbone } from '../src-main/engine/backbones/registry.ts';
import { Model } from '../src-main/engine/model/model.ts';
import { headNode } from '../src-main/engine/train/fine-tune.ts';
import { fitHead, type FeatureSplit } from '../src-main/engine/train/head-fit.ts';
import { Sgd } from '../src-main/engine/train/sgd.ts';
import { trainStep } from '../src-main/engine/train/train-step.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const sizes = arg('sizes', '128,160,224').split(',').map(Number);
const batch = Number(arg('batch', '16'));
const batches = Number(arg('batches', '3'));
const trainBatches = Number(arg('train-batches', '2'));
const archs = arg('archs', 'resnet18,resnet50,mobilenetv2').split(',');
const json = process.argv.includes('--json');
const threads = Number(process.env.KILN_WASM_THREADS ?? 2);
process.env.KILN_WASM_THREADS = String(threads);

const info = await loadBackend('wasm');
const log = (s: string) => !json && console.log(s);
log(`wasm on ${info.device}; batch ${batch}, ${batches} forward and ${trainBatches} training batches after one warm-up each`);

/** PyTorch's numbers, keyed `arch@size`, or none when it is not installed. */
function torchRates(): Map<string, { forward: number; train: number }> {
  const script = path.join(import.meta.dirname, 'torch', 'backbones.py');
  const r = spawnSync(
    '/usr/bin/python3',
    [
      script,
      '--sizes',
      sizes.join(','),
      '--batch',
      String(batch),
      '--threads',
      String(threads),
      '--batches',
      String(batches),
      '--train-batches',
      String(trainBatches),
      '--archs',
      archs.join(','),
    ],
    { encoding: 'utf8' },
  );
  const out = new Map<string, { forward: number; train: number }>();
  if (r.status !== 0) {
    log(`PyTorch reference not run: ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}`);
    return out;
  }
  for (const line of r.stdout.trim().split('\n')) {
    const o = JSON.parse(line) as { arch: string; size: number; forward: number; train: number };
    out.set(`${o.arch}@${o.size}`, o);
  }
  return out;
}

async function timed(fn: () => Promise<void>, n: number): Promise<number> {
  await fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t) / 1000;
}

const rows: Record<string, unknown>[] = [];
// --heads-only: just the fast mode's head times (no backbone passes).
for (const name of process.argv.includes('--heads-only') ? [] : archs) {
  const backbone = findBackbone(name);
  if (!backbone) throw new Error(`unknown backbone ${name}`);
  for (const size of sizes) {
    const graph = buildGraph(backbone.spec, { imageSize: size, numClasses: 10 });
    const model = new Model(graph, 0);
    const head = graph.nodes.find((n) => n.name === headNode(graph))!;
    const featureNode = head.op === 'dense' ? head.input : graph.output;
    const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
    const y = tf.tensor1d(
      Array.from({ length: batch }, (_, i) => i % 10),
      'int32',
    );
    const fwdSecs = await timed(async () => {
      const f = tf.tidy(() => model.forward(x, false, 0, featureNode));
      await f.data();
      f.dispose();
    }, batches);
    const sgd = new Sgd(model.params, { nesterov: true, weightDecay: 5e-4, wdExcludeBnBias: false });
    // --train-batches 0 skips the fine-tune step (MobileNetV2 at 224 px, batch 8, aborted wasm here).
    const stepSecs =
      trainBatches > 0
        ? await timed(async () => {
            const s = trainStep(model, sgd, x, y, { lr: 0.01, momentum: 0.9, labelSmoothing: 0.1, dropoutSeed: 0 });
            await s.data();
            s.dispose();
          }, trainBatches)
        : NaN;
    tf.dispose([x, y]);
    sgd.dispose();
    model.dispose();
    rows.push({ arch: name, size, featuresPerSec: (batch * batches) / fwdSecs, trainPerSec: (batch * trainBatches) / stepSecs });
    log(
      `${name} @ ${size}: features ${((batch * batches) / fwdSecs).toFixed(2)} img/s, fine-tune step ${((batch * trainBatches) / stepSecs).toFixed(2)} img/s`,
    );
  }
}

// The fast mode's head on a few hundred photos' features: 300 images, flips as a second view, its auto schedule
// (batch 16, 40 epochs: ≥ 600 steps), for each backbone's feature width.
const heads: Record<string, number> = {};
for (const name of archs) {
  const graph = buildGraph(findBackbone(name)!.spec, { imageSize: 224, numClasses: 2 });
  const head = graph.nodes.find((n) => n.name === headNode(graph))!;
  const dim = graph.layers.find((l) => l.name === (head.op === 'dense' ? head.input : ''))!.outputShape.at(-1)!;
  const split = (count: number): FeatureSplit => ({
    count,
    views: 2,
    dim,
    data: Float32Array.from({ length: count * 2 * dim }, (_, i) => ((i * 2654435761) % 1000) / 1000),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 2),
  });
  const started = performance.now();
  await fitHead(split(300), split(100), {
    classes: 2,
    epochs: 40,
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
      lrMax: 0.05,
      warmupFraction: 0.25,
      startDiv: 20,
      finalDiv: 1000,
      momentumMax: 0.95,
      momentumMin: 0.85,
    },
    kernel: new Float32Array(dim * 2),
    bias: new Float32Array(2),
  });
  heads[name] = (performance.now() - started) / 1000;
  log(`${name}: head on 300 images' ${dim} features, 40 epochs: ${heads[name]!.toFixed(2)} s`);
}

const torch = rows.length ? torchRates() : new Map<string, { forward: number; train: number }>();
const fmt = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
const table = [
  '| backbone | px | wasm features img/s | PyTorch forward img/s | ratio | wasm fine-tune step img/s | PyTorch train step img/s | ratio | head, 300 images (s) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => {
    const t = torch.get(`${r.arch}@${r.size}`);
    const f = r.featuresPerSec as number;
    const s = r.trainPerSec as number;
    return `| ${r.arch} | ${r.size} | ${fmt(f)} | ${fmt(t?.forward)} | ${t ? (f / t.forward).toFixed(2) : '–'} | ${fmt(s)} | ${fmt(t?.train)} | ${t ? (s / t.train).toFixed(2) : '–'} | ${heads[r.arch as string]!.toFixed(1)} |`;
  }),
];
if (json)
  console.log(
    JSON.stringify({
      device: info.device,
      threads,
      batch,
      rows: rows.map((r) => ({ ...r, torch: torch.get(`${r.arch}@${r.size}`) ?? null, headSeconds: heads[r.arch as string] })),
    }),
  );
else console.log(`\n${table.join('\n')}`);
