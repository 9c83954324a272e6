import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchSpec } from '../src-shared/arch-spec.ts';
import { DEFAULT_RUN_CONFIG, mergeRunConfig, type RunConfigPatch } from '../src-shared/run-config.ts';
import type { TrainerMessage } from '../src-shared/trainer-protocol.ts';
import { DatasetStore } from '../src-main/datasets/dataset-store.ts';
import { importFolder } from '../src-main/datasets/import-folder.ts';
import { readCheckpointTensors } from '../src-main/engine/train/checkpoint.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import { registerBackbone, runWeightsFile } from '../src-main/training/backbone-source.ts';
import { createRun } from '../src-main/training/create-run.ts';
import { readEvaluation } from '../src-main/training/evaluate-run.ts';
import { exportRun } from '../src-main/training/export-run.ts';
import { featureCachePaths } from '../src-main/training/feature-cache.ts';
import { Classifier } from '../src-main/training/predict.ts';
import { runTrainingSession } from '../src-main/training/train-session.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';

/**
 * Starting from a pretrained backbone, both ways, on a generated folder of photo-like images: a reduced-width
 * ResNet-18 with seeded random weights (test/fixtures/backbones, torchvision's names, read through the real
 * safetensors → Kiln mapping) stands in for ImageNet's. Fast: features once (cached), a head in seconds, learns
 * the folder; the run exports (backbone + head) and the export predicts what the run measured. Fine-tune: trains
 * and exports.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const MINI: ArchSpec = {
  kind: 'resnet',
  name: 'resnet18-mini',
  block: 'basic',
  blocks: [2, 2, 2, 2],
  widths: [4, 8, 16, 32],
  stemChannels: 4,
};
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'backbones', 'resnet18-mini.safetensors');
const SIZE = 48;
const CLASSES = ['moss', 'rust'];
const PER_CLASS = 36;

let home: string;
let folder: string;
let datasetId: string;

/** Seeded, so the folder is the same every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * 80×60 JPEGs: a lit, noisy background with a blob; "moss" is green-leaning, "rust" red-leaning, with lighting,
 * blob size and place drawn per image, so neither class is one colour.
 */
async function drawFolder(dir: string): Promise<void> {
  const rand = rng(11);
  for (const [c, name] of CLASSES.entries()) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      const W = 80;
      const H = 60;
      const px = Buffer.alloc(W * H * 3);
      const light = 0.6 + 0.6 * rand();
      const cx = 15 + rand() * 50;
      const cy = 10 + rand() * 40;
      const r = 8 + rand() * 14;
      const tint = c === 0 ? [70, 140, 60] : [150, 80, 50];
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
          for (let ch = 0; ch < 3; ch++) {
            const base = inside ? tint[ch]! * 1.3 : 110 + 0.3 * (tint[ch]! - 100);
            px[(y * W + x) * 3 + ch] = Math.max(0, Math.min(255, Math.round(base * light + (rand() - 0.5) * 70)));
          }
        }
      }
      await sharp(px, { raw: { width: W, height: H, channels: 3 } })
        .jpeg({ quality: 85 })
        .toFile(path.join(dir, name, `${String(i).padStart(3, '0')}.jpg`));
    }
  }
}

async function train(patch: RunConfigPatch): Promise<{ runId: string; messages: TrainerMessage[] }> {
  const config = mergeRunConfig(DEFAULT_RUN_CONFIG, {
    data: { dataset: datasetId },
    initFrom: 'imagenet:resnet18-mini',
    backend: 'wasm',
    ...patch,
  });
  const record = await createRun(home, config);
  const messages: TrainerMessage[] = [];
  const outcome = await runTrainingSession({ home, runId: record.id, emit: (m) => messages.push(m) });
  expect(outcome).toBe('finished');
  return { runId: record.id, messages };
}

beforeAll(async () => {
  home = tempHome();
  folder = path.join(home, 'photos');
  await drawFolder(folder);
  registerBackbone(
    {
      name: 'resnet18-mini',
      title: 'ResNet-18 at 1/16 width (test)',
      spec: MINI,
      preprocess: { inputSize: SIZE, cropPct: 1, interpolation: 'bilinear', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    },
    FIXTURE,
  );
  const s = await importFolder(new DatasetStore(home), { folder, valSplit: 0.25, forBackbone: { name: 'resnet18-mini', inputSize: SIZE } });
  expect(s).toMatchObject({ imageSize: SIZE, sizeChosen: 'backbone', bytes: (s.train + s.val) * SIZE * SIZE * 3 });
  datasetId = s.id;
});

afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
});

describe('starting from a pretrained backbone', () => {
  let fastRun: string;

  it('fast: frozen features with a progress bar, a head that learns the folder, the backbone untouched', async () => {
    const { runId, messages } = await train({ transfer: 'auto' });
    fastRun = runId;
    const store = new RunStore(home);
    const record = await store.get(runId);
    const backbone = record.resolved.config.backbone!;
    expect(backbone).toMatchObject({ name: 'resnet18-mini', mode: 'fast', verified: false, mean: [0.485, 0.456, 0.406] });
    expect(record.resolved.config.net.arch).toMatchObject({ kind: 'resnet', widths: [4, 8, 16, 32] });
    // The weights it started from are linked into the run's folder.
    expect(fs.statSync(runWeightsFile(store.runDir(runId), 'resnet18-mini')).size).toBe(fs.statSync(FIXTURE).size);

    const features = messages.flatMap((m) => (m.type === 'progress' && m.progress.features ? [m.progress.features] : []));
    expect(features[0]).toMatchObject({ done: 0, total: 72 });
    expect(features.at(-1)).toMatchObject({ done: 72, total: 72 });
    expect(messages.filter((m) => m.type === 'epoch').length).toBe(record.resolved.config.opt.epochs);
    // Learns the folder from frozen random-weight features.
    expect(record.best!.valAcc).toBeGreaterThanOrEqual(0.85);
    expect(record.status).toBe('finished');

    // Every body tensor in the checkpoint is the backbone's (frozen); the head is new.
    const { meta, values } = await readCheckpointTensors(path.join(store.checkpointDir(runId), 'best'));
    const conv = meta.tensors.find((t) => t.name === 'layer1/0/conv1/kernel')!;
    const { loadBackboneWeights } = await import('../src-main/engine/backbones/load-weights.ts');
    const { buildGraph } = await import('../src-main/engine/arch/graph.ts');
    const original = await loadBackboneWeights(FIXTURE, {}, buildGraph(MINI, { imageSize: SIZE, numClasses: 10 }));
    expect(Array.from(values(conv.name, conv.shape))).toEqual(Array.from(original.get('layer1/0/conv1/kernel')!.data));
    expect(meta.tensors.find((t) => t.name === 'fc/kernel')!.shape).toEqual([32, 2]);

    const evaluation = await readEvaluation(home, runId);
    expect(evaluation!.accuracy).toBeCloseTo(record.best!.valAcc, 5);
  });

  it('a second run reuses the cached features; turning flips off recomputes them', async () => {
    const again = await train({ transfer: 'fast', seed: 1, opt: { epochs: 10 } });
    expect(again.messages.some((m) => m.type === 'progress' && m.progress.features)).toBe(false);
    const manifest = await new DatasetStore(home).get(datasetId);
    const key = { datasetId, manifestHash: '', backbone: 'resnet18-mini', weightsSha256: '', imageSize: SIZE, augment: true };
    expect(fs.existsSync(featureCachePaths(new DatasetStore(home).dir(manifest.id), key).data)).toBe(true);
    const plain = await train({ transfer: 'fast', aug: { flip: false, tta: false }, opt: { epochs: 10 } });
    expect(plain.messages.some((m) => m.type === 'progress' && m.progress.features?.total === 72)).toBe(true);
  });

  it('the fast run exports as backbone + head (TensorFlow.js and ONNX) and predicts what its evaluation measured', async () => {
    const evaluation = (await readEvaluation(home, fastRun))!;
    const valFiles = (await new DatasetStore(home).sources(datasetId))!.val.map((rel) => path.join(folder, rel));
    for (const format of ['tfjs', 'onnx'] as const) {
      const out = path.join(home, `export-${format}`);
      const { kiln } = await exportRun(home, fastRun, out, { format });
      expect(kiln).toMatchObject({
        imageSize: SIZE,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        classes: CLASSES,
        arch: { kind: 'resnet' },
      });
      const classifier = await Classifier.open(home, out);
      try {
        const { predictions } = await classifier.predictFiles(valFiles, 1);
        const truth = valFiles.map((f) => CLASSES.indexOf(path.basename(path.dirname(f))));
        const acc = predictions.filter((p, i) => p.classIndex === truth[i]).length / valFiles.length;
        expect(acc, format).toBeCloseTo(evaluation.accuracy, 5);
      } finally {
        classifier.dispose();
      }
    }
  });

  it('fine-tune: the whole network trains (body at a tenth of the head’s rate) from the backbone’s weights, and exports', async () => {
    const { runId } = await train({ transfer: 'fine-tune', opt: { epochs: 2, batchSize: 16, freezeEpochs: 1 } });
    const store = new RunStore(home);
    const record = await store.get(runId);
    expect(record.resolved.config.backbone).toMatchObject({ mode: 'fine-tune', bodyLrScale: 0.1 });
    const { meta, values } = await readCheckpointTensors(path.join(store.checkpointDir(runId), 'latest'));
    const conv = meta.tensors.find((t) => t.name === 'layer1/0/conv1/kernel')!;
    const { loadBackboneWeights } = await import('../src-main/engine/backbones/load-weights.ts');
    const { buildGraph } = await import('../src-main/engine/arch/graph.ts');
    const original = await loadBackboneWeights(FIXTURE, {}, buildGraph(MINI, { imageSize: SIZE, numClasses: 10 }));
    const before = original.get('layer1/0/conv1/kernel')!.data;
    const after = values(conv.name, conv.shape);
    // Trained (epoch 2 unfrozen), and still close to where it started.
    expect(Array.from(after)).not.toEqual(Array.from(before));
    const drift = Math.sqrt(after.reduce((a, v, i) => a + (v - before[i]!) ** 2, 0) / before.reduce((a, v) => a + v * v, 0));
    expect(drift).toBeLessThan(0.5);
    const out = path.join(home, 'export-fine-tune');
    const { files } = await exportRun(home, runId, out, { format: 'onnx' });
    expect(fs.statSync(files[0]!).size).toBeGreaterThan(100_000);
  });
});
