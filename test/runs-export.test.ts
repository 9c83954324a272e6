import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBackend } from '../src-main/engine/backend/load-backend.ts';
import { assembleEvalBatch, normalisationTable } from '../src-main/engine/data/batches.ts';
import { makeSyntheticDataset, SYNTHETIC_CLASSES } from '../src-main/engine/data/synthetic.ts';
import { decodeImage } from '../src-main/datasets/decode-image.ts';
import { loadExport } from '../src-main/training/export-run.ts';
import { loadRunModel } from '../src-main/training/run-model.ts';
import { RunStore } from '../src-main/runs/run-store.ts';
import type { RunRecord } from '../src-shared/run-types.ts';
import { tempHome } from './fixtures/runs-fixtures.ts';
import { kiln, PROCESS_TEST_TIMEOUT, runIdOf, tinyTrainArgs, writeTinySpec } from './fixtures/kiln-process.ts';

/** A run trained by a real `kiln train`, evaluated, exported, and used to classify PNG files. */

vi.setConfig({ testTimeout: PROCESS_TEST_TIMEOUT, hookTimeout: PROCESS_TEST_TIMEOUT });

let home: string;
let store: RunStore;
let id: string;
let record: RunRecord;
let exportDir: string;
const VAL = 64;

beforeAll(async () => {
  home = tempHome();
  store = new RunStore(home);
  const train = await kiln(tinyTrainArgs(home, writeTinySpec(home), ['--json']));
  expect(train.code).toBe(0);
  id = runIdOf(train.stdout);
  record = await store.get(id);
  exportDir = path.join(home, 'exported');
  await loadBackend('cpu');
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('evaluation', () => {
  it("was written when the run finished, and kiln runs eval reproduces the run's own accuracies", async () => {
    const saved = JSON.parse(fs.readFileSync(path.join(store.evalDir(id), 'evaluation.json'), 'utf8'));
    const { code, stdout } = await kiln(['runs', 'eval', id, '--json', '--home', home]);
    expect(code).toBe(0);
    const e = JSON.parse(stdout);
    expect(e.confusion).toEqual(saved.confusion);
    expect(e).toMatchObject({
      runId: id,
      checkpoint: 'best',
      epoch: record.best!.epoch,
      count: VAL,
      tta: true,
      classes: SYNTHETIC_CLASSES,
    });
    // The best checkpoint's accuracies, as the trainer measured them at that epoch.
    expect(e.accuracy).toBe(record.best!.valAcc);
    expect(e.ttaAccuracy).toBe(record.best!.ttaAcc);
    const k = SYNTHETIC_CLASSES.length;
    for (const m of [e.confusion, e.ttaConfusion]) {
      expect(m).toHaveLength(k);
      expect(m.flat().reduce((a: number, b: number) => a + b, 0)).toBe(VAL);
    }
    const labels = makeSyntheticDataset().val.labels.subarray(0, VAL);
    e.confusion.forEach((row: number[], c: number) => {
      expect(row.reduce((a, b) => a + b, 0)).toBe(labels.filter((l) => l === c).length);
      const total = row.reduce((a, b) => a + b, 0);
      expect(e.perClass[c].accuracy).toBeCloseTo(total ? row[c]! / total : 0, 12);
    });
    const plain = e.mistakes.filter((m: { tta: boolean }) => !m.tta);
    const wrong = VAL - e.confusion.reduce((s: number, row: number[], c: number) => s + row[c]!, 0);
    expect(plain).toHaveLength(Math.min(20, wrong));
    for (const m of plain) {
      expect(m.trueClass).toBe(labels[m.index]);
      expect(m.predicted).not.toBe(m.trueClass);
    }
    const conf = plain.map((m: { confidence: number }) => m.confidence);
    expect(conf).toEqual([...conf].sort((a, b) => b - a));

    // On demand from the last checkpoint: the final epoch's numbers; --out keeps a copy where asked.
    const outFile = path.join(home, 'latest-eval.json');
    const latest = JSON.parse(
      (await kiln(['runs', 'eval', id, '--checkpoint', 'latest', '--json', '--out', outFile, '--home', home])).stdout,
    );
    expect(latest.accuracy).toBe(record.final!.valAcc);
    expect(JSON.parse(fs.readFileSync(outFile, 'utf8'))).toEqual(latest);
  });
});

describe('export and predict', () => {
  it('exports a tfjs layers model whose logits match the engine model to 1e-4, with kiln.json', async () => {
    const { code, stdout, stderr } = await kiln(['export', id, '--out', exportDir, '--json', '--home', home]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).files.map((f: string) => path.basename(f))).toEqual(['model.json', 'weights.bin', 'kiln.json']);
    const modelJson = JSON.parse(fs.readFileSync(path.join(exportDir, 'model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    const classNames = new Set(modelJson.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name));
    expect([...classNames].sort()).toEqual([
      'Activation',
      'Add',
      'BatchNormalization',
      'Conv2D',
      'Dense',
      'GlobalMaxPooling2D',
      'InputLayer',
      'MaxPooling2D',
    ]);

    const dataset = makeSyntheticDataset();
    const { model, kiln: info } = await loadExport(exportDir);
    expect(info).toMatchObject({
      runId: id,
      checkpoint: 'best',
      classes: dataset.classes,
      imageSize: 32,
      fit: 'crop',
      mean: dataset.mean,
      std: dataset.std,
      valAcc: record.best!.valAcc,
    });
    expect(info.arch).toEqual(record.resolved.config.net.arch);

    const engine = await loadRunModel(home, id, { checkpoint: 'best', dataset });
    const n = 48;
    const x = new Float32Array(n * 32 * 32 * 3);
    assembleEvalBatch(dataset.val, 32, 0, n, normalisationTable(dataset.mean, dataset.std), x, new Int32Array(n));
    const [a, b] = tf.tidy(() => {
      const input = tf.tensor4d(x, [n, 32, 32, 3]);
      return [engine.model.forward(input, false), model.predict(input) as tf.Tensor];
    });
    const la = (await a!.data()) as Float32Array;
    const lb = (await b!.data()) as Float32Array;
    let worst = 0;
    let scale = 0;
    la.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - lb[i]!));
      scale = Math.max(scale, Math.abs(v));
    });
    expect(scale).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));
    tf.dispose([a!, b!]);
    engine.dispose();
    model.dispose();
  });

  it("predicts PNG files of the validation images with the run's validation accuracy", async () => {
    const dataset = makeSyntheticDataset();
    const dir = path.join(home, 'val-png');
    const per = 32 * 32 * 3;
    for (let i = 0; i < VAL; i++) {
      const cls = dataset.classes[dataset.val.labels[i]!]!;
      fs.mkdirSync(path.join(dir, cls), { recursive: true });
      const raw = dataset.val.images.subarray(i * per, (i + 1) * per);
      await sharp(Buffer.from(raw), { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(path.join(dir, cls, `val-${i}.png`));
    }
    // The importer's decode gives back the stored pixels exactly.
    const first = dataset.classes[dataset.val.labels[0]!]!;
    expect(Buffer.from(await decodeImage(path.join(dir, first, 'val-0.png'), { size: 32, fit: 'crop' }))).toEqual(
      Buffer.from(dataset.val.images.subarray(0, per)),
    );

    const { code, stdout, stderr } = await kiln(['predict', exportDir, dir, '--top', '3', '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.failures).toEqual([]);
    expect(out.predictions).toHaveLength(VAL);
    let correct = 0;
    for (const p of out.predictions) {
      expect(p.top).toHaveLength(3);
      expect(p.top[0].probability).toBeGreaterThanOrEqual(p.top[1].probability);
      const truth = path.basename(path.dirname(p.file));
      if (p.top[0].className === truth) correct++;
    }
    // Exactly the accuracy the run measured on these images at the exported (best) epoch.
    expect(correct / VAL).toBe(record.best!.valAcc);

    // The folder's images sit in class folders: the summary counts predictions per class and has the accuracy.
    expect(out.summary).toMatchObject({ images: VAL, failed: 0, labelled: VAL, correct });
    expect(out.summary.predicted.reduce((a: number, c: { count: number }) => a + c.count, 0)).toBe(VAL);
    for (const c of out.summary.predicted)
      expect(c.count).toBe(out.predictions.filter((p: { top: { className: string }[] }) => p.top[0].className === c.className).length);

    // The run id works as the model too, with the same answer; text output names each file as given.
    const one = path.join(dir, first, 'val-0.png');
    const byRun = await kiln(['predict', id, one, '--home', home, '--top', '2']);
    expect(byRun.code).toBe(0);
    const expected = out.predictions.find((p: { file: string }) => p.file === one).top.slice(0, 2);
    expect(byRun.stdout.trim()).toBe(
      `${one}  ${expected.map((t: { className: string; probability: number }) => `${t.className} ${(t.probability * 100).toFixed(1)}%`).join(', ')}`,
    );
    // A folder in text: one line an image, then the per-class table and the accuracy line.
    const text = await kiln(['predict', exportDir, dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^PREDICTED\s+IMAGES$/m);
    expect(text.stdout).toContain(`${VAL} image(s) in `);
    expect(text.stdout).toContain(`accuracy ${((100 * correct) / VAL).toFixed(2)}% on the ${VAL} in class folders`);
  });

  it('reports bad input in one line', async () => {
    const missing = await kiln(['predict', exportDir, path.join(home, 'nope.png')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`kiln: ${path.join(home, 'nope.png')}: no such file or folder`);
    const notExport = await kiln(['predict', home, path.join(home, 'val-png'), '--home', home]);
    expect(notExport.code).toBe(1);
    expect(notExport.stderr.trim()).toBe(`kiln: ${home}: has no kiln.json; expected a folder written by kiln export, or a run id`);
    const usage = await kiln(['export', id]);
    expect(usage.code).toBe(2);
  });

  it('refuses an ONNX export into a folder holding a TensorFlow.js one (one format, one kiln.json per folder)', async () => {
    const before = fs.readFileSync(path.join(exportDir, 'kiln.json'), 'utf8');
    const mixed = await kiln(['export', id, '--out', exportDir, '--format', 'onnx', '--home', home]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr.trim()).toBe(
      `kiln: ${exportDir} already holds a TensorFlow.js export (model.json, weights.bin); export ONNX into another folder, e.g. ${exportDir}-onnx, so each keeps its own kiln.json`,
    );
    expect(fs.readdirSync(exportDir).sort()).toEqual(['kiln.json', 'model.json', 'weights.bin']);
    expect(fs.readFileSync(path.join(exportDir, 'kiln.json'), 'utf8')).toBe(before);
  });
});
